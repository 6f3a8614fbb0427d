"""numba kernels of the spin solver: local fields, energy, Metropolis sweeps, charge.

The L-BFGS relaxation is in :mod:`._lbfgs` (one state) and :mod:`._lbfgs_pairs` (many states
in one call, two exact ones side by side).

The Hamiltonian is passed as a *coupling table*: ``nbr`` of shape (N, M) lists, for each site,
its M neighbours (forward and backward bonds of every shell in use) and ``mats`` of shape
(M, 3, 3) the matrix of each neighbour slot, so that the bilinear part of the local field is
``F_i = sum_b mats[b] @ S[nbr[i, b]]``. Single-ion ``K (S^z)^2`` and the field ``h`` along z are
separate scalars. Energy ``E = -1/2 sum_i S_i.F_i + K sum_i (S_i^z)^2 - h sum_i S_i^z``.

Random numbers come from an inline xoshiro256** generator whose state (4 uint64) is seeded by
the caller from a ``numpy.random.SeedSequence``; the kernels are deterministic for a given state.
"""

from __future__ import annotations

import numpy as np
from numba import njit



@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True, inline="always")
def _next_uniform(s0, s1, s2, s3):
    """Next float in [0, 1) from a xoshiro256** state held in four scalars: ``(u, s0, s1, s2, s3)``."""
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    return float(result >> np.uint64(11)) * (1.0 / 9007199254740992.0), s0, s1, s2, s3


@njit(cache=True, inline="always")
def _uniform(s):
    """Next float in [0, 1) from xoshiro256** state ``s`` (uint64[4]), advanced in place."""
    u, s[0], s[1], s[2], s[3] = _next_uniform(s[0], s[1], s[2], s[3])
    return u


@njit(cache=True, inline="always")
def _pair_field(spins, nbr, mats, i):
    fx = 0.0
    fy = 0.0
    fz = 0.0
    for b in range(nbr.shape[1]):
        j = nbr[i, b]
        sx = spins[j, 0]
        sy = spins[j, 1]
        sz = spins[j, 2]
        m = mats[b]
        fx += m[0, 0] * sx + m[0, 1] * sy + m[0, 2] * sz
        fy += m[1, 0] * sx + m[1, 1] * sy + m[1, 2] * sz
        fz += m[2, 0] * sx + m[2, 1] * sy + m[2, 2] * sz
    return fx, fy, fz


@njit(cache=True)
def energy_and_fields(spins, nbr, mats, K, h, fields):
    """Total energy; writes the local fields ``-dE/dS_i`` (anisotropy included) into ``fields``."""
    e = 0.0
    for i in range(spins.shape[0]):
        fx, fy, fz = _pair_field(spins, nbr, mats, i)
        sz = spins[i, 2]
        e += -0.5 * (spins[i, 0] * fx + spins[i, 1] * fy + sz * fz) + K * sz * sz - h * sz
        fields[i, 0] = fx
        fields[i, 1] = fy
        fields[i, 2] = fz + h - 2.0 * K * sz
    return e


@njit(cache=True, inline="always")
def _metropolis(u, x):
    """``u < exp(-x)`` for ``x > 0`` and ``u`` in [0, 1): the same decision, with ``exp`` only
    called where the bounds ``1 - x <= exp(-x) <= 1 / (1 + x + x^2 / 2)`` leave it open (their
    margins, 1e-14, are far above the rounding errors of ``exp`` and of the bounds)."""
    if u < 1.0 - x - 1e-14:
        return True
    if u > 1.0 / (1.0 + x + 0.5 * x * x) + 1e-14:
        return False
    return u < np.exp(-x)


@njit(cache=True, error_model="numpy")
def mc_sweeps(spins, nbr, mats, K, h, temps, sigma, rng, n_over, target):
    """Metropolis sweeps (sequential sites), one per entry of ``temps``, in place.

    The proposal is ``S' = normalize(S + sigma * v)`` with ``v`` uniform in the unit ball
    (symmetric). After each sweep ``sigma`` is adapted towards acceptance ``target`` (kept fixed
    when ``target <= 0``, as detailed balance requires while sampling). When
    ``K == 0`` each Metropolis sweep is followed by ``n_over`` over-relaxation sweeps.
    Returns ``(sigma, mean acceptance)``.

    Issue 20, the same numbers drawn and the same trajectory bit for bit as before: the
    generator's state lives in local scalars during the call (written back to ``rng`` at the
    end), ``exp`` of the acceptance test is skipped where cheap bounds decide it
    (:func:`_metropolis`), and divisions carry no zero check (``error_model="numpy"``; a
    proposal of norm below 1e-12 is skipped before it is divided).
    """
    n = spins.shape[0]
    acc_total = 0.0
    s0 = rng[0]
    s1 = rng[1]
    s2 = rng[2]
    s3 = rng[3]
    for t in range(temps.shape[0]):
        beta = 1.0 / temps[t]
        acc = 0
        for i in range(n):
            fx, fy, fz = _pair_field(spins, nbr, mats, i)
            fz += h
            while True:
                ux, s0, s1, s2, s3 = _next_uniform(s0, s1, s2, s3)
                uy, s0, s1, s2, s3 = _next_uniform(s0, s1, s2, s3)
                uz, s0, s1, s2, s3 = _next_uniform(s0, s1, s2, s3)
                vx = 2.0 * ux - 1.0
                vy = 2.0 * uy - 1.0
                vz = 2.0 * uz - 1.0
                if vx * vx + vy * vy + vz * vz <= 1.0:
                    break
            ox = spins[i, 0]
            oy = spins[i, 1]
            oz = spins[i, 2]
            nx = ox + sigma * vx
            ny = oy + sigma * vy
            nz = oz + sigma * vz
            norm = np.sqrt(nx * nx + ny * ny + nz * nz)
            if norm < 1e-12:
                continue
            nx /= norm
            ny /= norm
            nz /= norm
            de = -((nx - ox) * fx + (ny - oy) * fy + (nz - oz) * fz) + K * (nz * nz - oz * oz)
            accept = de <= 0.0
            if not accept:
                # (-beta) * de, the argument of exp in every release, is -(beta * de) exactly
                u, s0, s1, s2, s3 = _next_uniform(s0, s1, s2, s3)
                accept = _metropolis(u, beta * de)
            if accept:
                spins[i, 0] = nx
                spins[i, 1] = ny
                spins[i, 2] = nz
                acc += 1
        rate = acc / n
        acc_total += rate
        if target > 0.0:
            sigma *= 1.0 + (rate - target)
            if sigma < 1e-4:
                sigma = 1e-4
            elif sigma > 3.0:
                sigma = 3.0
        if K == 0.0:
            for _ in range(n_over):
                for i in range(n):
                    fx, fy, fz = _pair_field(spins, nbr, mats, i)
                    fz += h
                    f2 = fx * fx + fy * fy + fz * fz
                    if f2 < 1e-24:
                        continue
                    c = 2.0 * (spins[i, 0] * fx + spins[i, 1] * fy + spins[i, 2] * fz) / f2
                    nx = c * fx - spins[i, 0]
                    ny = c * fy - spins[i, 1]
                    nz = c * fz - spins[i, 2]
                    norm = np.sqrt(nx * nx + ny * ny + nz * nz)
                    spins[i, 0] = nx / norm
                    spins[i, 1] = ny / norm
                    spins[i, 2] = nz / norm
    rng[0] = s0
    rng[1] = s1
    rng[2] = s2
    rng[3] = s3
    return sigma, acc_total / max(temps.shape[0], 1)


@njit(cache=True)
def solid_angle_charge(spins, tri, tie):
    """Berg-Luscher charge of ``spins`` over the triangles ``tri`` (shape (T, 3)) in one pass:
    ``(ambiguous, charge)``, ``ambiguous`` when a triangle has ``|a.(b x c)| < tie`` and
    ``1 + a.b + b.c + c.a < tie`` (a solid angle of +-2 pi, ``observables.ambiguous_triangles``),
    ``charge`` the sum of ``2 atan2(a.(b x c), 1 + a.b + b.c + c.a) / (4 pi)``."""
    total = 0.0
    ambiguous = False
    for t in range(tri.shape[0]):
        i = tri[t, 0]
        j = tri[t, 1]
        k = tri[t, 2]
        ax, ay, az = spins[i, 0], spins[i, 1], spins[i, 2]
        bx, by, bz = spins[j, 0], spins[j, 1], spins[j, 2]
        cx, cy, cz = spins[k, 0], spins[k, 1], spins[k, 2]
        num = ax * (by * cz - bz * cy) + ay * (bz * cx - bx * cz) + az * (bx * cy - by * cx)
        den = 1.0 + (ax * bx + ay * by + az * bz) + (bx * cx + by * cy + bz * cz) \
            + (cx * ax + cy * ay + cz * az)
        if abs(num) < tie and den < tie:
            ambiguous = True
        total += 2.0 * np.arctan2(num, den)
    return ambiguous, total / (4.0 * np.pi)
