"""spinexplore: map phase diagrams of classical spin models by parallel active learning.

The public names are re-exported here; heavy modules (the numba solver, plotting) load only
when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # lazily at run time: `import spinexplore` (the command's start) stays instant
    from spinexplore.results import PhaseType, PointRecord, PointStatus, SimulationResult
    from spinexplore.space import Dimension, ParameterSpace

__version__ = "0.3.0"

_LAZY = {
    "PhaseType": "spinexplore.results",
    "PointRecord": "spinexplore.results",
    "PointStatus": "spinexplore.results",
    "SimulationResult": "spinexplore.results",
    "Dimension": "spinexplore.space",
    "ParameterSpace": "spinexplore.space",
    "ActiveLearningExplorer": "spinexplore.explorer",  # lazily: workers need no scikit-learn
    "SpinSimulation": "spinexplore.simulation",
    "ExternalSimulation": "spinexplore.simulation",
    "SpinModel": "spinexplore.physics.model",
    "get_executor": "spinexplore.execution",
    "Vocabulary": "spinexplore.labels",
    "ExplorationStore": "spinexplore.store",
}

__all__ = [
    "ActiveLearningExplorer",
    "Dimension",
    "ExplorationStore",
    "ExternalSimulation",
    "ParameterSpace",
    "PhaseType",
    "PointRecord",
    "PointStatus",
    "SimulationResult",
    "SpinModel",
    "SpinSimulation",
    "Vocabulary",
    "get_executor",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'spinexplore' has no attribute {name!r}")
