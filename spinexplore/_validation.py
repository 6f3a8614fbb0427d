"""Argument checks used at every public boundary. All user-facing messages are written here.

Each helper raises ``TypeError`` for a wrong type and ``ValueError`` for a wrong value, with a
message that names the parameter, the constraint and the value (``!r``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

__all__ = [
    "check_choice",
    "check_int",
    "check_real",
    "check_n_jobs",
]


def check_int(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an int after checking type and range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}; got {value!r}")
    return value


def check_real(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_min: bool = False,
    allow_none: bool = False,
) -> float | None:
    """Return ``value`` as a finite float after checking type and range."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value!r}")
    if minimum is not None:
        if strict_min and value <= minimum:
            raise ValueError(f"{name} must be > {minimum}; got {value!r}")
        if not strict_min and value < minimum:
            raise ValueError(f"{name} must be >= {minimum}; got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}; got {value!r}")
    return value


def check_choice(name: str, value: Any, allowed: Iterable[str]) -> str:
    """Check that ``value`` is one of the ``allowed`` strings."""
    allowed = list(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}; got {value!r}")
    return value


def check_n_jobs(value: Any) -> int:
    """Validate joblib-style ``n_jobs`` (positive, or negative counting back from all cores)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"n_jobs must be an integer; got {value!r} ({type(value).__name__})")
    if value == 0:
        raise ValueError(
            "n_jobs must be a positive number of workers or negative (-1 = all cores); got 0"
        )
    return int(value)
