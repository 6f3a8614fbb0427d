"""numba kernels of the equilibrium sampler (helpers of :mod:`spinexplore.physics.thermal`)."""

from __future__ import annotations

import numpy as np
from numba import njit

from spinexplore.physics._kernels import _pair_field, _uniform, energy_and_fields, mc_sweeps


@njit(cache=True)
def reflect_sweep(spins, nbr, mats, h, beta, rng):
    """One sweep of ``S_z -> -S_z`` proposals (sequential sites), in place; returns acceptance.

    The reflection is an involution, so the proposal is symmetric and Metropolis acceptance is
    exact. ``K (S^z)^2`` is unchanged by it, so with a strong easy axis it crosses the barrier
    that small Gaussian steps cannot (the Ising limit).
    """
    n = spins.shape[0]
    acc = 0
    for i in range(n):
        fx, fy, fz = _pair_field(spins, nbr, mats, i)
        fz += h
        de = 2.0 * spins[i, 2] * fz
        if de <= 0.0 or _uniform(rng) < np.exp(-beta * de):
            spins[i, 2] = -spins[i, 2]
            acc += 1
    return acc / n


@njit(cache=True)
def sample_series(spins, nbr, mats, K, h, T, sigma, rng, n_over, flip, every, out_e, out_m):
    """``len(out_e)`` measurements ``every`` sweeps apart at fixed temperature ``T``, in place.

    Each sweep is one Metropolis sweep with the frozen step ``sigma`` (plus ``n_over``
    over-relaxation sweeps when ``K == 0``) and, with ``flip``, one reflection sweep. Records
    the total energy and the magnetization vector (per spin).
    """
    temps = np.full(1, T)
    fields = np.empty_like(spins)
    beta = 1.0 / T
    n = spins.shape[0]
    for k in range(out_e.shape[0]):
        for _ in range(every):
            mc_sweeps(spins, nbr, mats, K, h, temps, sigma, rng, n_over, -1.0)
            if flip:
                reflect_sweep(spins, nbr, mats, h, beta, rng)
        out_e[k] = energy_and_fields(spins, nbr, mats, K, h, fields) / n
        for c in range(3):
            out_m[k, c] = spins[:, c].sum() / n
