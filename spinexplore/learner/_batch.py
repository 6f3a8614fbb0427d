"""The learner's next batch: a share next to the undecided points, the rest from the strategy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["next_batch"]


def next_batch(n: int, strategy: str | Callable[..., Any], *, n_dims: int, surrogate: Any, X_labeled: np.ndarray,
               y: np.ndarray, X_pending: np.ndarray, X_failed: np.ndarray, X_undecided: np.ndarray,
               X_done: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``n`` unit-cube points for :meth:`PhaseLearner.propose`, follow-ups of the undecided points
    (``X_undecided``: UNKNOWN, when it is not learned) first.

    A quarter of the batch on average goes next to the least surrounded undecided points
    (``strategies.batch.around_undecided``, within half the spacing of ``X_done`` and
    ``X_pending``); the strategy chooses the rest (``strategies.select_batch``), keeping the
    pending points, the follow-ups and ``X_failed`` out. ``rng`` is the learner's Generator:
    each step draws the seed of a fresh Generator from it.
    """
    from spinexplore.strategies import select_batch

    follow = _around_undecided(n, X_undecided, X_done, X_pending, rng)
    if follow.shape[0]:
        X_pending = np.vstack([X_pending, follow])
    if follow.shape[0] == n:
        return follow
    U = select_batch(
        strategy, n - follow.shape[0], n_dims=n_dims, surrogate=surrogate, X_labeled=X_labeled, y=y,
        X_pending=X_pending, X_failed=X_failed,
        # a fresh Generator per call: its whole state derives from the learner's, whereas that
        # one's SeedSequence carries a spawn counter that the checkpointed bit-generator state
        # does not (scipy's qmc spawns from it).
        rng=np.random.default_rng(int(rng.integers(2**63 - 1))),
    )
    U = np.asarray(U, dtype=float).reshape(-1, n_dims)
    return np.vstack([follow, U]) if follow.shape[0] else U


def _around_undecided(n: int, X_undecided: np.ndarray, X_done: np.ndarray, X_pending: np.ndarray,
                      rng: np.random.Generator) -> np.ndarray:
    """Unit-cube points next to undecided points; none without any."""
    from spinexplore.strategies.batch import around_undecided, spacing

    n_dims = X_pending.shape[1]
    if not X_undecided.shape[0]:
        return np.empty((0, n_dims))
    rng = np.random.default_rng(int(rng.integers(2**63 - 1)))
    k = int(np.floor(0.25 * n + rng.random()))
    if k == 0:
        return np.empty((0, n_dims))
    known = np.vstack([X_done, X_pending])
    radius = 0.5 * spacing(known.shape[0], n_dims)
    return around_undecided(X_undecided, known, k, rng, radius)
