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
    (symmetric). After each sweep ``sigma`` is adapted towards acceptance ``target`` (kept fixed
    when ``target <= 0``, as detailed balance requires while sampling). When
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
def _objective_fast(x, spins, nbr, mats, K, h, fields, grad):
    """:func:`_objective` in two passes instead of three, with reciprocals instead of divisions
    (the same values up to rounding; ``fields`` is scratch): used when ``exact`` is False."""
    n = x.shape[0]
    for i in range(n):
        inv = 1.0 / np.sqrt(x[i, 0] ** 2 + x[i, 1] ** 2 + x[i, 2] ** 2)
        spins[i, 0] = x[i, 0] * inv
        spins[i, 1] = x[i, 1] * inv
        spins[i, 2] = x[i, 2] * inv
        grad[i, 0] = inv
    e = 0.0
    t2max = 0.0
    for i in range(n):
        fx, fy, fz = _pair_field(spins, nbr, mats, i)
        sx = spins[i, 0]
        sy = spins[i, 1]
        sz = spins[i, 2]
        e += -0.5 * (sx * fx + sy * fy + sz * fz) + K * sz * sz - h * sz
        fz += h - 2.0 * K * sz
        p = fx * sx + fy * sy + fz * sz
        tx = fx - p * sx
        ty = fy - p * sy
        tz = fz - p * sz
        t2 = tx * tx + ty * ty + tz * tz
        if t2 > t2max:
            t2max = t2
        inv = grad[i, 0]
        grad[i, 0] = -tx * inv
        grad[i, 1] = -ty * inv
        grad[i, 2] = -tz * inv
    return e, np.sqrt(t2max)


@njit(cache=True, inline="always")
def _objective_any(x, spins, nbr, mats, K, h, fields, grad, exact):
    if exact:
        return _objective(x, spins, nbr, mats, K, h, fields, grad)
    return _objective_fast(x, spins, nbr, mats, K, h, fields, grad)


@njit(cache=True, inline="always")
def _dot(a, b, exact):
    """``a . b``. With ``exact`` one running sum in index order (the arithmetic of every release
    before issue 20, so a relaxation repeats theirs bit for bit); otherwise four interleaved
    partial sums: independent chains the CPU overlaps (about 1.5x faster L-BFGS at L = 24), the
    same result on every call but rounded differently, which can send a relaxation that starts
    on a symmetric saddle (a helix) into another local minimum."""
    n = a.shape[0]
    if exact:
        acc = 0.0
        for k in range(n):
            acc += a[k] * b[k]
        return acc
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    m = n - n % 4
    for k in range(0, m, 4):
        a0 += a[k] * b[k]
        a1 += a[k + 1] * b[k + 1]
        a2 += a[k + 2] * b[k + 2]
        a3 += a[k + 3] * b[k + 3]
    for k in range(m, n):
        a0 += a[k] * b[k]
    return (a0 + a1) + (a2 + a3)


@njit(cache=True)
def relax(spins, nbr, mats, K, h, tol, max_iter, memory, exact=False):
    """L-BFGS relaxation of ``spins`` in place until the max torque ``|S_i x F_i| <= tol``.

    Unconstrained 3-vectors ``x_i`` are normalised inside the objective (projected gradient);
    ``x`` is renormalised and the memory cleared every 200 iterations or when a line search
    fails (three failures in a row end the run). ``exact`` selects the arithmetic: that of
    every release before issue 20 (one running sum per dot product, :func:`_objective`), which
    a relaxation repeats bit for bit, or the faster reassociated sums and :func:`_objective_fast`
    (about 2x faster per iteration, the same values up to rounding). Returns
    ``(energy, max_torque, iterations)``.
    """
    n = spins.shape[0]
    n3 = 3 * n
    x2 = spins.copy()
    x = x2.reshape(n3)
    s_work = np.empty_like(spins)
    fields = np.empty_like(spins)
    g2 = np.empty_like(spins)
    g = g2.reshape(n3)
    gn2 = np.empty_like(spins)
    g_new = gn2.reshape(n3)
    xn2 = np.empty_like(spins)
    x_new = xn2.reshape(n3)
    d = np.empty(n3)
    S = np.zeros((memory, n3))
    Y = np.zeros((memory, n3))
    rho = np.zeros(memory)
    alpha = np.zeros(memory)
    e, tmax = _objective_any(x2, s_work, nbr, mats, K, h, fields, g2, exact)
    k = 0
    head = 0
    it = 0
    since_reset = 0
    fails = 0
    while tmax > tol and it < max_iter and fails < 3:
        it += 1
        for a in range(n3):
            d[a] = -g[a]
        for m in range(k):
            idx = (head - 1 - m) % memory
            al = rho[idx] * _dot(S[idx], d, exact)
            alpha[idx] = al
            Yi = Y[idx]
            for a in range(n3):
                d[a] -= al * Yi[a]
        if k > 0:
            last = (head - 1) % memory
            gamma = _dot(S[last], Y[last], exact) / _dot(Y[last], Y[last], exact)
        else:
            gmax = 0.0
            for a in range(n3):
                gmax = max(gmax, abs(g[a]))
            gamma = min(1.0, 0.1 / max(gmax, 1e-300))
        for a in range(n3):
            d[a] *= gamma
        for m in range(k - 1, -1, -1):
            idx = (head - 1 - m) % memory
            be = rho[idx] * _dot(Y[idx], d, exact)
            c = alpha[idx] - be
            Si = S[idx]
            for a in range(n3):
                d[a] += c * Si[a]
        gd = _dot(g, d, exact)
        if gd >= 0.0:
            gmax = 0.0
            for a in range(n3):
                gmax = max(gmax, abs(g[a]))
            c = min(1.0, 0.1 / max(gmax, 1e-300))
            for a in range(n3):
                d[a] = -c * g[a]
            gd = _dot(g, d, exact)
            k = 0
        step = 1.0
        ok = False
        slack = 1e-12 * (abs(e) + 1.0)
        e_new = e
        t_new = tmax
        for _ in range(30):
            for a in range(n3):
                x_new[a] = x[a] + step * d[a]
            e_new, t_new = _objective_any(xn2, s_work, nbr, mats, K, h, fields, gn2, exact)
            if e_new <= e + 1e-4 * step * gd + slack:
                ok = True
                break
            step *= 0.5
        if not ok or since_reset >= 200:
            if not ok:
                fails += 1
            for a in range(n):
                r = np.sqrt(x2[a, 0] ** 2 + x2[a, 1] ** 2 + x2[a, 2] ** 2)
                x2[a, 0] /= r
                x2[a, 1] /= r
                x2[a, 2] /= r
            e, tmax = _objective_any(x2, s_work, nbr, mats, K, h, fields, g2, exact)
            k = 0
            head = 0
            since_reset = 0
            continue
        fails = 0
        sy = 0.0
        yy = 0.0
        Sh = S[head]
        Yh = Y[head]
        for a in range(n3):
            sv = x_new[a] - x[a]
            yv = g_new[a] - g[a]
            Sh[a] = sv
            Yh[a] = yv
            sy += sv * yv
            yy += yv * yv
        if sy > 1e-16 * yy and sy > 0.0:
            rho[head] = 1.0 / sy
            head = (head + 1) % memory
            if k < memory:
                k += 1
        for a in range(n3):
            x[a] = x_new[a]
            g[a] = g_new[a]
        e = e_new
        tmax = t_new
        since_reset += 1
    e, tmax = _objective_any(x2, s_work, nbr, mats, K, h, fields, g2, exact)
    spins[:] = s_work
    return e, tmax, it


@njit(cache=True)
def relax_many(stack, nbr, mats, K, h, tol, max_iters, memory, exact, energies, torques, iters):
    """:func:`relax` of every state ``stack[c]`` (shape (n, N, 3)) in place, in one compiled call.

    ``max_iters[c]`` caps the iterations of state ``c`` and ``exact[c]`` (bool) selects its dot
    products (:func:`_dot`); the energies, max torques and iteration
    counts are written into ``energies``, ``torques`` and ``iters`` (length n). Each state is
    relaxed exactly as a separate :func:`relax` call would relax it.
    """
    for c in range(stack.shape[0]):
        e, t, it = relax(stack[c], nbr, mats, K, h, tol, max_iters[c], memory, exact[c])
        energies[c] = e
        torques[c] = t
        iters[c] = it


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
