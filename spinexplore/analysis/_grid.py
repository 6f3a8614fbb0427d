"""Shared by :mod:`spinexplore.analysis` and :mod:`spinexplore.plotting`: 2-D slices of an N-D
space, the surrogate evaluated on a grid of a slice, and axis labels with units."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spinexplore._validation import check_int, check_real

__all__ = ["Slice", "GridPrediction", "resolve_slice", "predict_grid", "decision", "axis_label", "units_of", "space_of"]

#: Symbols of the built-in model's parameters, typeset with mathtext.
SYMBOLS = {"J1": "J_1", "J2": "J_2", "J3": "J_3", "D": "D", "K": "K", "h": "h", "T": "T"}


def space_of(explorer: Any) -> Any:
    space = getattr(explorer, "space", None)
    if space is None or not hasattr(space, "names"):
        raise TypeError(
            f"explorer must be an ActiveLearningExplorer (an object with .space, .X, .predict...); "
            f"got {type(explorer).__name__}"
        )
    return space


@dataclass(frozen=True, eq=False)
class Slice:
    """A 1-D or 2-D slice of an exploration's box and the sampled points that lie within it.

    Attributes
    ----------
    axes : tuple of str
        The plotted dimensions (x, then y).
    at : dict of str to float
        Physical value of every hidden dimension.
    defaulted : tuple of str
        Hidden dimensions not given by the caller, placed at the middle of the box (in the
        sampling scale).
    tol : float or None
        Half-width of the slice per hidden dimension in unit-cube coordinates (a fraction of
        the axis); None keeps every point (a projection).
    inside : ndarray of int
        Indices of the sampled points within the slice.
    n_points : int
        Number of sampled points in total.
    """

    axes: tuple[str, ...]
    shown: tuple[int, ...]
    center: np.ndarray
    at: dict[str, float]
    defaulted: tuple[str, ...]
    tol: float | None
    inside: np.ndarray
    n_points: int
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)

    def describe(self) -> str:
        """One line: where the slice lies and how many points it holds, e.g.
        ``"J3 = 0.1 (points with J3 in [0.05, 0.15]: 12 of 40)"``; empty for a 2-D space."""
        if not self.at:
            return ""
        parts = []
        for name, value in self.at.items():
            text = f"{name} = {value:.3g}"
            if name in self.defaulted:
                text += " (middle of the box, not chosen)"
            parts.append(text)
        line = ", ".join(parts)
        if self.tol is None:
            return f"{line}; all {self.n_points} points projected"
        rng = ", ".join(f"{n} in [{lo:.3g}, {hi:.3g}]" for n, (lo, hi) in self.intervals.items())
        return f"{line}; points with {rng}: {len(self.inside)} of {self.n_points}"


def resolve_slice(
    explorer: Any,
    *,
    x: str | None = None,
    y: str | None = None,
    at: Mapping[str, float] | None = None,
    tol: float | None = 0.1,
    dims: Sequence[str] | str | None = None,
    slice_at: Mapping[str, float] | None = None,
    max_dims: int = 2,
) -> Slice:
    """Resolve ``x``/``y``/``at`` (or the older ``dims``/``slice_at``) into a :class:`Slice`.

    Raises
    ------
    ValueError
        For an unknown or repeated dimension, an ``at`` key that is a plotted axis or not a
        dimension, a value outside the box, or both spellings given at once.
    """
    space = space_of(explorer)
    names = list(space.names)
    if dims is not None and (x is not None or y is not None):
        raise ValueError(f"give the axes either as x=/y= or as dims=, not both; got x={x!r}, y={y!r}, dims={dims!r}")
    if slice_at is not None and at is not None:
        raise ValueError("give the slice either as at= or as slice_at=, not both")
    if dims is None and (x is not None or y is not None):
        if x is None:
            raise ValueError(f"y={y!r} needs x as well; dimensions: {names}")
        dims = [x] if y is None else [x, y]
    at = slice_at if at is None else at
    what = "dims" if x is None else "x/y"
    if dims is None:
        shown = list(range(min(max_dims, len(names))))
    else:
        dims = [dims] if isinstance(dims, str) else list(dims)
        if not 1 <= len(dims) <= max_dims or len(set(dims)) != len(dims):
            raise ValueError(f"{what} must name 1 or {max_dims} distinct dimensions of {names}; got {dims!r}")
        unknown = [d for d in dims if d not in names]
        if unknown:
            raise ValueError(f"{what} {unknown!r} are not dimensions of the space; dimensions: {names}")
        shown = [names.index(d) for d in dims]
    if tol is not None:
        tol = check_real("slice_tol", tol, minimum=0.0)
    point = space.from_unit(np.full((1, space.n_dims), 0.5))[0]
    given: dict[str, float] = {}
    if at is not None and not isinstance(at, Mapping):
        raise TypeError(f"at must be a mapping of dimension names to values, e.g. {{'J3': 0.1}}; got {at!r}")
    for name, value in dict(at or {}).items():
        if name not in names:
            raise ValueError(f"slice_at key {name!r} is not a dimension; dimensions: {names}")
        if names.index(name) in shown:
            raise ValueError(f"slice_at fixes {name!r}, which is a plotted axis; drop it or choose other dims")
        value = check_real(f"slice_at[{name!r}]", value)
        low, high = space.bounds[names.index(name)]
        if not low <= value <= high:
            raise ValueError(f"slice_at[{name!r}] must lie in [{low:g}, {high:g}]; got {value!r}")
        point[names.index(name)] = given[name] = value
    center = space.to_unit(point[None, :])[0]
    hidden = [k for k in range(space.n_dims) if k not in shown]
    X = np.asarray(explorer.X, dtype=float).reshape(-1, space.n_dims)
    keep = np.ones(len(X), dtype=bool)
    intervals: dict[str, tuple[float, float]] = {}
    if hidden and tol is not None:
        if len(X):
            keep = np.all(np.abs(space.to_unit(X)[:, hidden] - center[hidden]) <= tol + 1e-12, axis=1)
        for k in hidden:
            u = np.clip(np.array([[center[k] - tol], [center[k] + tol]]), 0.0, 1.0)
            full = np.tile(center, (2, 1))
            full[:, k] = u[:, 0]
            lo, hi = space.from_unit(full)[:, k]
            intervals[names[k]] = (float(lo), float(hi))
    return Slice(axes=tuple(names[k] for k in shown), shown=tuple(shown), center=center,
                 at={names[k]: float(point[k]) for k in hidden},
                 defaulted=tuple(names[k] for k in hidden if names[k] not in given), tol=tol,
                 inside=np.flatnonzero(keep), n_points=len(X), intervals=intervals)


@dataclass(frozen=True, eq=False)
class GridPrediction:
    """The surrogate on a regular grid of a slice (cell centres, uniform in the sampling scale).

    ``coords[i]`` are the physical centres along plotted axis i, ``edges[i]`` the cell edges,
    ``unit[i]`` the centres in unit-cube coordinates; ``proba`` has shape (ny, nx, n_classes)
    (``(nx, n_classes)`` in 1-D), columns following ``classes`` (``PhaseType`` values).
    """

    coords: list[np.ndarray]
    edges: list[np.ndarray]
    unit: list[np.ndarray]
    classes: np.ndarray
    proba: np.ndarray
    X: np.ndarray

    @property
    def phase(self) -> np.ndarray:
        """Predicted ``PhaseType`` value per cell."""
        return self.classes[np.argmax(self.proba, axis=-1)]

    @property
    def uncertainty(self) -> np.ndarray:
        """``1 - max_k p_k`` per cell."""
        return 1.0 - self.proba.max(axis=-1)


def predict_grid(explorer: Any, sl: Slice, resolution: int) -> GridPrediction | None:
    """Evaluate ``explorer.predict`` on ``resolution`` cells per plotted axis; None before any fit."""
    resolution = check_int("resolution", resolution, minimum=2, maximum=2000)
    space = space_of(explorer)
    edges_u = np.linspace(0.0, 1.0, resolution + 1)
    mids_u = 0.5 * (edges_u[:-1] + edges_u[1:])
    coords, edges = [], []
    for k in sl.shown:
        for arr, out in ((mids_u, coords), (edges_u, edges)):
            u = np.tile(sl.center, (len(arr), 1))
            u[:, k] = arr
            out.append(space.from_unit(u)[:, k])
    if len(sl.shown) == 1:
        U = np.tile(sl.center, (resolution, 1))
        U[:, sl.shown[0]] = mids_u
    else:
        gy, gx = np.meshgrid(mids_u, mids_u, indexing="ij")
        U = np.tile(sl.center, (gx.size, 1))
        U[:, sl.shown[0]], U[:, sl.shown[1]] = gx.ravel(), gy.ravel()
    X = space.from_unit(U)
    try:
        _, proba = explorer.predict(X)
    except RuntimeError:  # nothing finished yet (NotFittedError is a RuntimeError)
        return None
    proba = np.asarray(proba, dtype=float).reshape(len(X), -1)
    classes = getattr(explorer, "classes_", None)
    classes = np.asarray(classes if classes is not None else np.arange(proba.shape[1]), dtype=int)
    if len(sl.shown) == 2:
        proba = proba.reshape(resolution, resolution, -1)
    return GridPrediction(coords=coords, edges=edges, unit=[mids_u] * len(sl.shown), classes=classes,
                          proba=proba, X=X)


def decision(grid: GridPrediction) -> np.ndarray:
    """``f_k = p_k - max_{j != k} p_j`` per cell and class: positive where k is predicted, zero on
    the boundary between k and its strongest rival (shape of ``grid.proba``)."""
    p = grid.proba
    if p.shape[-1] == 1:
        return np.ones_like(p)
    order = np.sort(p, axis=-1)
    top, second = order[..., -1:], order[..., -2:-1]
    rival = np.where(p >= top, second, top)
    return p - rival


def units_of(explorer: Any, units: Mapping[str, str] | str | None = None) -> dict[str, str]:
    """Units per parameter name: the caller's, else the space's ``units`` attribute if it has one,
    else ``J_1`` for the built-in model's parameters when the run used ``SpinSimulation``."""
    space = space_of(explorer)
    names = list(space.names) + list(getattr(space, "fixed", {}) or {})
    out: dict[str, str] = {}
    desc = getattr(explorer, "simulation_description", None)
    if isinstance(desc, Mapping) and desc.get("simulation") == "SpinSimulation":
        out.update({n: "J_1" for n in names if n in SYMBOLS and n != "J1"})
    space_units = getattr(space, "units", None)
    if isinstance(space_units, Mapping):
        out.update({str(k): str(v) for k, v in space_units.items() if v})
    if isinstance(units, str):
        out.update(dict.fromkeys(names, units))
    elif units is not None:
        if not isinstance(units, Mapping):
            raise TypeError(f"units must be a string or a mapping of parameter names to strings; got {units!r}")
        out.update({str(k): str(v) for k, v in units.items()})
    return {k: v for k, v in out.items() if v}


def _math(text: str) -> str:
    if "$" in text or not any(c in text for c in "_^\\"):
        return text
    return f"${text}$"


def axis_label(name: str, explorer: Any, labels: Mapping[str, str] | None = None,
               units: Mapping[str, str] | str | None = None) -> str:
    """``"$h$ / $J_1$"``: the parameter's label (the caller's, the space's ``labels``, or its
    symbol) and its unit when known."""
    if labels is not None and not isinstance(labels, Mapping):
        raise TypeError(f"labels must be a mapping of parameter names to strings; got {labels!r}")
    space_labels = getattr(space_of(explorer), "labels", None)
    label = (labels or {}).get(name) or (space_labels.get(name) if isinstance(space_labels, Mapping) else None)
    if not label:
        label = f"${SYMBOLS[name]}$" if name in SYMBOLS else name
    unit = units_of(explorer, units).get(name)
    return f"{label} / {_math(unit)}" if unit else label
