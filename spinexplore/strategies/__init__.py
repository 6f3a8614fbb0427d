"""Acquisition strategies: which points of the unit cube to simulate next.

``select_batch(strategy, n, ...)`` is the one entry point the explorer calls; strategy
names are listed in :data:`STRATEGIES` (``"balanced"`` is the default), and a custom
strategy is a plain function (see :func:`check_strategy`). ``convergence_metrics`` gives
the stopping-rule figures.
"""

from __future__ import annotations

from spinexplore.strategies.base import DEFAULT_STRATEGY, STRATEGIES, check_strategy, select_batch
from spinexplore.strategies.convergence import convergence_metrics, reference_points
from spinexplore.strategies.uncertainty import entropy, least_confidence, margin

__all__ = [
    "DEFAULT_STRATEGY",
    "STRATEGIES",
    "check_strategy",
    "convergence_metrics",
    "entropy",
    "least_confidence",
    "margin",
    "reference_points",
    "select_batch",
]
