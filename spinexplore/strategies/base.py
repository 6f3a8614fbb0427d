"""What a strategy is (:class:`Strategy`) and one call of ``select_batch`` as it sees it: a
:class:`Proposal`.

The dispatcher (:mod:`spinexplore.strategies.registry`) validates the arguments, builds the
proposal context and the distances to everything known, and hands a :class:`Proposal` to
the strategy registered under the requested name. A strategy chooses candidates with the
helpers below and returns ``proposal.finish(taken)``: the chosen points, completed to the
batch size by space filling.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from spinexplore.strategies._context import ProposalContext
from spinexplore.strategies._select import Distances, lazy_farthest, lazy_spread, random_points

__all__ = ["Proposal", "R_KNOWN", "R_BATCH", "Strategy"]

#: Hard minimum distance of a new point to known points, in units of the mean spacing.
R_KNOWN = 0.15
#: Minimum distance between two points of one batch, in units of the mean spacing.
R_BATCH = 0.5


class Proposal:
    """The state of one batch proposal.

    Parameters
    ----------
    dist : Distances
        The candidates (``dist.ctx``) and their distances to every known point.
    n : int
        Batch size.
    h : float
        Mean spacing of the known points plus the batch; the radii scale with it.
    rng : numpy Generator
        Randomness of the batch.
    explore_fraction : float or None
        Share of the batch a strategy that mixes exploration in spends on it (None: its own
        rule).
    island_volume : float
        Volume fraction of the smallest phase island a strategy should not miss.

    Attributes
    ----------
    ctx : ProposalContext
        Candidates ``ctx.cand``, the surrogate's probabilities on them ``ctx.proba`` (None
        before a surrogate with two phases exists) and their uncertainty measures.
    r_known, r_batch : float
        No new point closer than ``r_known`` to a known point or than ``r_batch`` to another
        point of the batch or a point in flight.
    picked : list of ndarray
        Coordinates of the points chosen so far (the helpers extend it).
    """

    def __init__(self, dist: Distances, n: int, h: float, rng: np.random.Generator,
                 explore_fraction: float | None, island_volume: float) -> None:
        self.dist = dist
        self.ctx: ProposalContext = dist.ctx
        self.n, self.h, self.rng = n, h, rng
        self.r_known, self.r_batch = R_KNOWN * h, R_BATCH * h
        self.explore_fraction, self.island_volume = explore_fraction, island_volume
        self.picked: list[np.ndarray] = []

    def spread(self, members: np.ndarray, u: np.ndarray, n: int | None = None) -> list[int]:
        """Up to ``n`` (default: the batch size) of ``members`` by decreasing ``u``, spread out.

        See :func:`~spinexplore.strategies._select.lazy_spread`; ``u`` is aligned with the
        candidates.
        """
        n = self.n if n is None else n
        return lazy_spread(self.dist, members, u, self.h, n, self.r_known, self.r_batch,
                           self.picked)

    def farthest(self, n: int) -> list[int]:
        """Up to ``n`` pool candidates by greedy maximin distance to everything known and picked."""
        return lazy_farthest(self.dist, n, self.picked, self.r_known)

    def explore(self) -> np.ndarray:
        """A whole batch of space filling: the finished proposal."""
        return self.finish(self.farthest(self.n))

    def finish(self, taken: list[int], fill_pool: bool = True) -> np.ndarray:
        """The chosen candidates, completed to ``n`` points: maximin from the pool, then uniform.

        ``taken``: candidate indices, all in :attr:`picked` already. ``fill_pool=False`` skips
        the pool and completes with uniform random points only.

        Returns
        -------
        ndarray of shape (n, n_dims)
            The batch, clipped to the unit cube.
        """
        n, cand = self.n, self.ctx.cand
        chosen = [cand[c] for c in taken[:n]]
        if len(chosen) < n and fill_pool:
            chosen += [cand[c] for c in lazy_farthest(self.dist, n - len(chosen), self.picked)]
        if len(chosen) < n:
            chosen += random_points(self.dist, n - len(chosen), self.picked, self.rng)
        return np.clip(np.asarray(chosen, dtype=float).reshape(n, -1), 0.0, 1.0)


@runtime_checkable
class Strategy(Protocol):
    """What :data:`~spinexplore.strategies.STRATEGIES` maps a name to: a callable
    ``strategy(proposal) -> ndarray (n, n_dims)`` of points of the unit cube, usually
    ``proposal.finish(taken)``. An optional attribute ``space_filling = True`` marks a
    strategy that needs no surrogate (it runs before the first fit too); a user's scoring
    function becomes one through :func:`~spinexplore.strategies.register_strategy`."""

    def __call__(self, proposal: Proposal) -> np.ndarray:
        ...
