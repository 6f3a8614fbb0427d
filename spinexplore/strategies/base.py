"""Acquisition strategies and batch selection: where to simulate next."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from spinexplore._validation import check_int, check_real
from spinexplore.strategies.batch import (
    MIN_SEPARATION,
    farthest_points,
    greedy_spread,
    local_candidates,
    nearest_distance,
    sobol_pool,
    spacing,
)
from spinexplore.strategies.uncertainty import UNCERTAINTY_MEASURES, margin
from spinexplore.results import PhaseType

__all__ = ["STRATEGIES", "DEFAULT_STRATEGY", "check_strategy", "select_batch"]

STRATEGIES = ("balanced", "uncertainty", "entropy", "margin", "least_confidence", "boundary",
              "exploration", "random")
DEFAULT_STRATEGY = "balanced"

#: Labels that carry no phase (the points are avoided, not learned from).
IGNORED_LABELS = (int(PhaseType.FAILED), int(PhaseType.TIMEOUT))
#: Hard minimum distance of a new point to known points, in units of the mean spacing.
R_KNOWN = 0.15
#: Minimum distance between two points of one batch, in units of the mean spacing.
R_BATCH = 0.5


def check_strategy(strategy: Any) -> str | Callable[..., Any]:
    """Return ``strategy`` if it is a known name or a callable, else raise ``ValueError``.

    Names (:data:`STRATEGIES`):

    ``"balanced"`` (default)
        Most of the batch goes where the surrogate is least sure (margin between the two
        most probable phases), among random candidates and points between differently
        labelled neighbours; a share (``explore_fraction``, 30 %) goes to the places
        farthest from every known point, so that small phase islands are found.
    ``"uncertainty"`` (alias ``"entropy"``), ``"margin"``, ``"least_confidence"``
        Pure uncertainty sampling with that measure (:mod:`.uncertainty`).
    ``"boundary"``
        Midpoints (and jittered copies) of neighbouring labelled points with different
        phases, longest gaps first; needs labels, not the surrogate.
    ``"exploration"``
        Space filling: greedy maximin distance to every finished, pending or failed point.
    ``"random"``
        Uniform random points.

    A custom strategy is a plain function::

        def my_strategy(candidates, proba, *, n, rng):
            # candidates: ndarray (c, d) in the unit cube; proba: ndarray (c, k) of the
            # surrogate's phase probabilities; n: batch size; rng: numpy Generator.
            # Return either scores (c,) floats, higher = more wanted, or integer indices.
            return 1.0 - proba.max(axis=1)

    Scores go through the same spread-out batch selection as the built-in strategies;
    returned indices are taken as they are (too-close points dropped, gaps filled by
    exploration). Before the first surrogate exists, every strategy but ``"random"``
    explores.

    Examples
    --------
    >>> check_strategy("balanced")
    'balanced'
    >>> def top_entropy(candidates, proba, *, n, rng):
    ...     return -(proba * np.log(proba + 1e-12)).sum(axis=1)
    >>> check_strategy(top_entropy) is top_entropy
    True
    """
    if callable(strategy):
        return strategy
    if isinstance(strategy, str) and strategy in STRATEGIES:
        return strategy
    raise ValueError(
        f"strategy must be one of {list(STRATEGIES)} or a function "
        f"fn(candidates, proba, *, n, rng) -> scores or indices; got {strategy!r}"
    )


def _points(name: str, X: Any, n_dims: int) -> np.ndarray:
    if X is None:
        return np.empty((0, n_dims))
    arr = np.asarray(X, dtype=float)
    if arr.size == 0:
        return np.empty((0, n_dims))
    if arr.ndim != 2 or arr.shape[1] != n_dims:
        raise ValueError(f"{name} must have shape (n_points, {n_dims}); got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def _predict(surrogate: Any, X: np.ndarray) -> np.ndarray | None:
    if surrogate is None or X.shape[0] == 0:
        return None
    classes = getattr(surrogate, "classes_", None)
    if classes is None or len(classes) < 2:
        return None
    proba = np.asarray(surrogate.predict_proba(X), dtype=float)
    if proba.ndim != 2 or proba.shape[0] != X.shape[0] or proba.shape[1] < 2:
        return None
    return proba


def select_batch(
    strategy: str | Callable[..., Any],
    n: int,
    *,
    n_dims: int,
    surrogate: Any = None,
    X_labeled: Any = None,
    y: Any = None,
    X_pending: Any = None,
    X_failed: Any = None,
    rng: np.random.Generator | int | None = None,
    explore_fraction: float | None = None,
    island_volume: float = 0.01,
) -> np.ndarray:
    """Choose ``n`` new points of the unit cube to simulate next.

    Parameters
    ----------
    strategy : str or callable
        A name from :data:`STRATEGIES` or a custom function (see :func:`check_strategy`).
    n : int
        Batch size, ``n >= 1``.
    n_dims : int
        Dimension of the unit cube.
    surrogate : Surrogate or None
        Fitted on the finished points; ``None`` before any label (then every strategy
        except ``"random"`` explores).
    X_labeled : ndarray of shape (m, n_dims) or None
        Finished points with a phase, in the unit cube.
    y : ndarray of shape (m,) or None
        Their phase labels (points labelled ``PhaseType.FAILED`` / ``TIMEOUT`` are treated
        as ``X_failed``).
    X_pending : ndarray of shape (p, n_dims) or None
        Points in flight (never proposed again, and kept at a distance).
    X_failed : ndarray of shape (f, n_dims) or None
        Failed or timed-out points (never proposed again, and kept at a distance).
    rng : numpy Generator, int or None
        Randomness of the candidate pool.
    explore_fraction : float or None, default=None
        Share of a ``"balanced"`` batch spent on space filling. ``None``: it follows the
        ratio of the fill distance (the largest distance from a candidate to the nearest
        known point) to the radius of a ball of volume ``island_volume``: 0.5 while the
        ratio is >= 2, falling linearly to 0.1 when it reaches 1, when no such ball can
        be empty any more.
    island_volume : float, default=0.01
        Volume fraction of the box of the smallest island ``"balanced"`` must not miss
        (see ``explore_fraction``).

    Returns
    -------
    ndarray of shape (n, n_dims)
        New points in ``[0, 1]^n_dims``: no two closer than ``1e-6``, none closer than
        ``1e-6`` to a labelled, pending or failed point, and in practice spread at a
        fraction of the mean spacing.

    Raises
    ------
    ValueError
        For an unknown strategy (the message lists :data:`STRATEGIES`), ``n < 1``,
        ``n_dims < 1`` or arrays of the wrong shape.
    """
    strategy = check_strategy(strategy)
    n = check_int("n", n, minimum=1)
    n_dims = check_int("n_dims", n_dims, minimum=1)
    if explore_fraction is not None:
        explore_fraction = float(check_real("explore_fraction", explore_fraction, minimum=0.0,
                                            maximum=1.0))
    island_volume = float(check_real("island_volume", island_volume, minimum=0.0, maximum=1.0,
                                     strict_min=True))
    X_lab = _points("X_labeled", X_labeled, n_dims)
    y_arr = np.empty(0, int) if y is None else np.asarray(y).reshape(-1)
    if y_arr.shape[0] != X_lab.shape[0]:
        raise ValueError(
            f"y must have one label per row of X_labeled ({X_lab.shape[0]}); got {y_arr.shape[0]}"
        )
    X_pend = _points("X_pending", X_pending, n_dims)
    X_fail = _points("X_failed", X_failed, n_dims)
    if y_arr.dtype.kind in "iu" and y_arr.size:  # FAILED / TIMEOUT labels: no phase
        bad = np.isin(y_arr, IGNORED_LABELS)
        if bad.any():
            X_fail = np.vstack([X_fail, X_lab[bad]])
            X_lab, y_arr = X_lab[~bad], y_arr[~bad]
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)

    known = np.vstack([X_lab, X_pend, X_fail])
    h = spacing(known.shape[0] + n, n_dims)
    r_known, r_batch = R_KNOWN * h, R_BATCH * h
    pool = sobol_pool(n_dims, rng)

    if strategy == "random":
        return _random_points(n, n_dims, known, np.empty((0, n_dims)), rng)

    proba_pool = None if strategy == "exploration" else _predict(surrogate, pool)
    if proba_pool is None:  # exploration, or nothing learned yet
        idx = farthest_points(pool, n, known, r_known)
        return _fill(pool[idx], n, known, pool, rng, r_known)

    local, lengths = local_candidates(X_lab, y_arr, rng)
    cand = np.vstack([pool, local])
    if strategy == "boundary":
        if local.shape[0] == 0:
            idx = farthest_points(pool, n, known, r_known)
            return _fill(pool[idx], n, known, pool, rng, r_known)
        tie = _tie_break(local, known, h)
        idx = greedy_spread(local, lengths / lengths.max() + tie, n, known, r_known, r_batch)
        return _fill(local[idx], n, known, pool, rng, r_known)

    proba = np.vstack([proba_pool, _predict(surrogate, local)]) if local.shape[0] else proba_pool
    if callable(strategy):
        return _custom(strategy, cand, proba, n, known, pool, rng, r_known, r_batch, h)

    measure = UNCERTAINTY_MEASURES.get(strategy, margin)
    if strategy == "uncertainty":
        measure = UNCERTAINTY_MEASURES["entropy"]
    scores = measure(proba) + _tie_break(cand, known, h)
    if strategy != "balanced":
        idx = greedy_spread(cand, scores, n, known, r_known, r_batch)
        return _fill(cand[idx], n, known, pool, rng, r_known)

    if explore_fraction is None:
        fill = float(np.max(nearest_distance(pool, known))) if known.shape[0] else np.inf
        ratio = fill / ball_radius(island_volume, n_dims)
        explore_fraction = float(np.clip(0.1 + 0.4 * (ratio - 1.0), 0.1, 0.5))
    n_explore = int(np.floor(explore_fraction * n + rng.random()))
    n_exploit = n - n_explore
    idx = greedy_spread(cand, scores, n_exploit, known, r_known, r_batch)
    chosen = cand[idx]
    e_idx = farthest_points(pool, n - chosen.shape[0], np.vstack([known, chosen]), r_known)
    return _fill(np.vstack([chosen, pool[e_idx]]), n, known, pool, rng, r_known)


def ball_radius(volume: float, n_dims: int) -> float:
    """Radius of the ``n_dims``-ball with the given volume."""
    unit = math.pi ** (n_dims / 2) / math.gamma(n_dims / 2 + 1)
    return float((volume / unit) ** (1.0 / n_dims))


def _tie_break(cand: np.ndarray, known: np.ndarray, h: float) -> np.ndarray:
    """A small bonus (<= 0.05) for candidates far from known points: breaks ties in flat regions."""
    d = nearest_distance(cand, known)
    return 0.05 * np.minimum(np.nan_to_num(d / h, posinf=1.0), 1.0)


def _custom(fn: Callable[..., Any], cand: np.ndarray, proba: np.ndarray, n: int,
            known: np.ndarray, pool: np.ndarray, rng: np.random.Generator,
            r_known: float, r_batch: float, h: float) -> np.ndarray:
    out = np.asarray(fn(cand, proba, n=n, rng=rng))
    if out.ndim != 1:
        raise ValueError(
            f"a custom strategy must return scores of shape ({cand.shape[0]},) or integer "
            f"indices; {fn!r} returned shape {out.shape}"
        )
    if out.dtype.kind in "iu":
        if out.size and (out.min() < 0 or out.max() >= cand.shape[0]):
            raise ValueError(
                f"indices returned by {fn!r} must lie in [0, {cand.shape[0]}); got "
                f"min {out.min()}, max {out.max()}"
            )
        idx = greedy_spread(cand[out], np.linspace(1.0, 0.0, out.size), n, known,
                            MIN_SEPARATION, MIN_SEPARATION)
        return _fill(cand[out][idx], n, known, pool, rng, r_known)
    if out.shape[0] != cand.shape[0] or not np.all(np.isfinite(out)):
        raise ValueError(
            f"a custom strategy must return finite scores of shape ({cand.shape[0]},); "
            f"{fn!r} returned shape {out.shape}"
        )
    idx = greedy_spread(cand, out.astype(float), n, known, r_known, r_batch)
    return _fill(cand[idx], n, known, pool, rng, r_known)


def _random_points(n: int, n_dims: int, known: np.ndarray, chosen: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:
    """Append uniform random points to ``chosen`` until it has ``n`` rows (never duplicates)."""
    while chosen.shape[0] < n:
        x = rng.random((n - chosen.shape[0], n_dims))
        ref = np.vstack([known, chosen])
        far = nearest_distance(x, ref) >= MIN_SEPARATION
        for row in x[far]:
            if chosen.shape[0] and np.min(np.linalg.norm(chosen - row, axis=1)) < MIN_SEPARATION:
                continue
            chosen = np.vstack([chosen, row[None]])
    return chosen


def _fill(chosen: np.ndarray, n: int, known: np.ndarray, pool: np.ndarray,
          rng: np.random.Generator, r_known: float) -> np.ndarray:
    """Complete ``chosen`` to ``n`` points: maximin from the pool, then uniform draws."""
    chosen = chosen[:n]
    if chosen.shape[0] < n:
        idx = farthest_points(pool, n - chosen.shape[0], np.vstack([known, chosen]),
                              MIN_SEPARATION)
        chosen = np.vstack([chosen, pool[idx]])
    chosen = _random_points(n, pool.shape[1], known, chosen, rng)
    return np.clip(chosen, 0.0, 1.0)
