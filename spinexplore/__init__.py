"""spinexplore: map phase diagrams of classical spin models by parallel active learning."""

from __future__ import annotations

from spinexplore.results import PhaseType, PointRecord, PointStatus, SimulationResult
from spinexplore.space import Dimension, ParameterSpace

__version__ = "0.1.0"

__all__ = [
    "Dimension",
    "ParameterSpace",
    "PhaseType",
    "PointRecord",
    "PointStatus",
    "SimulationResult",
    "__version__",
]
