"""The constraints of the run settings, in the spirit of scikit-learn's ``_param_validation``:
:class:`Interval`, :class:`Options` and :class:`Rule` check a value and say in words what is
allowed. The table of :mod:`spinexplore.settings` is made of them; they live here, below every
layer, so that a lower layer checks with the table's own constraint object: :data:`N_JOBS` is
the row ``n_jobs`` and what every executor checks its ``n_jobs`` with.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from spinexplore._validation import MAX_N_JOBS, InputError, check_choice, check_int, check_n_jobs, check_real

__all__ = ["Interval", "N_JOBS", "Options", "Rule"]


def _resolve(ref: Any) -> Any:
    """``"module:NAME"`` -> that object (imported now); anything else as is."""
    if isinstance(ref, str) and ":" in ref:
        module, name = ref.split(":")
        return getattr(importlib.import_module(module), name)
    return ref


# ---------------------------------------------------------------------------- constraints
@dataclass(frozen=True)
class Interval:
    """A number in an interval, as scikit-learn's ``Interval(Integral|Real, left, right, closed=)``.

    ``type`` is ``int`` or ``float``; ``left``/``right`` are numbers, None (unbounded) or a
    ``"module:NAME"`` reference read at check time; ``closed`` says which ends are included:
    ``"both"``, ``"right"`` (left end excluded) or ``"neither"``.
    """

    type: type
    left: Any
    right: Any
    closed: str = "both"

    def bounds(self) -> tuple[Any, Any]:
        return _resolve(self.left), _resolve(self.right)

    def check(self, name: str, value: Any) -> Any:
        left, right = self.bounds()
        if self.type is int:
            return check_int(name, value, minimum=left, maximum=right)
        open_right = self.closed == "neither" and right is not None
        value = check_real(name, value, minimum=left, maximum=None if open_right else right,
                           strict_min=self.closed in ("right", "neither"))
        if open_right and value >= right:
            raise InputError(f"{name} must be < {right}; got {value!r}")
        return value

    def __str__(self) -> str:
        left, right = self.bounds()
        lo = "(" if self.closed in ("right", "neither") else "["
        hi = ")" if self.closed == "neither" else "]"
        what = "an integer" if self.type is int else "a number"

        def text(x: Any, none: str) -> str:
            return none if x is None else f"{x:g}" if isinstance(x, float) else str(x)

        return f"{what} in {lo}{text(left, '-inf')}, {text(right, 'inf')}{hi}"


@dataclass(frozen=True)
class Options:
    """One of a set of names, as scikit-learn's ``StrOptions``: a tuple, or a registry given as
    ``"module:NAME"`` and read at each check (plugins registered later count). ``callables``:
    a callable is accepted as well (the Python API's custom strategies)."""

    names: Any
    callables: bool = False

    def allowed(self) -> list[str]:
        return list(_resolve(self.names))

    def check(self, name: str, value: Any) -> Any:
        if self.callables and callable(value):
            return value
        return check_choice(name, value, self.allowed())

    def __str__(self) -> str:
        return f"one of {self.allowed()}" + (" or a callable" if self.callables else "")


@dataclass(frozen=True)
class Rule:
    """A check that is a function ``check(name, value) -> value`` (raising
    :class:`~spinexplore.errors.InputError`), with its description in words; ``type``: what
    the command line converts the flag's text to."""

    function: Callable[[str, Any], Any]
    text: str
    type: type = str
    names: Any = None  # the names it accepts among others (a tuple or "module:NAME"), for --help

    def check(self, name: str, value: Any) -> Any:
        return self.function(name, value)

    def allowed(self) -> list[str] | None:
        return None if self.names is None else list(_resolve(self.names))

    def __str__(self) -> str:
        return self.text


def _n_jobs(name: str, value: Any) -> int:
    return check_n_jobs(value)


#: What ``n_jobs`` allows: the constraint of the table's row ``n_jobs`` and of the executors
#: (``get_executor``, ``resolve_n_jobs``, ``DaskExecutor``, ``MPIExecutor``), one definition.
N_JOBS = Rule(_n_jobs, f"a nonzero integer in [-{MAX_N_JOBS}, {MAX_N_JOBS}]", int)
