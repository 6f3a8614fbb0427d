"""Acquisition strategies: which points of the unit cube to simulate next.

``select_batch(strategy, n, ...)`` is the one entry point the explorer calls; strategy
names are listed in :data:`STRATEGIES` (``"balanced"`` is the default), and a custom
strategy is a plain function (see :func:`check_strategy`). ``convergence_metrics`` gives
the stopping-rule figures. ``prepare(surrogate)`` builds, e.g. in the thread that fitted
it, what proposals with a newly fitted surrogate reuse; ``cached_context`` /
``install_context`` carry it to another process along with the surrogate.
"""

from __future__ import annotations

from spinexplore.strategies._context import cached_context, install_context, prepare
from spinexplore.strategies.base import DEFAULT_STRATEGY, STRATEGIES, check_strategy, select_batch
from spinexplore.strategies.convergence import convergence_metrics, reference_points
from spinexplore.strategies.uncertainty import entropy, least_confidence, margin

__all__ = [
    "DEFAULT_STRATEGY",
    "STRATEGIES",
    "cached_context",
    "check_strategy",
    "convergence_metrics",
    "entropy",
    "install_context",
    "least_confidence",
    "margin",
    "prepare",
    "reference_points",
    "select_batch",
]
