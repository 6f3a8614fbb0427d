"""Bragg peaks of ``S(q)`` folded over ``+-q`` (helpers of :mod:`.observables`, which
re-exports :func:`find_peaks` and :func:`reduce_q`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from spinexplore.physics.lattice import Lattice

__all__ = ["find_peaks", "reduce_q"]


def _fold_pairs(sq: np.ndarray, lattice: Lattice) -> tuple[np.ndarray, np.ndarray]:
    """Indices of one representative per +-q pair (q != 0) and the pair partner indices."""
    L = lattice.L
    n = lattice.q_integers
    # row of (n1, n2) in FFT order is (n1 mod L) + L (n2 mod L); q = 0 is row 0
    partner = ((-n[:, 0]) % L) + L * ((-n[:, 1]) % L)
    idx = np.arange(lattice.N)
    keep = (idx <= partner) & (idx != 0)
    return idx[keep], partner[keep]


def find_peaks(
    sq_inplane: np.ndarray,
    sq_z: np.ndarray,
    lattice: Lattice,
    *,
    relative: float = 0.25,
    harmonic_ratio: float = 1.25,
    min_weight: float = 1e-4,
    max_peaks: int = 16,
) -> list[dict[str, Any]]:
    """Primary Bragg peaks of ``S(q)``, folded over ``+-q``.

    A pair counts when its weight is at least ``relative`` times the strongest pair and at
    least ``min_weight`` (rounding noise of a uniform state is not a peak); the search stops
    after ``max_peaks`` primaries (a disordered state has hundreds). A pair
    that sits one grid step from a stronger primary peak is merged into it; a pair that is a
    small integer combination of stronger primaries and longer than ``harmonic_ratio`` times
    them is a harmonic and is skipped.

    Returns
    -------
    list of dict
        Strongest first, each with ``n`` (integer grid label), ``q`` (Cartesian), ``norm``,
        ``weight`` (``S(q) + S(-q)``, merged neighbours included), ``weight_inplane`` and
        ``weight_z``.
    """
    sq = sq_inplane + sq_z
    rep, partner = _fold_pairs(sq, lattice)
    w = sq[rep] + np.where(rep == partner, 0.0, sq[partner])
    w_in = sq_inplane[rep] + np.where(rep == partner, 0.0, sq_inplane[partner])
    w_z = sq_z[rep] + np.where(rep == partner, 0.0, sq_z[partner])
    order = np.argsort(-w, kind="stable")
    if w.size == 0 or w[order[0]] <= 0.0:
        return []
    top = w[order[0]]
    L = lattice.L
    ints = lattice.q_integers
    step = float(np.max(np.linalg.norm(lattice.b, axis=1))) / L * 1.01
    peaks: list[dict[str, Any]] = []
    for k in order:
        if w[k] < relative * top * 0.999 or w[k] < min_weight:
            break
        n, q, norm = reduce_q(ints[rep[k]], lattice)
        merged = False
        for p in peaks:
            for sgn in (1, -1):
                _, _, dist = reduce_q(n - sgn * np.asarray(p["n"]), lattice)
                if dist <= step and dist < 0.5 * p["norm"]:
                    p["weight"] += float(w[k])
                    p["weight_inplane"] += float(w_in[k])
                    p["weight_z"] += float(w_z[k])
                    merged = True
                    break
            if merged:
                break
        if merged or _is_harmonic(n, norm, peaks, L, harmonic_ratio):
            continue
        peaks.append(
            {
                "n": [int(n[0]), int(n[1])],
                "q": q,
                "norm": norm,
                "weight": float(w[k]),
                "weight_inplane": float(w_in[k]),
                "weight_z": float(w_z[k]),
            }
        )
        if len(peaks) >= max_peaks:
            break
    return peaks


def reduce_q(n: Any, lattice: Lattice) -> tuple[np.ndarray, np.ndarray, float]:
    """Shortest representative of the grid wavevector ``n`` modulo the reciprocal lattice.

    Parameters
    ----------
    n : sequence of 2 ints
        Grid label ``(n1, n2)``, ``q = (n1 b1 + n2 b2) / L``.
    lattice : Lattice

    Returns
    -------
    n_short : ndarray of int, shape (2,)
    q : ndarray of shape (2,)
        Cartesian wavevector of ``n_short``.
    norm : float
    """
    L = lattice.L
    base = (np.asarray(n, dtype=np.int64) + L // 2) % L - L // 2
    best = None
    for k1 in (-1, 0, 1):
        for k2 in (-1, 0, 1):
            cand = base + L * np.array([k1, k2])
            q = cand @ lattice.b / L
            nrm = float(np.hypot(q[0], q[1]))
            if best is None or nrm < best[2] - 1e-12:
                best = (cand, q, nrm)
    return best


def _is_harmonic(n: np.ndarray, norm: float, peaks: list[dict[str, Any]], L: int, ratio: float) -> bool:
    if not peaks:
        return False
    longest = max(p["norm"] for p in peaks)
    if norm <= ratio * longest:
        return False
    base = [np.asarray(p["n"]) for p in peaks[:3]]
    coeffs = range(-3, 4)
    for i, bi in enumerate(base):
        for a in coeffs:
            if a == 0:
                continue
            if np.all((a * bi - n) % L == 0):
                return True
            for bj in base[i + 1 :]:
                for c in coeffs:
                    if c == 0:
                        continue
                    if np.all((a * bi + c * bj - n) % L == 0):
                        return True
    return False
