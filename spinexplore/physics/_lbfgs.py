"""numba L-BFGS relaxation on the sphere of one spin configuration (:func:`relax`).

The objective is the energy of :mod:`._kernels` (its coupling table); the dot products come in
two arithmetics: the exact one of earlier releases (single running sums, kept for the families
whose energies must not move, see :mod:`._search`) and a fast one (partial sums).

The small helpers are plain ``@njit`` functions, not ``inline="always"``: numba's own inlining
copied their typed IR into every call site (both arithmetics each time), about 4 s of the 20 s a
fresh cache takes to compile; LLVM inlines them anyway, so the compiled code runs as fast and
gives the same bits (``benchmarks/solver_identity.py``). The Metropolis helpers of
:mod:`._kernels` keep ``inline="always"``: without it ``mc_sweeps`` runs 40 % slower.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from spinexplore.physics._kernels import _pair_field, energy_and_fields


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


@njit(cache=True)
def _objective_any(x, spins, nbr, mats, K, h, fields, grad, exact):
    if exact:
        return _objective(x, spins, nbr, mats, K, h, fields, grad)
    return _objective_fast(x, spins, nbr, mats, K, h, fields, grad)


@njit(cache=True)
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


@njit(cache=True)
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


@njit(cache=True)
def _first_dot(d, g, S, rho, alpha, idx, sg_fresh, exact):
    """``d = -g`` and the first ``alpha`` of the two-loop recursion, ``rho s.d`` of the pair
    stored last (slot ``idx``). With ``sg_fresh`` nonzero (exact arithmetic only), ``s.(-g)`` is
    the negated ``s.g`` that :func:`_store_pair` summed with the pair's other two chains: each
    term and hence every partial sum is negated exactly (only a sum of exactly zero could differ,
    in its sign; it is computed here)."""
    for a in range(d.shape[0]):
        d[a] = -g[a]
    if sg_fresh != 0.0:
        al = rho[idx] * -sg_fresh
    else:
        al = rho[idx] * _dot(S[idx], d, exact)
    alpha[idx] = al
    return al


@njit(cache=True)
def _steepest(d, g, exact):
    """``d = -c g`` with ``c = min(1, 0.1 / max |g_a|)`` (a first step of at most 0.1 per
    component), and ``g . d``: the direction when no pair is stored, or after one that did not
    descend."""
    gmax = 0.0
    for a in range(g.shape[0]):
        gmax = max(gmax, abs(g[a]))
    c = min(1.0, 0.1 / max(gmax, 1e-300))
    for a in range(g.shape[0]):
        d[a] = -c * g[a]
    return _dot(g, d, exact)


@njit(cache=True)
def copy_rows(dst, src):
    """``dst[:] = src`` for (n, 3) arrays, as a loop: numba's slice assignment compiles a
    shape-mismatch message (string formatting), seconds of compile time in every fresh cache."""
    for i in range(src.shape[0]):
        dst[i, 0] = src[i, 0]
        dst[i, 1] = src[i, 1]
        dst[i, 2] = src[i, 2]


@njit(cache=True)
def _sub_scale(d, c, v, gamma):
    """``d -= c * v`` then ``d *= gamma``, in one pass (the same values as two loops)."""
    for a in range(d.shape[0]):
        d[a] -= c * v[a]
        d[a] *= gamma


@njit(cache=True)
def relax(spins, nbr, mats, K, h, tol, max_iter, memory, exact=False, e_stop=-np.inf):
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

    ``e_stop`` (a total energy): the relaxation also ends once the energy is at or below it, for
    a caller that only asks whether the relaxed energy lies below a threshold (an accepted step
    never raises the energy by more than its slack of 1e-12 (|E| + 1)); ``-inf``: never. Pass
    ``exact`` and ``e_stop`` always, as run-time values: every omitted or literal flag is another
    compiled specialization.
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
    while tmax > tol and it < max_iter and fails < 3 and e > e_stop:
        it += 1
        if k > 0:
            # first loop: d = -g, then d -= alpha_m y_m, each fused with the next s_m . d
            idx = (head - 1) % memory
            al = _first_dot(d, g, S, rho, alpha, idx, sg_fresh, exact)
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
            gd = _steepest(d, g, exact)
        if gd >= 0.0:
            gd = _steepest(d, g, exact)
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
    copy_rows(spins, s_work)
    return e, tmax, it
