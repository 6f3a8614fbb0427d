"""Acquisition strategies: which points of the unit cube to simulate next.

``select_batch(strategy, n, ...)`` is the one entry point the explorer calls. Strategy
names are looked up in :data:`STRATEGIES`, a registry (``"balanced"`` is the default) that
:func:`register_strategy` extends with a scoring function; a custom strategy can also be
passed as a plain function (see :func:`check_strategy`). ``convergence_metrics`` gives the
stopping-rule figures. ``prepare(surrogate)`` builds, e.g. in the thread that fitted it, what
proposals with a newly fitted surrogate reuse; ``cached_context`` / ``install_context``
carry it to another process along with the surrogate.

Modules, from the bottom up: :mod:`.uncertainty` (measures) and :mod:`.batch` (candidate
pools, spread-out selection); ``_context`` (the proposal context per fitted surrogate);
``_select`` (lazy selection over it); ``_proposal`` (one call as a strategy sees it);
``_builtin`` and :mod:`.balanced` (the strategies); :mod:`.registry` (the registry and
``select_batch``); :mod:`.convergence` (the stopping rule) beside them.
"""

from __future__ import annotations

from spinexplore.strategies._context import cached_context, install_context, prepare
from spinexplore.strategies.convergence import convergence_metrics, reference_points
from spinexplore.strategies.registry import (
    DEFAULT_STRATEGY,
    STRATEGIES,
    check_strategy,
    register_strategy,
    select_batch,
)
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
    "register_strategy",
    "select_batch",
]
