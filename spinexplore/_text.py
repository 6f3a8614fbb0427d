"""Numbers in messages: one way to write a value that may be missing (None or NaN)."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["number", "percent"]


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def number(x: Any, spec: str = ".3f", *, width: int = 0) -> str:
    """``x`` formatted with ``spec``, or ``"n/a"`` when it is None or NaN (right-aligned in ``width``)."""
    return f"{'n/a' if _missing(x) else format(x, spec):>{width}}"


def percent(x: Any, digits: int = 1, *, width: int = 0) -> str:
    """A fraction as a percentage (``0.123`` -> ``"12.3%"``), or ``"n/a"``."""
    return f"{'n/a' if _missing(x) else f'{100 * x:.{digits}f}%':>{width}}"
