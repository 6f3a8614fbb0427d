"""Finite-temperature branch of :func:`spinexplore.physics.solver.simulate` (``T > 0``)."""

from __future__ import annotations

import math

import numpy as np

from spinexplore.physics import _kernels, _thermal_kernels


def sample(model, lattice, preset, mode, seed_used, child, nbr, mats, clock, start=None):
    """Equilibrium sampling at ``model.T``: from ``start`` (or a random state annealed to T),
    equilibrate at T and take decorrelated snapshots.

    With an easy axis (``K < 0``) every Metropolis sweep is followed by a sweep of
    ``S_z -> -S_z`` reflections (:func:`~spinexplore.physics._thermal_kernels.reflect_sweep`),
    without which a strong easy axis freezes the sign of each spin.
    """
    from spinexplore.physics.solver import GroundState, _energy_scale, _random_spins, _rng_state

    N = lattice.N
    T = model.T
    if start is None:
        s = _random_spins(np.random.default_rng(child), N)
    else:
        s = np.array(start, dtype=np.float64, order="C")
    rng_state = _rng_state(child)
    reflect = model.K < 0
    sigma = 0.5

    def sweeps(temps, target, stage):
        nonlocal sigma
        chunk = 1 if reflect else 200
        for start in range(0, len(temps), chunk):
            part = temps[start:start + chunk]
            sigma, _ = _kernels.mc_sweeps(s, nbr, mats, model.K, model.h, part, sigma, rng_state,
                                          preset.n_over, target)
            if reflect:
                _thermal_kernels.reflect_sweep(s, nbr, mats, model.h, 1.0 / part[0], rng_state)
            if start % 200 == 0:
                clock.check(stage)

    if start is None:
        t_start = max(T, _energy_scale(model))
        sweeps(np.geomspace(t_start, T, max(preset.t_sweeps, 1)), 0.45, "annealing")
    else:
        sweeps(np.full(max(preset.t_sweeps, 1), T), 0.45, "heating the ground state")
    sweeps(np.full(preset.eq_sweeps, T), 0.45, "equilibration")
    samples = np.empty((preset.n_samples, N, 3))
    energies = np.empty(preset.n_samples)
    fields = np.empty_like(s)
    block = np.full(preset.decor_sweeps, T)
    for k in range(preset.n_samples):
        sweeps(block, -1.0, "sampling")  # step frozen while sampling (detailed balance)
        samples[k] = s
        energies[k] = _kernels.energy_and_fields(s, nbr, mats, model.K, model.h, fields) / N
        clock.check("sampling")
    torque = float(np.max(np.linalg.norm(np.cross(s, fields), axis=1)))
    samples.setflags(write=False)
    energy = float(energies.mean())
    return GroundState(
        spins=samples[-1], lattice=lattice, model=model, energy=energy,
        candidates=((f"thermal:T={T:g}", energy),), best="thermal", gap=math.inf,
        max_torque=torque, mode=mode, seed=seed_used, duration=clock.elapsed, samples=samples,
        T=T,
    )
