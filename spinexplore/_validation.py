"""Argument checks used at every public boundary. All user-facing messages are written here.

Each helper raises :class:`InputTypeError` (a ``TypeError``) for a wrong type and
:class:`InputError` (a ``ValueError``) for a wrong value, with a message that names the
parameter, the constraint and the value (``!r``). Both are user mistakes: the command line
prints them as one line with exit code 2. The classes live here, not in
:mod:`spinexplore.errors`, so that worker processes can import them without scikit-learn;
:mod:`spinexplore.errors` re-exports them.

The documented size limits (:data:`MAX_N_JOBS`, :data:`MAX_POINTS`) guard against a typo
that would start a million interpreters or fill the memory before the first result.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable
from typing import Any

__all__ = [
    "InputError",
    "InputTypeError",
    "MAX_N_JOBS",
    "MAX_POINTS",
    "check_choice",
    "check_int",
    "check_n_jobs",
    "check_n_points",
    "check_new_points",
    "check_real",
]

#: Most workers one executor may start (``n_jobs``); a cluster backend (dask, MPI) with
#: ``n_jobs=-1`` uses the workers the cluster has instead.
MAX_N_JOBS = 4096
#: Most points one exploration may hold (initial design plus every round). Each point costs
#: about 5 kB in memory and in the store, which is rewritten whole at every checkpoint.
MAX_POINTS = 1_000_000
_BYTES_PER_POINT = 5_000


class InputError(ValueError):
    """Bad input from the user: names the parameter, the value and what is allowed."""


class InputTypeError(InputError, TypeError):
    """Bad input of the wrong type (also a ``TypeError``, as Python's own type errors are)."""


def check_int(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an int after checking type and range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputTypeError(f"{name} must be an integer; got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise InputError(f"{name} must be >= {minimum}; got {value!r}")
    if maximum is not None and value > maximum:
        raise InputError(f"{name} must be <= {maximum}; got {value!r}")
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
        raise InputTypeError(f"{name} must be a real number; got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value):
        raise InputError(f"{name} must be finite; got {value!r}")
    if minimum is not None:
        if strict_min and value <= minimum:
            raise InputError(f"{name} must be > {minimum}; got {value!r}")
        if not strict_min and value < minimum:
            raise InputError(f"{name} must be >= {minimum}; got {value!r}")
    if maximum is not None and value > maximum:
        raise InputError(f"{name} must be <= {maximum}; got {value!r}")
    return value


def check_choice(name: str, value: Any, allowed: Iterable[str]) -> str:
    """Check that ``value`` is one of the ``allowed`` strings."""
    allowed = list(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise InputError(f"{name} must be one of {allowed}; got {value!r}")
    return value


def check_n_jobs(value: Any) -> int:
    """Validate joblib-style ``n_jobs``: 1 to :data:`MAX_N_JOBS` workers, or -1 (all cores)
    down to ``-MAX_N_JOBS`` (all cores but ``|n_jobs| - 1``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputTypeError(f"n_jobs must be an integer; got {value!r} ({type(value).__name__})")
    if value == 0:
        raise InputError(
            "n_jobs must be a positive number of workers or negative (-1 = all cores); got 0"
        )
    if abs(int(value)) > MAX_N_JOBS:
        raise InputError(
            f"n_jobs must be between -{MAX_N_JOBS} and {MAX_N_JOBS} (the most workers one executor "
            f"starts; use -1 for all the cores or cluster workers); got {value!r}"
        )
    return int(value)


def available_memory() -> int | None:
    """Bytes of memory this machine could still give (best effort, None when unknown)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def check_new_points(name: str, n: Any, n_held: int, *, call: str) -> int:
    """Check the number ``n`` of points one call adds to an exploration that holds ``n_held``.

    At least 1; at most what keeps the exploration within :data:`MAX_POINTS` and within the
    memory available (about 5 kB a point). Raised before any work, naming the parameter
    ``name``, its value and the allowed range; ``call`` names the call (``"propose"``).
    """
    n = check_int(name, n, minimum=1)
    room = MAX_POINTS - n_held
    free = available_memory()
    why = f"at most {MAX_POINTS:,} points per exploration"
    if free is not None and free // _BYTES_PER_POINT - n_held < room:
        room = int(free // _BYTES_PER_POINT) - n_held
        why = f"the {free / 1e9:.1f} GB of memory available, at about 5 kB a point"
    if n > room:
        held = f", {n_held:,} of them held already" if n_held else ""
        raise InputError(
            f"{call}: {name} must be between 1 and {max(room, 0):,} ({why}{held}); got {n!r}"
        )
    return n


def check_n_points(n_points: int, *, what: str = "the exploration") -> int:
    """Refuse a point budget above :data:`MAX_POINTS` or above what the memory can hold.

    ``what`` names how the budget was computed, for the message
    (e.g. ``"n_initial + n_iterations * n_per_iteration = 20 + 3 * 10"``).
    """
    n_points = check_int("number of points", n_points, minimum=0)
    if n_points > MAX_POINTS:
        raise InputError(
            f"{what} asks for {n_points:,} points; at most {MAX_POINTS:,} are allowed "
            "(about 5 kB each, in memory and in the store); lower the budget"
        )
    free = available_memory()
    if free is not None and n_points * _BYTES_PER_POINT > free:
        raise InputError(
            f"{what} asks for {n_points:,} points, about {n_points * _BYTES_PER_POINT / 1e9:.1f} GB, "
            f"but only {free / 1e9:.1f} GB of memory is available; lower the budget"
        )
    return n_points
