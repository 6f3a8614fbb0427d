"""The tables of a run: one row per point (:func:`to_dataframe`), and the predicted diagram on a
grid plus the same points (:func:`to_xarray`).

Both read the points from one definition, :func:`point_columns`, so they hold the same
columns with the same values. **Missing values, in both: NaN**, for a number (a pending point's
energy, an observable a simulation did not return, a rung a point did not run) and for a text
alike (the phase of a point without a physical one, the worker of a pending point, the error of
a point that succeeded): what pandas (>= 3, for text too) and xarray hold as missing, so
``isna()`` / ``isnull()`` find every one. netCDF has no missing text: ``to_netcdf`` writes an
empty string.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from spinexplore._validation import check_int
from spinexplore.analysis._grid import resolve_slice, space_of, units_of
from spinexplore.results import PhaseType, PointStatus

__all__ = ["point_columns", "to_dataframe", "to_xarray"]

_EXTRA = "pip install 'spinexplore[data]'"
_RUNG_COLUMN = re.compile(r"fidelity(\d+)_(phase|confidence|energy|cost)")


def point_columns(explorer: Any) -> dict[str, tuple[np.ndarray, str, str]]:
    """The point table: column name -> (values, long name, unit), one value per point in index
    order. Columns: the parameters, ``status``, ``phase`` (name), ``confidence``, ``energy``,
    ``duration``, ``iteration``, ``worker``, ``error``, then the scalar observables (a name
    taken by a column above gets the prefix ``obs_``; a fidelity ladder's ``fidelity{k}_phase``
    holds phase names). Missing: NaN, for numbers and text alike (see the module's docstring)."""
    from spinexplore.fidelity import decode_label

    space, units = space_of(explorer), units_of(explorer)
    records = list(explorer.records)
    res = [r.result for r in records]
    vocabulary = getattr(explorer, "vocabulary", None)

    def numbers(get: Any) -> np.ndarray:
        return np.array([math.nan if x is None else get(x) for x in res], dtype=float)

    def texts(values: Any) -> np.ndarray:
        out = np.empty(len(records), dtype=object)
        out[:] = [math.nan if v is None else v for v in values]
        return out

    P = np.array([r.params for r in records], dtype=float).reshape(-1, space.n_dims)
    cols: dict[str, tuple[np.ndarray, str, str]] = {
        name: (P[:, k], f"{name} of the sampled point", units.get(name, "")) for k, name in enumerate(space.names)}
    cols["status"] = (texts(r.status.name for r in records), "PointStatus", "")
    cols["phase"] = (texts(None if x is None or not x.ok else x.phase.name for x in res),
                     "simulated phase (None while pending, failed or timed out: see status)", "")
    cols["confidence"] = (numbers(lambda x: x.confidence), "classifier confidence", "1")
    cols["energy"] = (numbers(lambda x: x.energy), "energy per spin", "J_1" if "J_1" in units.values() else "")
    cols["duration"] = (numbers(lambda x: x.duration), "simulation time", "s")
    cols["iteration"] = (np.array([r.iteration for r in records], dtype=np.int64), "round that proposed the point", "")
    cols["worker"] = (texts(r.worker or None for r in records), "worker", "")
    cols["error"] = (texts(None if x is None else (x.error or None) for x in res),
                     "error text of FAILED/TIMEOUT points", "")
    scalars = [{} if x is None else x.scalar_observables() for x in res]
    for key in dict.fromkeys(k for sc in scalars for k in sc):
        values = np.array([sc.get(key, math.nan) for sc in scalars], dtype=float)
        if re.fullmatch(r"fidelity\d+_phase", key):  # a label id per rung: its name
            values = texts(None if v != v else decode_label(v, vocabulary).name for v in values)
        cols[key if key not in cols else f"obs_{key}"] = (values, f"observable {key}", "")
    return cols


def to_dataframe(explorer: Any) -> Any:
    """One row per point (index: the point index), the columns of :func:`point_columns`:
    parameters, status, phase name, confidence, energy, duration, iteration, worker, error,
    then the scalar observables. A missing value is NaN, in a number or a text column.

    ``DataFrame.attrs["units"]`` maps columns to units where known (``J_1``).

    Raises
    ------
    ImportError
        Without pandas (``pip install 'spinexplore[data]'``).
    """
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError(f"to_dataframe() needs pandas, which is not installed; {_EXTRA}") from exc
    cols = point_columns(explorer)
    df = pd.DataFrame({k: v for k, (v, _, _) in cols.items()}, index=pd.RangeIndex(len(explorer.records), name="index"))
    units = units_of(explorer)
    df.attrs["units"] = {k: v for k, v in units.items() if k in df.columns}
    if "J_1" in units.values():
        df.attrs["units"]["energy"] = "J_1 per spin"
    return df


def to_xarray(explorer: Any, *, resolution: int | None = None, x: str | None = None, y: str | None = None,
              at: Mapping[str, float] | None = None, max_cells: int = 4_000_000) -> Any:
    """The predicted diagram on a grid and the sampled points, as an ``xarray.Dataset``.

    Grid variables (dimensions named after the parameters, cell centres uniform in each axis'
    sampling scale, plus ``phase_class``): ``phase`` (``PhaseType`` values, CF
    ``flag_values``/``flag_meanings``), ``probability`` and ``uncertainty`` (``1 - max p``).
    Point variables (dimension ``point``): the columns of :func:`point_columns`, as in
    :func:`to_dataframe`, with the same missing values (NaN), except that a parameter is
    ``point_<name>`` and the phase ``point_phase`` (the grid's names), and that a fidelity
    ladder's record is a ``(point, rung)`` layout: ``rung_phase``, ``rung_confidence``,
    ``rung_energy``, ``rung_cost``. Coordinates carry ``units`` (``J_1`` for the built-in model,
    else empty) and ``long_name``.

    Parameters
    ----------
    explorer : ActiveLearningExplorer
    resolution : int, optional
        Cells per gridded axis (default 100 for one or two axes, 30 for three, 12 for four,
        8 beyond).
    x, y, at : optional
        Grid only the 2-D slice ``x``, ``y`` at ``at`` (hidden dimensions become scalar
        coordinates); by default the whole box is gridded.
    max_cells : int, default=4_000_000
        Refuse grids larger than this (``resolution ** n_dims``) before any work.

    Raises
    ------
    ImportError
        Without xarray (``pip install 'spinexplore[data]'``).
    spinexplore.errors.NotFittedError
        Before any point has a physical phase.
    """
    try:
        import xarray as xr
    except ImportError as exc:
        raise ImportError(f"to_xarray() needs xarray, which is not installed; {_EXTRA}") from exc
    space = space_of(explorer)
    names = list(space.names)
    sliced = x is not None or y is not None or at is not None
    n_axes = min(2, len(names)) if sliced else len(names)
    if resolution is None:
        resolution = {1: 100, 2: 100, 3: 30, 4: 12}.get(n_axes, 8)
    resolution = check_int("resolution", resolution, minimum=2, maximum=100_000)
    if resolution**n_axes > max_cells:
        raise ValueError(f"resolution={resolution} on {n_axes} axes makes {resolution**n_axes} cells, more than "
                         f"max_cells={max_cells}; lower the resolution or grid a 2-D slice with x=, y=, at=")
    units = units_of(explorer)
    if sliced:
        sl = resolve_slice(explorer, x=x, y=y, at=at, tol=None)
        shown, center = list(sl.shown), sl.center
    else:
        shown, center = list(range(len(names))), np.full(len(names), 0.5)
    data, coords = _grid_variables(explorer, space, shown, center, resolution, units)
    records = list(explorer.records)
    coords["point"] = ("point", np.array([r.index for r in records], dtype=np.int64), {"long_name": "point index"})
    taken = set(data) | set(coords)
    for key, (values, long_name, unit) in point_columns(explorer).items():
        if _RUNG_COLUMN.fullmatch(key):
            continue  # the (point, rung) variables below
        attrs = {"long_name": long_name, "units": unit}
        if key in names:
            attrs = {**_coord_attrs(key, space, names.index(key), units), **attrs}
        name = f"point_{key}" if key in names or key == "phase" else key
        data[name if name not in taken else f"obs_{name}"] = ("point", values, attrs)
    _rung_variables(data, coords, [r.result for r in records], getattr(explorer, "vocabulary", None))
    desc = getattr(explorer, "simulation_description", None)
    attrs = {"title": "spinexplore phase diagram", "n_points": len(records),
             "n_done": int(sum(r.status == PointStatus.DONE for r in records)),
             "grid": "cell centres, uniform in each axis' sampling scale (log axes: in log)",
             "missing": "NaN, for numbers and text alike (an empty string for text in netCDF)",
             "simulation": json.dumps(desc, default=str), "seed": str(getattr(explorer, "seed", None))}
    return xr.Dataset(data_vars=data, coords=coords, attrs=attrs)


def _grid_variables(explorer: Any, space: Any, shown: list[int], center: np.ndarray, resolution: int,
                    units: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The surrogate's ``phase``, ``probability`` and ``uncertainty`` on the grid of cell centres
    over the axes ``shown`` (the others at ``center``), with their coordinates."""
    from spinexplore.labels import Vocabulary

    names = list(space.names)
    mids = (np.arange(resolution) + 0.5) / resolution
    mesh = np.meshgrid(*([mids] * len(shown)), indexing="ij")
    U = np.tile(center, (mesh[0].size, 1))
    for axis, k in enumerate(shown):
        U[:, k] = mesh[axis].ravel()
    phases, proba = explorer.predict(space.from_unit(U))
    classes = np.asarray(explorer.classes_, dtype=int)
    shape = (resolution,) * len(shown)
    grid_dims = tuple(names[k] for k in shown)
    coords: dict[str, Any] = {}
    for k in shown:
        u = np.tile(center, (resolution, 1))
        u[:, k] = mids
        coords[names[k]] = (names[k], space.from_unit(u)[:, k], _coord_attrs(names[k], space, k, units))
    for k in range(len(names)):
        if k not in shown:
            coords[names[k]] = ((), float(space.from_unit(center[None, :])[0, k]),
                                _coord_attrs(names[k], space, k, units))
    vocab = getattr(explorer, "vocabulary", None)
    vocab = vocab if isinstance(vocab, Vocabulary) else Vocabulary()
    coords["phase_class"] = ("phase_class", [vocab.name_of(c) for c in classes],
                             {"long_name": "phase of each probability column"})
    ids = sorted({int(p) for p in PhaseType if p.is_physical} | {e.id for e in vocab.entries()})
    phase_attrs = {"long_name": "predicted phase (label id; names in flag_meanings)",
                   "flag_values": np.array(ids, dtype=np.int16),
                   # CF flag_meanings are blank-separated words: blanks in a name become "_"
                   "flag_meanings": " ".join(vocab.name_of(i).replace(" ", "_") for i in ids),
                   "phase_names": json.dumps({str(i): vocab.name_of(i) for i in ids})}
    data: dict[str, Any] = {
        "phase": (grid_dims, np.asarray(phases, dtype=np.int16).reshape(shape), phase_attrs),
        "probability": (grid_dims + ("phase_class",), np.asarray(proba, float).reshape(shape + (len(classes),)),
                        {"long_name": "surrogate class probability", "units": "1"}),
        "uncertainty": (grid_dims, 1.0 - np.asarray(proba, float).max(axis=1).reshape(shape),
                        {"long_name": "surrogate uncertainty, 1 - max_k p_k", "units": "1"}),
    }
    return data, coords


def _rung_variables(data: dict[str, Any], coords: dict[str, Any], res: list[Any], vocabulary: Any = None) -> None:
    """A fidelity ladder's record as ``(point, rung)`` variables: ``rung_phase``,
    ``rung_confidence``, ``rung_energy``, ``rung_cost`` (NaN: not run at that rung)."""
    from spinexplore.fidelity import FIDELITY_KEY, rung_results

    if not any(x is not None and FIDELITY_KEY in x.observables for x in res):
        return
    entries = [{} if x is None else rung_results(x, vocabulary) for x in res]
    n_rungs = max((max(e) + 1 for e in entries if e), default=1)
    coords["rung"] = ("rung", np.arange(n_rungs), {"long_name": "rung of the fidelity ladder (0: cheapest)"})
    phase = np.full((len(res), n_rungs), math.nan, dtype=object)
    vals = {k: np.full((len(res), n_rungs), math.nan) for k in ("confidence", "energy", "cost")}
    for i, e in enumerate(entries):
        for k, r in e.items():
            phase[i, k] = r.phase.name
            vals["confidence"][i, k], vals["energy"][i, k], vals["cost"][i, k] = r.confidence, r.energy, r.cost
    data["rung_phase"] = (("point", "rung"), phase, {"long_name": "phase at each rung (NaN: not run)"})
    data["rung_confidence"] = (("point", "rung"), vals["confidence"], {"long_name": "confidence at each rung"})
    data["rung_energy"] = (("point", "rung"), vals["energy"], {"long_name": "energy per spin at each rung"})
    data["rung_cost"] = (("point", "rung"), vals["cost"], {"long_name": "simulation time at each rung", "units": "s"})


def _coord_attrs(name: str, space: Any, k: int, units: Mapping[str, str]) -> dict[str, Any]:
    low, high = space.bounds[k]
    # the box as a numeric array (netCDF writes no lists; CF reserves ``bounds`` for a variable name)
    return {"units": units.get(name, ""), "long_name": name, "scale": "log" if space.is_log[k] else "linear",
            "valid_range": np.array([float(low), float(high)])}
