"""Parameter spaces: named bounded axes (linear or log) plus fixed values."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from spinexplore._validation import InputError, InputTypeError

__all__ = ["Dimension", "ParameterSpace", "MAX_ABS_VALUE", "MIN_RELATIVE_WIDTH"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: Largest magnitude of a bound or fixed value. Beyond it ``high - low`` and the unit-cube
#: transforms lose their meaning (and ``h = 1e300`` is a typo, not a physical field).
MAX_ABS_VALUE = 1e15
#: Smallest width of an axis relative to the magnitude of its bounds: below it the axis
#: holds fewer than a billion distinct floating-point values and cannot be refined.
MIN_RELATIVE_WIDTH = 1e-9


def _check_value(what: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise InputTypeError(f"{what} must be a real number; got {v!r} ({type(v).__name__})")
    if not math.isfinite(float(v)):
        raise InputError(f"{what} must be finite; got {v!r}")
    if abs(float(v)) > MAX_ABS_VALUE:
        raise InputError(f"{what} must lie within +-{MAX_ABS_VALUE:g}; got {v!r}")
    return float(v)


@dataclass(frozen=True, slots=True)
class Dimension:
    """One free axis of a :class:`ParameterSpace`.

    Parameters
    ----------
    name : str
        Parameter name as the simulation receives it (``"h"``, ``"K"``...).
    low, high : float
        Finite bounds with ``low < high`` (``low > 0`` when ``log``).
    log : bool
        Sample uniformly in ``log(value)`` instead of ``value``.
    """

    name: str
    low: float
    high: float
    log: bool = False

    def validate(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise InputError(
                f"dimension name must be a Python identifier such as 'h' or 'K'; got {self.name!r}"
            )
        for label, v in (("low", self.low), ("high", self.high)):
            _check_value(f"bound {label} of dimension {self.name!r}", v)
        low, high = float(self.low), float(self.high)
        if not low < high:
            raise InputError(
                f"bounds of dimension {self.name!r} must satisfy low < high; got ({self.low!r}, {self.high!r})"
            )
        if high - low < MIN_RELATIVE_WIDTH * max(abs(low), abs(high)):
            raise InputError(
                f"dimension {self.name!r} is too narrow for its magnitude: (high - low) must be at least "
                f"{MIN_RELATIVE_WIDTH:g} x max(|low|, |high|); got ({self.low!r}, {self.high!r})"
            )
        if self.log and float(self.low) <= 0:
            raise InputError(
                f"log-scaled dimension {self.name!r} needs low > 0; got low={self.low!r}"
            )


class ParameterSpace:
    """A box of named physical parameters, with unit-cube transforms.

    Parameters
    ----------
    dimensions : mapping of name to (low, high) or (low, high, "log"), or sequence of Dimension
        The free axes, 1 to 6 of them.
    fixed : mapping of name to float, optional
        Parameters passed to every simulation with a constant value.
    log : iterable of str, optional
        Names of free axes sampled on a log scale (alternative to the "log" tuple entry).

    Raises
    ------
    spinexplore.errors.InputError
        For bounds or fixed values that are not finite or lie beyond ``+-MAX_ABS_VALUE``
        (1e15), ``low >= high``, an axis narrower than ``MIN_RELATIVE_WIDTH`` (1e-9) of its
        magnitude, a log axis with ``low <= 0``, repeated or invalid names, or not 1 to 6 axes
        (``InputTypeError``, also a ``TypeError``, for values of the wrong type).

    Examples
    --------
    >>> space = ParameterSpace({"h": (0.0, 0.57), "K": (-0.24, 0.95)}, fixed={"T": 0.0})
    >>> space.to_dicts(space.from_unit([[0.5, 0.5]]))
    [{'h': 0.285, 'K': 0.355, 'T': 0.0}]
    """

    MAX_DIMS = 6

    def __init__(
        self,
        dimensions: Mapping[str, Sequence[Any]] | Sequence[Dimension],
        *,
        fixed: Mapping[str, float] | None = None,
        log: Sequence[str] = (),
    ) -> None:
        dims: list[Dimension] = []
        log = set(log)
        if isinstance(dimensions, Mapping):
            for name, spec in dimensions.items():
                if isinstance(spec, Dimension):
                    dims.append(spec)
                    continue
                if not isinstance(spec, (tuple, list)) or len(spec) not in (2, 3):
                    raise InputTypeError(
                        f"dimension {name!r} must be given as (low, high) or (low, high, 'log'); got {spec!r}"
                    )
                is_log = name in log
                if len(spec) == 3:
                    if spec[2] not in ("log", "linear"):
                        raise InputError(
                            f"scale of dimension {name!r} must be 'log' or 'linear'; got {spec[2]!r}"
                        )
                    is_log = is_log or spec[2] == "log"
                dims.append(Dimension(name, spec[0], spec[1], is_log))
        else:
            for d in dimensions:
                if not isinstance(d, Dimension):
                    raise InputTypeError(f"dimensions must be Dimension objects or a mapping; got {d!r}")
                dims.append(d)
        for d in dims:
            d.validate()
        names = [d.name for d in dims]
        if len(set(names)) != len(names):
            raise InputError(f"dimension names must be unique; got {names!r}")
        unknown_log = log - set(names)
        if unknown_log:
            raise InputError(f"log names {sorted(unknown_log)!r} are not dimensions; dimensions: {names}")
        if not 1 <= len(dims) <= self.MAX_DIMS:
            raise InputError(
                f"a ParameterSpace needs 1 to {self.MAX_DIMS} free dimensions; got {len(dims)} ({names})"
            )
        fixed_clean: dict[str, float] = {}
        for name, value in dict(fixed or {}).items():
            if name in names:
                raise InputError(f"parameter {name!r} is both a free dimension and fixed; choose one")
            fixed_clean[str(name)] = _check_value(f"fixed value of {name!r}", value)
        self.dimensions: tuple[Dimension, ...] = tuple(
            Dimension(d.name, float(d.low), float(d.high), bool(d.log)) for d in dims
        )
        self.fixed: dict[str, float] = fixed_clean

    # ------------------------------------------------------------------ basic facts
    @property
    def names(self) -> list[str]:
        """Names of the free dimensions, in order."""
        return [d.name for d in self.dimensions]

    @property
    def n_dims(self) -> int:
        """Number of free dimensions."""
        return len(self.dimensions)

    @property
    def bounds(self) -> np.ndarray:
        """ndarray of shape (n_dims, 2): the physical (low, high) of each axis."""
        return np.array([[d.low, d.high] for d in self.dimensions], dtype=float)

    @property
    def is_log(self) -> np.ndarray:
        return np.array([d.log for d in self.dimensions], dtype=bool)

    def __repr__(self) -> str:
        parts = [f"{d.name}=[{d.low:g}, {d.high:g}]{' log' if d.log else ''}" for d in self.dimensions]
        fixed = f", fixed={self.fixed}" if self.fixed else ""
        return f"ParameterSpace({', '.join(parts)}{fixed})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ParameterSpace):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    # ------------------------------------------------------------------ transforms
    def _as_matrix(self, X: Any, name: str) -> np.ndarray:
        arr = np.asarray(X, dtype=float)
        if arr.ndim == 1 and arr.size == self.n_dims:
            arr = arr.reshape(1, -1)
        if arr.ndim != 2 or arr.shape[1] != self.n_dims:
            raise InputError(
                f"{name} must have shape (n_points, {self.n_dims}) for dimensions {self.names}; "
                f"got shape {np.shape(X)}"
            )
        return arr

    def _warped_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        b = self.bounds
        lo, hi = b[:, 0].copy(), b[:, 1].copy()
        lg = self.is_log
        lo[lg], hi[lg] = np.log(lo[lg]), np.log(hi[lg])
        return lo, hi

    def to_unit(self, X: Any) -> np.ndarray:
        """Map physical points, shape (n, n_dims), to the unit cube."""
        arr = self._as_matrix(X, "X").copy()
        lg = self.is_log
        if lg.any():
            if np.any(arr[:, lg] <= 0):
                raise InputError("points on a log-scaled dimension must be > 0")
            arr[:, lg] = np.log(arr[:, lg])
        lo, hi = self._warped_bounds()
        return (arr - lo) / (hi - lo)

    def from_unit(self, U: Any) -> np.ndarray:
        """Map unit-cube points, shape (n, n_dims), to physical units (clipped to the box)."""
        arr = np.clip(self._as_matrix(U, "U"), 0.0, 1.0)
        lo, hi = self._warped_bounds()
        out = lo + arr * (hi - lo)
        lg = self.is_log
        if lg.any():
            out[:, lg] = np.exp(out[:, lg])
        b = self.bounds
        return np.clip(out, b[:, 0], b[:, 1])

    def contains(self, X: Any) -> np.ndarray:
        """Boolean array: which physical points lie inside the box (bounds included)."""
        arr = self._as_matrix(X, "X")
        b = self.bounds
        return np.all((arr >= b[:, 0]) & (arr <= b[:, 1]) & np.isfinite(arr), axis=1)

    def validate_points(self, X: Any) -> np.ndarray:
        """Return ``X`` as a float matrix, raising ``ValueError`` for points outside the box."""
        arr = self._as_matrix(X, "points")
        inside = self.contains(arr)
        if not inside.all():
            bad = arr[~inside][0]
            raise InputError(
                f"point {dict(zip(self.names, bad.tolist()))} lies outside the space {self!r}"
            )
        return arr

    def to_dicts(self, X: Any) -> list[dict[str, float]]:
        """One parameter dict per point (free values plus the fixed ones)."""
        arr = self._as_matrix(X, "X")
        return [{**dict(zip(self.names, map(float, row))), **self.fixed} for row in arr]

    def to_point(self, params: Mapping[str, float]) -> np.ndarray:
        """The physical point (n_dims,) of a parameter dict."""
        missing = [n for n in self.names if n not in params]
        if missing:
            raise InputError(f"parameters {missing} missing from {dict(params)!r}")
        return np.array([float(params[n]) for n in self.names])

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible description (stored in the HDF5 file)."""
        return {
            "dimensions": [
                {"name": d.name, "low": d.low, "high": d.high, "log": d.log} for d in self.dimensions
            ],
            "fixed": dict(self.fixed),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ParameterSpace:
        """Inverse of :meth:`to_dict`."""
        dims = [Dimension(d["name"], d["low"], d["high"], bool(d.get("log", False))) for d in data["dimensions"]]
        return cls(dims, fixed=data.get("fixed") or {})
