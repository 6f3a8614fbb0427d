"""From a run to an analysis: tables, gridded data, phase boundaries and spin textures.

Every function takes an :class:`~spinexplore.explorer.ActiveLearningExplorer` (live, or
restored with ``ActiveLearningExplorer.load(path, read_only=True)``):

- :func:`to_dataframe`: one row per point (pandas);
- :func:`to_xarray`: the predicted diagram on a grid plus the same points (xarray); both read
  one column definition (``_point_columns``) with one missing value, NaN (numbers and
  text alike);
- :func:`phase_boundaries`, :func:`save_boundaries`, :func:`load_boundaries`: each boundary of
  a 2-D slice as a curve with an uncertainty band, labelled with the two phases it separates;
- :func:`texture`: the spins of one point, from memory, from the store, or re-simulated
  bit-identically from the run's recorded ``SpinSimulation``;
- :func:`slice_points`: which points lie within a slice of an N-D space.

pandas and xarray are optional: ``pip install spinexplore[data]``.
"""

from __future__ import annotations


import copy
import importlib
import json
import math
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from spinexplore.analysis._boundaries import Boundary, load_boundaries, phase_boundaries, save_boundaries
from spinexplore._validation import check_int
from spinexplore.analysis._grid import Slice, resolve_slice, space_of, units_of
from spinexplore.results import PhaseType, PointStatus

__all__ = ["Boundary", "Slice", "Texture", "load_boundaries", "phase_boundaries", "save_boundaries",
           "slice_points", "texture", "to_dataframe", "to_xarray"]

_EXTRA = "pip install 'spinexplore[data]'"
_RUNG_COLUMN = re.compile(r"fidelity(\d+)_(phase|confidence|energy|cost)")


def slice_points(explorer: Any, *, x: str | None = None, y: str | None = None,
                 at: Mapping[str, float] | None = None, slice_tol: float | None = 0.1) -> Slice:
    """The 2-D slice ``x``, ``y`` at ``at`` and the sampled points within ``slice_tol`` of it.

    ``slice_tol`` is a fraction of each hidden axis (in the sampling scale); hidden dimensions
    not in ``at`` sit at the middle of the box (:attr:`Slice.defaulted` lists them).
    ``Slice.inside`` holds the point indices, ``Slice.describe()`` one line for a caption.
    """
    return resolve_slice(explorer, x=x, y=y, at=at, tol=slice_tol)


# ---------------------------------------------------------------------------- tables
# Both tables read the points from one definition, _point_columns, so they hold the same columns
# with the same values and one missing value, NaN, for numbers and text alike (pandas >= 3 and
# xarray hold it as missing; netCDF has no missing text: to_netcdf writes "").
def _point_columns(explorer: Any) -> dict[str, tuple[np.ndarray, str, str]]:
    """The point table: column name -> (values, long name, unit), one value per point in index
    order. Columns: the parameters, ``status``, ``phase`` (name), ``confidence``, ``energy``,
    ``duration``, ``iteration``, ``worker``, ``error``, then the scalar observables (a name
    taken by a column above gets the prefix ``obs_``; a fidelity ladder's ``fidelity{k}_phase``
    holds phase names). Missing: NaN, for numbers and text alike."""
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
    """One row per point (index: the point index), the columns of the point table:
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
    cols = _point_columns(explorer)
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
    Point variables (dimension ``point``): the columns of the point table, as in
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
    for key, (values, long_name, unit) in _point_columns(explorer).items():
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


# ---------------------------------------------------------------------------- textures
@dataclass(frozen=True, eq=False)
class Texture:
    """The spin configuration of one point, with everything needed to draw it right.

    Attributes
    ----------
    spins : ndarray of shape (L*L, 3)
    lattice : {"triangular", "square"}
    L : int
    model : str
        Preset name or ``"custom"``.
    index : int
        The point's index in the exploration.
    params : dict of str to float
        The parameters the simulation received.
    phase : PhaseType
    energy : float
        Energy per spin (units of J1) of the stored result.
    source : {"memory", "store", "rerun"}
        Where the spins came from.
    """

    spins: np.ndarray
    lattice: str
    L: int
    model: str
    index: int
    params: dict[str, float]
    phase: PhaseType
    energy: float
    source: str
    result: Any = field(default=None, repr=False)

    def __repr__(self) -> str:
        values = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        return (f"Texture(point {self.index}: {self.phase.name}, E={self.energy:.6g}, {self.lattice} L={self.L}, "
                f"model={self.model!r}, {values}, from {self.source})")

    #: What draws a texture, ``plotter(texture, **kwargs)``: :func:`spinexplore.plotting.plot_texture`,
    #: installed by :mod:`spinexplore.plotting` when it is imported (plotting is a leaf of the
    #: layers: no module of analysis imports it).
    plotter: ClassVar[Callable[..., Any] | None] = None

    def plot(self, **kwargs: Any) -> Any:
        """Three panels (:func:`spinexplore.plotting.plot_texture`) on this texture's own lattice.

        The drawing is :attr:`plotter`; when plotting was never imported it is loaded here, by
        name, at call time (matplotlib is needed then, never to import analysis).
        """
        draw = Texture.plotter or importlib.import_module("spinexplore.plotting").plot_texture
        return draw(self, **kwargs)

    def make_lattice(self) -> Any:
        """The :class:`~spinexplore.physics.lattice.Lattice` the spins live on."""
        from spinexplore.physics.lattice import make_lattice

        return make_lattice(self.lattice, self.L)


def texture(explorer: Any, index: int, *, simulation: Any = None, lattice: str | None = None) -> Texture:
    """The spin texture of point ``index``.

    Looked up in this order: the spins the result kept in memory, the spins saved in the store
    (``save_spins=True``, ``store.read_spins``), else the point is simulated again with the
    run's ``SpinSimulation`` rebuilt from :attr:`explorer.simulation_description` (or
    ``simulation``) with ``keep_spins=True``. The per-point seed derives from the parameters
    (:func:`spinexplore.simulation.point_seed`), so the rerun is bit-identical; a warning says
    if its phase or energy differ from the stored ones (another spinexplore version).

    Parameters
    ----------
    explorer : ActiveLearningExplorer
    index : int
        A point with status DONE.
    simulation : SpinSimulation, optional
        Rerun with this simulation instead of the recorded one (also gives lattice and L).
    lattice : {"triangular", "square"}, optional
        The lattice kind when neither the recorded description nor ``simulation`` tells it
        (a user's own simulation function).

    Returns
    -------
    Texture

    Raises
    ------
    IndexError, ValueError
        For an index outside the exploration, a point that is not DONE, spins that do not
        match the lattice, or a run whose simulation cannot be rebuilt and kept no spins.
    """
    n = int(getattr(explorer, "n_points", len(explorer.X)))
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise TypeError(f"index must be an integer point index; got {index!r}")
    if not 0 <= int(index) < n:
        raise IndexError(f"index must lie in [0, {n - 1}] (the exploration has {n} points); got {index}")
    index = int(index)
    record = explorer.records[index]
    if record.status != PointStatus.DONE or record.result is None or not record.result.phase.is_physical:
        raise ValueError(f"point {index} has status {record.status.name}; only a DONE point has a texture")
    desc = getattr(explorer, "simulation_description", None)
    if simulation is not None:
        desc = simulation.describe() if callable(getattr(simulation, "describe", None)) else desc
    info = _lattice_info(desc, lattice)
    params = space_of(explorer).to_dicts(np.asarray(record.params)[None, :])[0]
    spins, source, rerun = record.result.spins, "memory", None
    if spins is None:
        read = getattr(getattr(explorer, "store", None), "read_spins", None)
        spins = read(index) if callable(read) else None
        source = "store"
    if spins is None:
        rerun = _rerun(desc, simulation, params, index)
        spins, source = rerun.spins, "rerun"
        _compare(index, record.result, rerun)
    if info is None:
        raise ValueError(f"the lattice of point {index} is unknown (the run's simulation is {desc!r}); "
                         "pass lattice='triangular' or 'square'")
    kind, L, model = info
    spins = np.asarray(spins, dtype=float)
    if L is None and spins.ndim == 2:
        L = math.isqrt(spins.shape[0])
    if spins.ndim != 2 or spins.shape[1] != 3 or L is None or spins.shape[0] != L * L:
        raise ValueError(f"the spins of point {index} (shape {spins.shape}) do not fit the run's {kind} lattice "
                         f"with L={L} ({'?' if L is None else L * L} sites)")
    return Texture(spins=spins, lattice=kind, L=int(L), model=model, index=index, params=params,
                   phase=record.result.phase, energy=record.result.energy, source=source, result=rerun)


def _lattice_info(desc: Any, lattice: str | None) -> tuple[str, int | None, str] | None:
    if isinstance(desc, Mapping) and desc.get("simulation") == "SpinSimulation":
        mp = desc.get("model_params") or {}
        model = str(desc.get("model", "custom"))
        kind = mp.get("lattice")
        if kind is None:
            from spinexplore.physics.model import PRESETS

            kind = dict(PRESETS.get(model, {})).get("lattice", "triangular")
        if lattice is not None and lattice != kind:
            raise ValueError(f"lattice={lattice!r} contradicts the run's simulation, which used a {kind} lattice")
        return str(kind), int(desc.get("lattice_size", 24)), model
    if lattice is None:
        return None
    if lattice not in ("triangular", "square"):
        raise ValueError(f"lattice must be 'triangular' or 'square'; got {lattice!r}")
    return lattice, None, "custom"


def _rerun(desc: Any, simulation: Any, params: dict[str, float], index: int) -> Any:
    from spinexplore.simulation import SpinSimulation

    if simulation is None:
        if not (isinstance(desc, Mapping) and desc.get("simulation") == "SpinSimulation"):
            raise ValueError(f"point {index} kept no spins and the run's simulation ({desc!r}) is not a "
                             "SpinSimulation that can be rebuilt; pass simulation=... or run with save_spins=True")
        simulation = SpinSimulation.from_description(desc)
    sim = copy.copy(simulation)
    sim.keep_spins = True
    if hasattr(sim, "timeout"):
        sim.timeout = None  # the point finished once; a busy machine must not turn it into TIMEOUT
    return sim(params)


def _compare(index: int, stored: Any, rerun: Any) -> None:
    same_energy = (math.isnan(stored.energy) and math.isnan(rerun.energy)) or stored.energy == rerun.energy
    if rerun.phase != stored.phase or not same_energy:
        warnings.warn(f"re-simulating point {index} gave {rerun.phase.name} (E={rerun.energy!r}), the store holds "
                      f"{stored.phase.name} (E={stored.energy!r}): the run used other settings or another "
                      "spinexplore version", RuntimeWarning, stacklevel=3)
