"""Candidate pools and spread-out batch selection in the unit cube."""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy.spatial import cKDTree
from scipy.stats import qmc

__all__ = ["sobol_pool", "discordant_pairs", "local_candidates", "greedy_spread",
           "farthest_points", "nearest_distance", "spacing"]

#: No proposed point is ever closer than this (unit-cube units) to a known or chosen point.
MIN_SEPARATION = 1e-6


def spacing(n_points: int, n_dims: int) -> float:
    """Mean spacing ``n_points ** (-1 / n_dims)`` of ``n_points`` spread over the unit cube."""
    return float(max(n_points, 1) ** (-1.0 / n_dims))


def sobol_pool(n_dims: int, rng: np.random.Generator, n: int | None = None) -> np.ndarray:
    """A scrambled Sobol set of candidates; its size grows with ``n_dims`` only (no grids).

    Default size: 2048 in 1-2 D, 4096 in 3-6 D.
    """
    if n is None:
        n = 2048 if n_dims <= 2 else 4096
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return qmc.Sobol(n_dims, rng=rng).random_base2(int(math.ceil(math.log2(n))))[:n]


def nearest_distance(points: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Distance from each of ``points`` to the nearest of ``known`` (inf when none)."""
    if known.shape[0] == 0:
        return np.full(points.shape[0], np.inf)
    d, _ = cKDTree(known).query(points, k=1)
    return np.asarray(d, dtype=float)


def discordant_pairs(X: np.ndarray, y: np.ndarray, k: int | None = None, *,
                     tree: cKDTree | None = None, max_queries: int | None = None,
                     rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(i, j)`` of near neighbours with different labels (a boundary lies between).

    Each point is paired with its ``k`` nearest neighbours (default ``2 d + 2``).
    Returns the index arrays ``i``, ``j`` (each pair once).

    ``tree`` is a ready ``cKDTree`` of ``X`` (built when None). With ``max_queries``, at
    most that many points (a random subset drawn with ``rng``) look for their neighbours
    among all of ``X``, which bounds the cost at large ``len(X)``: the pairs are then a
    random share of all discordant pairs, plenty for a bounded candidate set.
    """
    m, d = X.shape
    if m < 2 or np.unique(y).size < 2:
        return np.empty(0, int), np.empty(0, int)
    k = min(m, (2 * d + 2) if k is None else k + 1)
    tree = cKDTree(X) if tree is None else tree
    queries = np.arange(m)
    if max_queries is not None and m > max_queries:
        rng = np.random.default_rng(0) if rng is None else rng
        queries = np.sort(rng.choice(m, int(max_queries), replace=False))
    _, nbr = tree.query(X[queries], k=k)
    i = np.repeat(queries, k - 1)
    j = nbr[:, 1:].ravel()
    diff = y[i] != y[j]
    i, j = i[diff], j[diff]
    a, b = np.minimum(i, j), np.maximum(i, j)
    pairs = np.unique(np.stack([a, b], axis=1), axis=0)
    return pairs[:, 0], pairs[:, 1]


def local_candidates(X: np.ndarray, y: np.ndarray, rng: np.random.Generator,
                     n_per_pair: int = 4, max_points: int = 2048, *,
                     tree: cKDTree | None = None,
                     max_queries: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Midpoints of discordant pairs plus jittered copies (scale a quarter of the pair length).

    Returns ``(points, pair_length)``, both clipped to the unit cube. ``tree`` and
    ``max_queries`` are passed to :func:`discordant_pairs`.
    """
    i, j = discordant_pairs(X, y, tree=tree, max_queries=max_queries, rng=rng)
    if i.size == 0:
        return np.empty((0, X.shape[1])), np.empty(0)
    if i.size > max_points:  # more pairs than candidates: a random share of them
        keep = np.sort(rng.choice(i.size, max_points, replace=False))
        i, j = i[keep], j[keep]
    mid = 0.5 * (X[i] + X[j])
    length = np.linalg.norm(X[i] - X[j], axis=1)
    reps = max(1, min(n_per_pair, max_points // max(1, mid.shape[0]) - 1))
    jit = np.repeat(mid, reps, axis=0) + rng.normal(size=(mid.shape[0] * reps, X.shape[1])) \
        * np.repeat(0.25 * length, reps)[:, None]
    pts = np.vstack([mid, jit])
    lens = np.concatenate([length, np.repeat(length, reps)])
    if pts.shape[0] > max_points:
        keep = np.concatenate([np.arange(min(mid.shape[0], max_points))])
        if keep.size < max_points:
            extra = rng.choice(np.arange(mid.shape[0], pts.shape[0]), max_points - keep.size,
                               replace=False)
            keep = np.concatenate([keep, extra])
        pts, lens = pts[keep], lens[keep]
    return np.clip(pts, 0.0, 1.0), lens


def greedy_spread(candidates: np.ndarray, scores: np.ndarray, n: int, known: np.ndarray,
                  r_known: float, r_batch: float, chosen: np.ndarray | None = None,
                  d_known: np.ndarray | None = None) -> np.ndarray:
    """Pick up to ``n`` candidates by decreasing score, keeping the batch spread out.

    A candidate is taken only if it lies at least ``r_known`` from every ``known`` point and
    at least ``r_batch`` from every point already taken (including ``chosen``). Returns the
    indices taken, in order. ``d_known``: the candidates' distances to the nearest known
    point when already computed (``known`` is then not used).
    """
    d_known = nearest_distance(candidates, known) if d_known is None else d_known
    ok = np.flatnonzero(d_known >= max(r_known, MIN_SEPARATION))
    order = ok[np.argsort(-scores[ok], kind="stable")]
    taken: list[int] = []
    picked = [] if chosen is None else list(chosen)
    r2 = max(r_batch, MIN_SEPARATION) ** 2
    for idx in order:
        if len(taken) >= n:
            break
        x = candidates[idx]
        if picked and np.min(np.sum((np.asarray(picked) - x) ** 2, axis=1)) < r2:
            continue
        taken.append(int(idx))
        picked.append(x)
    return np.asarray(taken, dtype=int)


def farthest_points(candidates: np.ndarray, n: int, known: np.ndarray,
                    r_min: float = MIN_SEPARATION) -> np.ndarray:
    """Greedy maximin: repeatedly take the candidate farthest from everything known/taken.

    Returns up to ``n`` indices into ``candidates``; candidates closer than ``r_min`` to
    anything are never taken.
    """
    dmin = nearest_distance(candidates, known)
    taken: list[int] = []
    for _ in range(n):
        idx = int(np.argmax(dmin))
        if not np.isfinite(dmin[idx]) and known.shape[0] == 0 and not taken:
            pass  # first point of an empty cube: any candidate will do
        elif dmin[idx] < max(r_min, MIN_SEPARATION):
            break
        taken.append(idx)
        dmin = np.minimum(dmin, np.linalg.norm(candidates - candidates[idx], axis=1))
    return np.asarray(taken, dtype=int)


def around_undecided(centres: np.ndarray, known: np.ndarray, n: int, rng: np.random.Generator,
                     radius: float, *, n_directions: int = 32) -> np.ndarray:
    """Up to ``n`` points near the undecided points ``centres`` (UNKNOWN: the simulation ran
    and could not decide, so something happens there), in the unit cube.

    A centre is followed up while fewer than ``2 * n_dims + 1`` known points (itself
    included) lie within ``1.5 * radius``; the least surrounded go first. Each new point sits
    at ``radius`` from its centre, in the direction (of ``n_directions`` random ones) farthest
    from every known point and every point chosen before it; none comes closer than
    ``radius / 4`` to a known point.
    """
    d = centres.shape[1] if centres.ndim == 2 else 0
    if n <= 0 or centres.shape[0] == 0:
        return np.empty((0, d))
    base = known if known.shape[0] else centres
    counts = np.asarray(cKDTree(base).query_ball_point(centres, 1.5 * radius, return_length=True))
    need = np.flatnonzero(counts < 2 * d + 1)
    chosen: list[np.ndarray] = []
    for c in centres[need[np.argsort(counts[need], kind="stable")]]:
        if len(chosen) == n:
            break
        dirs = rng.normal(size=(n_directions, d))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        cand = np.clip(c + radius * dirs, 0.0, 1.0)
        pts = np.vstack([base, *chosen]) if chosen else base
        gap = cKDTree(pts).query(cand, k=1)[0]
        best = int(np.argmax(gap))
        if gap[best] >= radius / 4:
            chosen.append(cand[best])
    return np.array(chosen).reshape(-1, d)
