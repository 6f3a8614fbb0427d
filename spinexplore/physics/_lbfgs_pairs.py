"""numba relaxation of many spin configurations in one compiled call (:func:`relax_many`), the
exact-arithmetic ones two at a time (:func:`relax_pairs`): each state's sums in their own chain,
in the order of :func:`._lbfgs.relax`, so the results are bit for bit those of separate calls.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from spinexplore.physics._lbfgs import (_axpy_dot, _dot, _first_dot, _objective, _steepest,
                                         _store_pair, _sub_scale, copy_rows, relax)


@njit(cache=True)
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


@njit(cache=True)
def _dot2(a, b, a2, b2):
    """:func:`_dot` (exact arithmetic) of two states in one pass, each sum its own chain."""
    acc = 0.0
    acc2 = 0.0
    for k in range(a.shape[0]):
        acc += a[k] * b[k]
        acc2 += a2[k] * b2[k]
    return acc, acc2


@njit(cache=True)
def _two_loop_pair(d0, g0, S0, Y0, rho0, alpha0, head0, k0, sgf0, last_sy0, last_yy0,
                   d1, g1, S1, Y1, rho1, alpha1, head1, k1, sgf1, last_sy1, last_yy1, memory):
    """The two-loop recursion of :func:`relax` (exact arithmetic, ``k > 0``) of two states at
    once: every dot product of a state is the same chain in the same order as in
    :func:`relax`; steps both states have run in one pass (:func:`_axpy_dot2`). Returns the
    two ``g.d``."""
    idx0 = (head0 - 1) % memory
    idx1 = (head1 - 1) % memory
    al0 = _first_dot(d0, g0, S0, rho0, alpha0, idx0, sgf0, True)
    al1 = _first_dot(d1, g1, S1, rho1, alpha1, idx1, sgf1, True)
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
                    copy_rows(stack[c], s_work)
                    energies[c] = ef
                    torques[c] = tf
                    iters[c] = it[p]
                    sid[p] = -1
                if nxt_state >= order.shape[0]:
                    break
                c = order[nxt_state]
                nxt_state += 1
                sid[p] = c
                copy_rows(X4[p, 0], stack[c])
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
                    al = _first_dot(d, g, S[p], rho[p], alpha[p], idx, sg_fresh[p], True)
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
                    gd[p] = _steepest(d, g, True)
            if gd[p] >= 0.0:
                gd[p] = _steepest(d, g, True)
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
    sums of the two overlap). ``relax`` gets ``exact[c]`` (a ``bool`` at run time, never the
    literal ``True``/``False``), so this and the Python callers share one compiled
    specialization of it: every literal or omitted flag is another full compile (seconds each).
    """
    for c in range(stack.shape[0]):
        if exact[c]:
            continue
        mem = memory if memory_fast <= 0 else memory_fast
        e, t, it = relax(stack[c], nbr, mats, K, h, tol, max_iters[c], mem, exact[c], -np.inf)
        energies[c] = e
        torques[c] = t
        iters[c] = it
    order = np.flatnonzero(exact)
    if order.shape[0] == 1:
        c = order[0]
        e, t, it = relax(stack[c], nbr, mats, K, h, tol, max_iters[c], memory, exact[c],
                         -np.inf)
        energies[c] = e
        torques[c] = t
        iters[c] = it
    elif order.shape[0] > 1:
        relax_pairs(stack, order, nbr, mats, K, h, tol, max_iters, memory, energies, torques,
                    iters)
