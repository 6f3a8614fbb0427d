"""Monte Carlo stages of :func:`spinexplore.physics.solver.simulate`: the annealing of a random
state (``T == 0`` search) and the equilibrium sampling at ``T > 0``.

Both run the numba sweeps of :mod:`._kernels` (Metropolis with an adaptive Gaussian step, plus
over-relaxation when ``K == 0``) on the coupling tables of :mod:`.energy`; they know nothing of
the solver's result type, so the solver imports this module and not the other way round.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from spinexplore.physics import _kernels, _thermal_kernels
from spinexplore.physics.energy import energy_scale
from spinexplore.physics.lattice import Lattice
from spinexplore.physics.model import SpinModel
from spinexplore.physics.textures import random_spins

__all__ = ["rng_state", "anneal", "sample"]


def rng_state(ss: np.random.SeedSequence) -> np.ndarray:
    """The 256-bit state of the kernels' xoshiro generator drawn from ``ss`` (never all zero)."""
    state = ss.generate_state(4, np.uint64)
    if not state.any():
        state[0] = np.uint64(1)
    return state


def checkpoint_marks(n: int, checkpoints: tuple[float, ...]) -> list[int]:
    """The sweeps (ascending) after which :func:`anneal` of ``n`` sweeps calls its ``stop``."""
    return sorted({int(round(f * n)) for f in checkpoints if 0 < round(f * n) < n})


def next_mark(marks: list[int], sweeps: int) -> float:
    """The first of ``marks`` after ``sweeps``; ``inf`` when none is."""
    return next((m for m in marks if m > sweeps), math.inf)


def anneal(s: np.ndarray, nbr: np.ndarray, mats: np.ndarray, model: SpinModel, temps: np.ndarray,
           n_over: int, state: np.ndarray, clock: Any, chunk: int = 200,
           checkpoints: tuple[float, ...] = (),
           stop: Callable[[np.ndarray, int], bool] | None = None) -> tuple[float, int]:
    """Metropolis sweeps of ``s`` (in place) through the temperatures ``temps``, the step adapted
    to 45 % acceptance; ``clock.check`` runs every ``chunk`` sweeps.

    At each fraction of ``checkpoints`` (of ``len(temps)``) ``stop(s, sweeps_done)`` is called,
    and the anneal ends there when it returns True (the caller judges whether the state can
    still win). Where the sweeps are cut into calls does not change the result. Returns the
    final step and the number of sweeps done.
    """
    n = len(temps)
    marks = set(checkpoint_marks(n, checkpoints))
    bounds = sorted(set(range(0, n, chunk)) | marks | {n})
    sigma = 0.5
    for start, end in zip(bounds[:-1], bounds[1:]):
        sigma, _ = _kernels.mc_sweeps(s, nbr, mats, model.K, model.h, temps[start:end],
                                      sigma, state, n_over, 0.45)
        clock.check("annealing")
        if stop is not None and end in marks and stop(s, end):
            return sigma, end
    return sigma, n


def sample(model: SpinModel, lattice: Lattice, preset: Any, child: np.random.SeedSequence,
           nbr: np.ndarray, mats: np.ndarray, clock: Any,
           start: np.ndarray | None = None) -> tuple[np.ndarray, float, float, float]:
    """Equilibrium sampling at ``model.T``: from ``start`` (or a random state annealed to T),
    equilibrate at T and take decorrelated snapshots.

    With an easy axis (``K < 0``) every Metropolis sweep is followed by a sweep of
    ``S_z -> -S_z`` reflections (:func:`~spinexplore.physics._thermal_kernels.reflect_sweep`),
    without which a strong easy axis freezes the sign of each spin.

    Returns
    -------
    samples : ndarray of shape (preset.n_samples, N, 3)
        Read-only snapshots.
    energy : float
        Mean energy per spin of the snapshots.
    torque : float
        Max torque of the last snapshot.
    energy_error : float
        Standard error of ``energy`` (:func:`~spinexplore.physics.thermal.binned_error` of the
        snapshots' energies; NaN with fewer than 2 snapshots).
    """
    N = lattice.N
    T = model.T
    if start is None:
        s = random_spins(lattice, child)
    else:
        s = np.array(start, dtype=np.float64, order="C")
    state = rng_state(child)
    reflect = model.K < 0
    sigma = 0.5

    def sweeps(temps, target, stage):
        nonlocal sigma
        chunk = 1 if reflect else 200
        for first in range(0, len(temps), chunk):
            part = temps[first:first + chunk]
            sigma, _ = _kernels.mc_sweeps(s, nbr, mats, model.K, model.h, part, sigma, state,
                                          preset.n_over, target)
            if reflect:
                _thermal_kernels.reflect_sweep(s, nbr, mats, model.h, 1.0 / part[0], state)
            if first % 200 == 0:
                clock.check(stage)

    if start is None:
        t_start = max(T, energy_scale(model))
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
    from spinexplore.physics._stats import binned_error

    return samples, float(energies.mean()), torque, binned_error(energies)
