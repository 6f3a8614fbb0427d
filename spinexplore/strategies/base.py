"""Acquisition strategies and batch selection: where to simulate next."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from spinexplore._validation import check_int, check_real
from spinexplore.strategies._context import (
    IGNORED_LABELS,
    context_for,
    is_cacheable,
    split_failed,
)
from spinexplore.strategies._select import (
    Distances,
    fill_distance,
    lazy_farthest,
    lazy_spread,
    random_points,
)
from spinexplore.strategies.batch import MIN_SEPARATION, greedy_spread, spacing

__all__ = ["STRATEGIES", "DEFAULT_STRATEGY", "IGNORED_LABELS", "check_strategy", "select_batch"]

STRATEGIES = ("balanced", "uncertainty", "entropy", "margin", "least_confidence", "boundary",
              "exploration", "random")
DEFAULT_STRATEGY = "balanced"

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
    if not np.isfinite(arr.sum()) and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


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
        Points in flight: never proposed again, and counted as members of the batch (new
        points keep the batch spacing from them, so that proposals made one at a time as
        workers finish are as spread out as one batch).
    X_failed : ndarray of shape (f, n_dims) or None
        Failed or timed-out points (never proposed again, and kept at a distance).
    rng : numpy Generator, int or None
        Randomness of the batch (share of exploration, random points).
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

    Notes
    -----
    The candidates (a scrambled Sobol pool of 2048 points in 1-2 D, 4096 in 3-6 D, plus
    up to 2048 jittered midpoints of differently labelled neighbours), the surrogate's
    probabilities on them and their distances to the labelled points form a *proposal
    context* that is built once per fitted surrogate (see :func:`prepare`) and seeded by
    the data, not by ``rng``. Each call then accounts only for the points the context does
    not cover (labelled since the fit, pending, failed) and evaluates candidates lazily,
    best bound first: at 10^5 labelled points a call for a few points costs milliseconds
    (``benchmarks/proposal_latency.py``). The result is a function of the arguments and
    the surrogate: the same call gives the same batch, whether or not the context was
    cached. Pass ``X_labeled`` with the points the surrogate was fitted on in the same
    order (new points appended or inserted near the end) for the fast path.
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
    X_lab, y_arr, X_bad = split_failed(X_lab, y_arr)
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)

    n_known = X_lab.shape[0] + X_bad.shape[0] + X_pend.shape[0] + X_fail.shape[0]
    h = spacing(n_known + n, n_dims)
    r_known, r_batch = R_KNOWN * h, R_BATCH * h
    space_filling = strategy in ("random", "exploration")
    # a cached context serves every strategy; an uncached one needs no probabilities here
    use = None if space_filling and not is_cacheable(surrogate, n_dims) else surrogate
    ctx = context_for(use, n_dims, X_lab, y_arr)
    delta = [a for a in (ctx.new_labelled(X_lab), X_bad, X_pend, X_fail) if a.shape[0]]
    dist = Distances(ctx, np.vstack(delta) if delta else np.empty((0, n_dims)), X_pend)
    picked: list[np.ndarray] = []

    if strategy == "random":
        return _finish([], n, dist, picked, rng, fill_pool=False)
    if strategy == "exploration" or ctx.proba is None:  # or nothing learned yet
        return _finish(lazy_farthest(dist, n, picked, r_known), n, dist, picked, rng)

    local = np.arange(ctx.n_pool, ctx.cand.shape[0])
    if strategy == "boundary":
        if local.size == 0:
            return _finish(lazy_farthest(dist, n, picked, r_known), n, dist, picked, rng)
        u = np.zeros(ctx.cand.shape[0])
        u[local] = ctx.lengths / ctx.lengths.max()
        return _finish(lazy_spread(dist, local, u, h, n, r_known, r_batch, picked), n, dist,
                       picked, rng)

    if callable(strategy):
        return _custom(strategy, n, dist, picked, rng, r_known, r_batch)

    name = {"uncertainty": "entropy", "balanced": "margin"}.get(strategy, strategy)
    u = ctx.measure(name)
    members = np.arange(ctx.cand.shape[0])
    if strategy != "balanced":
        return _finish(lazy_spread(dist, members, u, h, n, r_known, r_batch, picked), n, dist,
                       picked, rng)

    if explore_fraction is None:
        ratio = fill_distance(dist) / ball_radius(island_volume, n_dims)
        explore_fraction = float(np.clip(0.1 + 0.4 * (ratio - 1.0), 0.1, 0.5))
    n_explore = int(np.floor(explore_fraction * n + rng.random()))
    taken = lazy_spread(dist, members, u, h, n - n_explore, r_known, r_batch, picked)
    taken += lazy_farthest(dist, n - len(taken), picked, r_known)
    return _finish(taken, n, dist, picked, rng)


def ball_radius(volume: float, n_dims: int) -> float:
    """Radius of the ``n_dims``-ball with the given volume."""
    unit = math.pi ** (n_dims / 2) / math.gamma(n_dims / 2 + 1)
    return float((volume / unit) ** (1.0 / n_dims))


def _custom(fn: Callable[..., Any], n: int, dist: Distances, picked: list[np.ndarray],
            rng: np.random.Generator, r_known: float, r_batch: float) -> np.ndarray:
    ctx = dist.ctx
    cand = ctx.cand
    out = np.asarray(fn(cand, ctx.proba, n=n, rng=rng))
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
        idx = greedy_spread(cand[out], np.linspace(1.0, 0.0, out.size), n, None,
                            MIN_SEPARATION, MIN_SEPARATION, d_known=dist.of(out))
        taken = out[idx].tolist()
    else:
        if out.shape[0] != cand.shape[0] or not np.all(np.isfinite(out)):
            raise ValueError(
                f"a custom strategy must return finite scores of shape ({cand.shape[0]},); "
                f"{fn!r} returned shape {out.shape}"
            )
        every = np.arange(cand.shape[0])
        taken = greedy_spread(cand, out.astype(float), n, None, r_known, r_batch,
                              d_known=dist.of(every)).tolist()
    picked.extend(cand[taken])
    return _finish(taken, n, dist, picked, rng)


def _finish(taken: list[int], n: int, dist: Distances, picked: list[np.ndarray],
            rng: np.random.Generator, fill_pool: bool = True) -> np.ndarray:
    """The chosen candidates, completed to ``n`` points: maximin from the pool, then uniform.

    ``picked`` holds the coordinates of every point chosen so far (``taken`` among them).
    """
    chosen = [dist.ctx.cand[c] for c in taken[:n]]
    if len(chosen) < n and fill_pool:
        chosen += [dist.ctx.cand[c] for c in lazy_farthest(dist, n - len(chosen), picked)]
    if len(chosen) < n:
        chosen += random_points(dist, n - len(chosen), picked, rng)
    return np.clip(np.asarray(chosen, dtype=float).reshape(n, -1), 0.0, 1.0)
