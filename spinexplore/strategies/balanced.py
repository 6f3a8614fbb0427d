"""The default strategy, ``"balanced"``: uncertainty sampling with a share of exploration.

Most of the batch goes where the surrogate is least sure (the margin between the two most
probable phases), among random candidates and points between differently labelled
neighbours; a share goes to the places farthest from every known point, so that small phase
islands are found. The share follows how well the known points cover the box.
"""

from __future__ import annotations

import math

import numpy as np

from spinexplore.strategies.base import Proposal
from spinexplore.strategies._select import fill_distance

__all__ = ["balanced", "ball_radius", "explore_share"]


def ball_radius(volume: float, n_dims: int) -> float:
    """Radius of the ``n_dims``-ball with the given volume."""
    unit = math.pi ** (n_dims / 2) / math.gamma(n_dims / 2 + 1)
    return float((volume / unit) ** (1.0 / n_dims))


def explore_share(fill: float, island_volume: float, n_dims: int) -> float:
    """The share of a batch spent on space filling, from the fill distance.

    ``fill`` is the largest distance from a candidate to the nearest known point. The share
    follows its ratio to the radius of a ball of volume ``island_volume``: 0.5 while the
    ratio is >= 2, falling linearly to 0.1 when it reaches 1, when no such ball can be empty
    any more.
    """
    ratio = fill / ball_radius(island_volume, n_dims)
    return float(np.clip(0.1 + 0.4 * (ratio - 1.0), 0.1, 0.5))


def balanced(p: Proposal) -> np.ndarray:
    """``"balanced"``: margin sampling, plus ``explore_fraction`` of the batch on exploration.

    The number of exploring points is ``floor(explore_fraction * n + U)`` with ``U`` uniform
    in [0, 1), so that its mean is ``explore_fraction * n`` for any batch size, one point
    included. ``p.explore_fraction`` None: :func:`explore_share`.
    """
    fraction = p.explore_fraction
    if fraction is None:
        fraction = explore_share(fill_distance(p.dist), p.island_volume, p.ctx.n_dims)
    n_explore = int(np.floor(fraction * p.n + p.rng.random()))
    taken = p.spread(np.arange(p.ctx.cand.shape[0]), p.ctx.measure("margin"), p.n - n_explore)
    taken += p.farthest(p.n - len(taken))
    return p.finish(taken)
