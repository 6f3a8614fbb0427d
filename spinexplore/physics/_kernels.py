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


@njit(cache=True, inline="always")
def _next_uniform(s0, s1, s2, s3):
    """:func:`_uniform` on a state held in four scalars: ``(u, s0, s1, s2, s3)``, same numbers."""
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


@njit(cache=True, inline="always")
def _axpy_dot(d, c, v, w, exact):
    """``d += c * v`` in place, then ``w . d`` (the arithmetic of :func:`_dot`), in one pass:
    the same values as the two loops one after the other."""
    n = d.shape[0]
    if exact:
        acc = 0.0
        for k in range(n):
            d[k] += c * v[k]
            acc += w[k] * d[k]
        return acc
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    m = n - n % 4
    for k in range(0, m, 4):
        d[k] += c * v[k]
        d[k + 1] += c * v[k + 1]
        d[k + 2] += c * v[k + 2]
        d[k + 3] += c * v[k + 3]
        a0 += w[k] * d[k]
        a1 += w[k + 1] * d[k + 1]
        a2 += w[k + 2] * d[k + 2]
        a3 += w[k + 3] * d[k + 3]
    for k in range(m, n):
        d[k] += c * v[k]
        a0 += w[k] * d[k]
    return (a0 + a1) + (a2 + a3)


@njit(cache=True, inline="always")
def _store_pair(x_new, x, g_new, g, Sh, Yh, exact):
    """``s = x_new - x`` and ``y = g_new - g`` into ``Sh``, ``Yh``; returns ``(s.y, y.y)`` as
    single running sums (the curvature check) and as :func:`_dot` computes them (gamma), and,
    with ``exact``, ``s.g_new`` as :func:`_dot` computes it (0.0 otherwise)."""
    n = x.shape[0]
    sy = 0.0
    yy = 0.0
    if exact:
        sg = 0.0
        for a in range(n):
            sv = x_new[a] - x[a]
            yv = g_new[a] - g[a]
            Sh[a] = sv
            Yh[a] = yv
            sy += sv * yv
            yy += yv * yv
            sg += sv * g_new[a]
        return sy, yy, sy, yy, sg
    p0 = 0.0
    p1 = 0.0
    p2 = 0.0
    p3 = 0.0
    q0 = 0.0
    q1 = 0.0
    q2 = 0.0
    q3 = 0.0
    m = n - n % 4
    for k in range(0, m, 4):
        s0 = x_new[k] - x[k]
        s1 = x_new[k + 1] - x[k + 1]
        s2 = x_new[k + 2] - x[k + 2]
        s3 = x_new[k + 3] - x[k + 3]
        y0 = g_new[k] - g[k]
        y1 = g_new[k + 1] - g[k + 1]
        y2 = g_new[k + 2] - g[k + 2]
        y3 = g_new[k + 3] - g[k + 3]
        Sh[k] = s0
        Sh[k + 1] = s1
        Sh[k + 2] = s2
        Sh[k + 3] = s3
        Yh[k] = y0
        Yh[k + 1] = y1
        Yh[k + 2] = y2
        Yh[k + 3] = y3
        sy += s0 * y0
        sy += s1 * y1
        sy += s2 * y2
        sy += s3 * y3
        yy += y0 * y0
        yy += y1 * y1
        yy += y2 * y2
        yy += y3 * y3
        p0 += s0 * y0
        p1 += s1 * y1
        p2 += s2 * y2
        p3 += s3 * y3
        q0 += y0 * y0
        q1 += y1 * y1
        q2 += y2 * y2
        q3 += y3 * y3
    for k in range(m, n):
        sv = x_new[k] - x[k]
        yv = g_new[k] - g[k]
        Sh[k] = sv
        Yh[k] = yv
        sy += sv * yv
        yy += yv * yv
        p0 += sv * yv
        q0 += yv * yv
    return sy, yy, (p0 + p1) + (p2 + p3), (q0 + q1) + (q2 + q3), 0.0


@njit(cache=True, inline="always")
def _sub_scale(d, c, v, gamma):
    """``d -= c * v`` then ``d *= gamma``, in one pass (the same values as two loops)."""
    for a in range(d.shape[0]):
        d[a] -= c * v[a]
        d[a] *= gamma


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

    The two-loop recursion runs each update of the direction in the same pass as the next dot
    product, and ``s.y``, ``y.y`` of a stored pair are computed when it is stored: every value
    is the one of the plain loops, in the same order (issue 20: about 15 % less per iteration
    with the exact arithmetic, whose single running sums bound the cost). With ``exact`` the
    first dot product of the recursion, ``s.(-g)`` of the pair stored last, is the negated
    ``s.g`` summed in the pass that stores the pair (each term and partial sum negated exactly;
    a sum of exactly zero, whose sign could differ, is recomputed).
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
    sy_of = np.zeros(memory)  # _dot(S[i], Y[i]) and _dot(Y[i], Y[i]) of the stored slot i
    yy_of = np.zeros(memory)
    e, tmax = _objective_any(x2, s_work, nbr, mats, K, h, fields, g2, exact)
    k = 0
    head = 0
    it = 0
    since_reset = 0
    fails = 0
    sg_fresh = 0.0  # s.g of the pair stored by the last iteration (exact only), else 0.0
    while tmax > tol and it < max_iter and fails < 3:
        it += 1
        if k > 0:
            # first loop: d = -g, then d -= alpha_m y_m, each fused with the next s_m . d
            idx = (head - 1) % memory
            for a in range(n3):
                d[a] = -g[a]
            if sg_fresh != 0.0:
                # s.(-g) of the pair stored last, summed in _store_pair with the other two
                # chains: each term and hence every partial sum is negated exactly (only a sum
                # of exactly zero could differ, in its sign; it is computed here)
                al = rho[idx] * -sg_fresh
            else:
                al = rho[idx] * _dot(S[idx], d, exact)
            alpha[idx] = al
            for m in range(1, k):
                nxt = (head - 1 - m) % memory
                al = rho[nxt] * _axpy_dot(d, -al, Y[idx], S[nxt], exact)
                alpha[nxt] = al
                idx = nxt
            last = (head - 1) % memory
            gamma = sy_of[last] / yy_of[last]
            # d -= alpha y (the oldest pair), d *= gamma, then the second loop from the oldest
            _sub_scale(d, al, Y[idx], gamma)
            be = rho[idx] * _dot(Y[idx], d, exact)
            for m in range(k - 2, -1, -1):
                nxt = (head - 1 - m) % memory
                be = rho[nxt] * _axpy_dot(d, alpha[idx] - be, S[idx], Y[nxt], exact)
                idx = nxt
            gd = _axpy_dot(d, alpha[idx] - be, S[idx], g, exact)
        else:
            gmax = 0.0
            for a in range(n3):
                d[a] = -g[a]
                gmax = max(gmax, abs(g[a]))
            gamma = min(1.0, 0.1 / max(gmax, 1e-300))
            for a in range(n3):
                d[a] *= gamma
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
            sg_fresh = 0.0
            continue
        fails = 0
        sy, yy, sy_dot, yy_dot, sg = _store_pair(x_new, x, g_new, g, S[head], Y[head], exact)
        sy_of[head] = sy_dot
        yy_of[head] = yy_dot
        sg_fresh = 0.0
        if sy > 1e-16 * yy and sy > 0.0:
            sg_fresh = sg
            rho[head] = 1.0 / sy
            head = (head + 1) % memory
            if k < memory:
                k += 1
        x2, xn2 = xn2, x2  # the accepted point and its gradient: swap, no copy
        x, x_new = x_new, x
        g2, gn2 = gn2, g2
        g, g_new = g_new, g
        e = e_new
        tmax = t_new
        since_reset += 1
    e, tmax = _objective_any(x2, s_work, nbr, mats, K, h, fields, g2, exact)
    spins[:] = s_work
    return e, tmax, it


@njit(cache=True, inline="always")
def _axpy_dot2(d, c, v, w, d2, c2, v2, w2):
    """:func:`_axpy_dot` (exact arithmetic) of two states in one pass: each state's running sum
    is its own chain, its terms in the same order, so each result is the one of a separate
    call; the two latency chains overlap."""
    acc = 0.0
    acc2 = 0.0
    for k in range(d.shape[0]):
        d[k] += c * v[k]
        d2[k] += c2 * v2[k]
        acc += w[k] * d[k]
        acc2 += w2[k] * d2[k]
    return acc, acc2


@njit(cache=True, inline="always")
def _dot2(a, b, a2, b2):
    """:func:`_dot` (exact arithmetic) of two states in one pass, each sum its own chain."""
    acc = 0.0
    acc2 = 0.0
    for k in range(a.shape[0]):
        acc += a[k] * b[k]
        acc2 += a2[k] * b2[k]
    return acc, acc2


@njit(cache=True, inline="always")
def _first_dot(d, g, S, rho, alpha, idx, sg_fresh):
    """``d = -g`` and the first ``alpha`` of the recursion, as :func:`relax` computes them."""
    for a in range(d.shape[0]):
        d[a] = -g[a]
    if sg_fresh != 0.0:
        al = rho[idx] * -sg_fresh
    else:
        al = rho[idx] * _dot(S[idx], d, True)
    alpha[idx] = al
    return al


@njit(cache=True)
def _two_loop_pair(d0, g0, S0, Y0, rho0, alpha0, head0, k0, sgf0, last_sy0, last_yy0,
                   d1, g1, S1, Y1, rho1, alpha1, head1, k1, sgf1, last_sy1, last_yy1, memory):
    """The two-loop recursion of :func:`relax` (exact arithmetic, ``k > 0``) of two states at
    once: every dot product of a state is the same chain in the same order as in
    :func:`relax`; steps both states have run in one pass (:func:`_axpy_dot2`). Returns the
    two ``g.d``."""
    idx0 = (head0 - 1) % memory
    idx1 = (head1 - 1) % memory
    al0 = _first_dot(d0, g0, S0, rho0, alpha0, idx0, sgf0)
    al1 = _first_dot(d1, g1, S1, rho1, alpha1, idx1, sgf1)
    kmin = min(k0, k1)
    for m in range(1, kmin):
        nxt0 = (head0 - 1 - m) % memory
        nxt1 = (head1 - 1 - m) % memory
        r0, r1 = _axpy_dot2(d0, -al0, Y0[idx0], S0[nxt0], d1, -al1, Y1[idx1], S1[nxt1])
        al0 = rho0[nxt0] * r0
        al1 = rho1[nxt1] * r1
        alpha0[nxt0] = al0
        alpha1[nxt1] = al1
        idx0 = nxt0
        idx1 = nxt1
    for m in range(kmin, k0):
        nxt0 = (head0 - 1 - m) % memory
        al0 = rho0[nxt0] * _axpy_dot(d0, -al0, Y0[idx0], S0[nxt0], True)
        alpha0[nxt0] = al0
        idx0 = nxt0
    for m in range(kmin, k1):
        nxt1 = (head1 - 1 - m) % memory
        al1 = rho1[nxt1] * _axpy_dot(d1, -al1, Y1[idx1], S1[nxt1], True)
        alpha1[nxt1] = al1
        idx1 = nxt1
    _sub_scale(d0, al0, Y0[idx0], last_sy0 / last_yy0)
    _sub_scale(d1, al1, Y1[idx1], last_sy1 / last_yy1)
    r0, r1 = _dot2(Y0[idx0], d0, Y1[idx1], d1)
    be0 = rho0[idx0] * r0
    be1 = rho1[idx1] * r1
    # second loop, from the oldest pair: the longer recursion first runs its extra steps alone
    for m in range(k0 - 2, kmin - 2, -1):
        nxt0 = (head0 - 1 - m) % memory
        be0 = rho0[nxt0] * _axpy_dot(d0, alpha0[idx0] - be0, S0[idx0], Y0[nxt0], True)
        idx0 = nxt0
    for m in range(k1 - 2, kmin - 2, -1):
        nxt1 = (head1 - 1 - m) % memory
        be1 = rho1[nxt1] * _axpy_dot(d1, alpha1[idx1] - be1, S1[idx1], Y1[nxt1], True)
        idx1 = nxt1
    for m in range(kmin - 2, -1, -1):
        nxt0 = (head0 - 1 - m) % memory
        nxt1 = (head1 - 1 - m) % memory
        r0, r1 = _axpy_dot2(d0, alpha0[idx0] - be0, S0[idx0], Y0[nxt0],
                            d1, alpha1[idx1] - be1, S1[idx1], Y1[nxt1])
        be0 = rho0[nxt0] * r0
        be1 = rho1[nxt1] * r1
        idx0 = nxt0
        idx1 = nxt1
    return _axpy_dot2(d0, alpha0[idx0] - be0, S0[idx0], g0, d1, alpha1[idx1] - be1, S1[idx1], g1)


@njit(cache=True)
def relax_pairs(stack, order, nbr, mats, K, h, tol, max_iters, memory, energies, torques, iters):
    """:func:`relax` with the exact arithmetic of the states ``stack[order[j]]``, two at a time:
    each state takes exactly the steps, and gets exactly the result, of a separate
    ``relax(..., exact=True)`` call (written into ``stack``, ``energies``, ``torques``,
    ``iters``). Two slots each hold a running state, the next state of ``order`` taking the slot
    of one that ends; while both run and both have stored pairs, their two-loop recursions
    share passes (:func:`_two_loop_pair`), so that the serial running sums of the two overlap."""
    n = stack.shape[1]
    n3 = 3 * n
    X = np.empty((2, 2, n3))  # [slot, buffer]: the current point is buffer cur[p]
    G = np.empty((2, 2, n3))
    X4 = X.reshape(2, 2, n, 3)
    G4 = G.reshape(2, 2, n, 3)
    s_work = np.empty((n, 3))
    fields = np.empty((n, 3))
    D = np.empty((2, n3))
    S = np.zeros((2, memory, n3))
    Y = np.zeros((2, memory, n3))
    rho = np.zeros((2, memory))
    alpha = np.zeros((2, memory))
    sy_of = np.zeros((2, memory))
    yy_of = np.zeros((2, memory))
    e = np.zeros(2)
    tmax = np.zeros(2)
    gd = np.zeros(2)
    k = np.zeros(2, np.int64)
    head = np.zeros(2, np.int64)
    it = np.zeros(2, np.int64)
    since_reset = np.zeros(2, np.int64)
    fails = np.zeros(2, np.int64)
    cur = np.zeros(2, np.int64)
    sg_fresh = np.zeros(2)
    max_it = np.zeros(2, np.int64)
    sid = np.full(2, -1, np.int64)  # the state in each slot, -1: none
    nxt_state = 0
    while True:
        for p in range(2):
            while True:
                if sid[p] >= 0:
                    if tmax[p] > tol and it[p] < max_it[p] and fails[p] < 3:
                        break
                    c = sid[p]  # ended: final objective, results out
                    ef, tf = _objective(X4[p, cur[p]], s_work, nbr, mats, K, h, fields,
                                        G4[p, cur[p]])
                    stack[c] = s_work
                    energies[c] = ef
                    torques[c] = tf
                    iters[c] = it[p]
                    sid[p] = -1
                if nxt_state >= order.shape[0]:
                    break
                c = order[nxt_state]
                nxt_state += 1
                sid[p] = c
                X4[p, 0] = stack[c]
                cur[p] = 0
                k[p] = 0
                head[p] = 0
                it[p] = 0
                since_reset[p] = 0
                fails[p] = 0
                sg_fresh[p] = 0.0
                max_it[p] = max_iters[c]
                e[p], tmax[p] = _objective(X4[p, 0], s_work, nbr, mats, K, h, fields, G4[p, 0])
        run0 = sid[0] >= 0
        run1 = sid[1] >= 0
        if not run0 and not run1:
            break
        both = run0 and run1 and k[0] > 0 and k[1] > 0
        if both:
            c0 = cur[0]
            c1 = cur[1]
            gd[0], gd[1] = _two_loop_pair(
                D[0], G[0, c0], S[0], Y[0], rho[0], alpha[0], head[0], k[0], sg_fresh[0],
                sy_of[0, (head[0] - 1) % memory], yy_of[0, (head[0] - 1) % memory],
                D[1], G[1, c1], S[1], Y[1], rho[1], alpha[1], head[1], k[1], sg_fresh[1],
                sy_of[1, (head[1] - 1) % memory], yy_of[1, (head[1] - 1) % memory], memory)
        for p in range(2):
            if p == 0 and not run0 or p == 1 and not run1:
                continue
            c = cur[p]
            x = X[p, c]
            x_new = X[p, 1 - c]
            g = G[p, c]
            g_new = G[p, 1 - c]
            d = D[p]
            it[p] += 1
            if not both:
                if k[p] > 0:
                    idx = (head[p] - 1) % memory
                    al = _first_dot(d, g, S[p], rho[p], alpha[p], idx, sg_fresh[p])
                    for m in range(1, k[p]):
                        nxt = (head[p] - 1 - m) % memory
                        al = rho[p, nxt] * _axpy_dot(d, -al, Y[p, idx], S[p, nxt], True)
                        alpha[p, nxt] = al
                        idx = nxt
                    last = (head[p] - 1) % memory
                    gamma = sy_of[p, last] / yy_of[p, last]
                    _sub_scale(d, al, Y[p, idx], gamma)
                    be = rho[p, idx] * _dot(Y[p, idx], d, True)
                    for m in range(k[p] - 2, -1, -1):
                        nxt = (head[p] - 1 - m) % memory
                        be = rho[p, nxt] * _axpy_dot(d, alpha[p, idx] - be, S[p, idx],
                                                     Y[p, nxt], True)
                        idx = nxt
                    gd[p] = _axpy_dot(d, alpha[p, idx] - be, S[p, idx], g, True)
                else:
                    gmax = 0.0
                    for a in range(n3):
                        d[a] = -g[a]
                        gmax = max(gmax, abs(g[a]))
                    gamma = min(1.0, 0.1 / max(gmax, 1e-300))
                    for a in range(n3):
                        d[a] *= gamma
                    gd[p] = _dot(g, d, True)
            if gd[p] >= 0.0:
                gmax = 0.0
                for a in range(n3):
                    gmax = max(gmax, abs(g[a]))
                cc = min(1.0, 0.1 / max(gmax, 1e-300))
                for a in range(n3):
                    d[a] = -cc * g[a]
                gd[p] = _dot(g, d, True)
                k[p] = 0
            step = 1.0
            ok = False
            slack = 1e-12 * (abs(e[p]) + 1.0)
            e_new = e[p]
            t_new = tmax[p]
            for _ in range(30):
                for a in range(n3):
                    x_new[a] = x[a] + step * d[a]
                e_new, t_new = _objective(X4[p, 1 - c], s_work, nbr, mats, K, h, fields,
                                          G4[p, 1 - c])
                if e_new <= e[p] + 1e-4 * step * gd[p] + slack:
                    ok = True
                    break
                step *= 0.5
            if not ok or since_reset[p] >= 200:
                if not ok:
                    fails[p] += 1
                x2 = X4[p, c]
                for a in range(n):
                    r = np.sqrt(x2[a, 0] ** 2 + x2[a, 1] ** 2 + x2[a, 2] ** 2)
                    x2[a, 0] /= r
                    x2[a, 1] /= r
                    x2[a, 2] /= r
                e[p], tmax[p] = _objective(x2, s_work, nbr, mats, K, h, fields, G4[p, c])
                k[p] = 0
                head[p] = 0
                since_reset[p] = 0
                sg_fresh[p] = 0.0
                continue
            fails[p] = 0
            hd = head[p]
            sy, yy, sy_dot, yy_dot, sg = _store_pair(x_new, x, g_new, g, S[p, hd], Y[p, hd], True)
            sy_of[p, hd] = sy_dot
            yy_of[p, hd] = yy_dot
            sg_fresh[p] = 0.0
            if sy > 1e-16 * yy and sy > 0.0:
                sg_fresh[p] = sg
                rho[p, hd] = 1.0 / sy
                head[p] = (hd + 1) % memory
                if k[p] < memory:
                    k[p] += 1
            cur[p] = 1 - c
            e[p] = e_new
            tmax[p] = t_new
            since_reset[p] += 1


@njit(cache=True)
def relax_many(stack, nbr, mats, K, h, tol, max_iters, memory, exact, energies, torques, iters,
               memory_fast=0):
    """:func:`relax` of every state ``stack[c]`` (shape (n, N, 3)) in place, in one compiled call.

    ``max_iters[c]`` caps the iterations of state ``c`` and ``exact[c]`` (bool) selects its dot
    products (:func:`_dot`); the energies, max torques and iteration
    counts are written into ``energies``, ``torques`` and ``iters`` (length n). A state with
    ``exact[c]`` False keeps ``memory_fast`` pairs when that is positive (``memory`` otherwise).
    Each state is relaxed exactly as a separate :func:`relax` call would relax it; the states
    with ``exact[c]`` go two at a time through :func:`relax_pairs` (same results, the serial
    sums of the two overlap).
    """
    for c in range(stack.shape[0]):
        if exact[c]:
            continue
        mem = memory if memory_fast <= 0 else memory_fast
        e, t, it = relax(stack[c], nbr, mats, K, h, tol, max_iters[c], mem, False)
        energies[c] = e
        torques[c] = t
        iters[c] = it
    order = np.flatnonzero(exact)
    if order.shape[0] == 1:
        c = order[0]
        e, t, it = relax(stack[c], nbr, mats, K, h, tol, max_iters[c], memory, True)
        energies[c] = e
        torques[c] = t
        iters[c] = it
    elif order.shape[0] > 1:
        relax_pairs(stack, order, nbr, mats, K, h, tol, max_iters, memory, energies, torques,
                    iters)


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
