"""numba kernels of the spin solver. Nothing else lives here.

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

_U1 = np.uint64(1)


@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True, inline="always")
def _uniform(s):
    """Next float in [0, 1) from xoshiro256** state ``s`` (uint64[4]), advanced in place."""
    s0 = s[0]
    s1 = s[1]
    s2 = s[2]
    s3 = s[3]
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    s[0] = s0
    s[1] = s1
    s[2] = s2
    s[3] = s3
    return float(result >> np.uint64(11)) * (1.0 / 9007199254740992.0)


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


@njit(cache=True)
def mc_sweeps(spins, nbr, mats, K, h, temps, sigma, rng, n_over, target):
    """Metropolis sweeps (sequential sites), one per entry of ``temps``, in place.

    The proposal is ``S' = normalize(S + sigma * v)`` with ``v`` uniform in the unit ball
    (symmetric). After each sweep ``sigma`` is adapted towards acceptance ``target``. When
    ``K == 0`` each Metropolis sweep is followed by ``n_over`` over-relaxation sweeps.
    Returns ``(sigma, mean acceptance)``.
    """
    n = spins.shape[0]
    acc_total = 0.0
    for t in range(temps.shape[0]):
        beta = 1.0 / temps[t]
        acc = 0
        for i in range(n):
            fx, fy, fz = _pair_field(spins, nbr, mats, i)
            fz += h
            while True:
                vx = 2.0 * _uniform(rng) - 1.0
                vy = 2.0 * _uniform(rng) - 1.0
                vz = 2.0 * _uniform(rng) - 1.0
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
            if de <= 0.0 or _uniform(rng) < np.exp(-beta * de):
                spins[i, 0] = nx
                spins[i, 1] = ny
                spins[i, 2] = nz
                acc += 1
        rate = acc / n
        acc_total += rate
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
    return sigma, acc_total / max(temps.shape[0], 1)


@njit(cache=True)
def _objective(x, spins, nbr, mats, K, h, fields, grad):
    """Energy of ``S = x/|x|`` and its gradient w.r.t. ``x``; returns (E, max torque)."""
    n = x.shape[0]
    for i in range(n):
        r = np.sqrt(x[i, 0] ** 2 + x[i, 1] ** 2 + x[i, 2] ** 2)
        spins[i, 0] = x[i, 0] / r
        spins[i, 1] = x[i, 1] / r
        spins[i, 2] = x[i, 2] / r
    e = energy_and_fields(spins, nbr, mats, K, h, fields)
    tmax = 0.0
    for i in range(n):
        r = np.sqrt(x[i, 0] ** 2 + x[i, 1] ** 2 + x[i, 2] ** 2)
        p = fields[i, 0] * spins[i, 0] + fields[i, 1] * spins[i, 1] + fields[i, 2] * spins[i, 2]
        tx = fields[i, 0] - p * spins[i, 0]
        ty = fields[i, 1] - p * spins[i, 1]
        tz = fields[i, 2] - p * spins[i, 2]
        t = np.sqrt(tx * tx + ty * ty + tz * tz)
        if t > tmax:
            tmax = t
        grad[i, 0] = -tx / r
        grad[i, 1] = -ty / r
        grad[i, 2] = -tz / r
    return e, tmax


@njit(cache=True)
def relax(spins, nbr, mats, K, h, tol, max_iter, memory):
    """L-BFGS relaxation of ``spins`` in place until the max torque ``|S_i x F_i| <= tol``.

    Unconstrained 3-vectors ``x_i`` are normalised inside the objective (projected gradient);
    ``x`` is renormalised and the memory cleared every 200 iterations or when a line search
    fails. Returns ``(energy, max_torque, iterations)``.
    """
    n = spins.shape[0]
    x = spins.copy()
    s_work = np.empty_like(spins)
    fields = np.empty_like(spins)
    g = np.empty_like(spins)
    g_new = np.empty_like(spins)
    x_new = np.empty_like(spins)
    d = np.empty_like(spins)
    S = np.zeros((memory, n, 3))
    Y = np.zeros((memory, n, 3))
    rho = np.zeros(memory)
    alpha = np.zeros(memory)
    e, tmax = _objective(x, s_work, nbr, mats, K, h, fields, g)
    k = 0  # number of stored pairs
    head = 0
    it = 0
    since_reset = 0
    fails = 0
    while tmax > tol and it < max_iter and fails < 3:
        it += 1
        # two-loop recursion: d = -H g
        for a in range(n):
            for c in range(3):
                d[a, c] = -g[a, c]
        for m in range(k):
            idx = (head - 1 - m) % memory
            al = rho[idx] * np.sum(S[idx] * d)
            alpha[idx] = al
            d -= al * Y[idx]
        if k > 0:
            last = (head - 1) % memory
            gamma = np.sum(S[last] * Y[last]) / np.sum(Y[last] * Y[last])
            d *= gamma
        else:
            gmax = np.max(np.abs(g))
            d *= min(1.0, 0.1 / max(gmax, 1e-300))
        for m in range(k - 1, -1, -1):
            idx = (head - 1 - m) % memory
            be = rho[idx] * np.sum(Y[idx] * d)
            d += (alpha[idx] - be) * S[idx]
        gd = np.sum(g * d)
        if gd >= 0.0:
            gmax = np.max(np.abs(g))
            d[:] = -g * min(1.0, 0.1 / max(gmax, 1e-300))
            gd = np.sum(g * d)
            k = 0
        # backtracking Armijo line search with a round-off allowance
        step = 1.0
        ok = False
        slack = 1e-12 * (abs(e) + 1.0)
        for _ in range(30):
            x_new[:] = x + step * d
            e_new, t_new = _objective(x_new, s_work, nbr, mats, K, h, fields, g_new)
            if e_new <= e + 1e-4 * step * gd + slack:
                ok = True
                break
            step *= 0.5
        if not ok:
            fails += 1
            # reset: renormalise, forget curvature, continue from steepest descent
            for a in range(n):
                r = np.sqrt(x[a, 0] ** 2 + x[a, 1] ** 2 + x[a, 2] ** 2)
                x[a] /= r
            e, tmax = _objective(x, s_work, nbr, mats, K, h, fields, g)
            k = 0
            head = 0
            since_reset = 0
            continue
        sy = 0.0
        yy = 0.0
        for a in range(n):
            for c in range(3):
                sv = x_new[a, c] - x[a, c]
                yv = g_new[a, c] - g[a, c]
                S[head, a, c] = sv
                Y[head, a, c] = yv
                sy += sv * yv
                yy += yv * yv
        if sy > 1e-16 * yy and sy > 0.0:
            rho[head] = 1.0 / sy
            head = (head + 1) % memory
            if k < memory:
                k += 1
        fails = 0
        x[:] = x_new
        g[:] = g_new
        e = e_new
        tmax = t_new
        since_reset += 1
        if since_reset >= 200:
            for a in range(n):
                r = np.sqrt(x[a, 0] ** 2 + x[a, 1] ** 2 + x[a, 2] ** 2)
                x[a] /= r
            e, tmax = _objective(x, s_work, nbr, mats, K, h, fields, g)
            k = 0
            head = 0
            since_reset = 0
    e, tmax = _objective(x, s_work, nbr, mats, K, h, fields, g)
    spins[:] = s_work
    return e, tmax, it
