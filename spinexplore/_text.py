"""Numbers in messages (one way to write a value that may be missing, None or NaN) and the
JSON-friendly description of a user object that a store records."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["describe", "number", "percent"]


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def number(x: Any, spec: str = ".3f", *, width: int = 0) -> str:
    """``x`` formatted with ``spec``, or ``"n/a"`` when it is None or NaN (right-aligned in ``width``)."""
    return f"{'n/a' if _missing(x) else format(x, spec):>{width}}"


def percent(x: Any, digits: int = 1, *, width: int = 0) -> str:
    """A fraction as a percentage (``0.123`` -> ``"12.3%"``), or ``"n/a"``."""
    return f"{'n/a' if _missing(x) else f'{100 * x:.{digits}f}%':>{width}}"


def describe(obj: Any) -> Any:
    """A JSON-friendly description of a user object (simulation, surrogate spec...)."""
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    method = getattr(obj, "describe", None)
    if callable(method):
        try:
            return method()
        except Exception:  # a user's describe() must not break a checkpoint
            pass
    name = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    module = getattr(obj, "__module__", None) or type(obj).__module__
    return f"{module}.{name}"
