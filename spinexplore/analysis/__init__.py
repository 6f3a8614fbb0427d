"""From a run to an analysis: tables, gridded data, phase boundaries and spin textures.

Every function takes an :class:`~spinexplore.explorer.ActiveLearningExplorer` (live, or
restored with ``ActiveLearningExplorer.load(path, read_only=True)``):

- :func:`to_dataframe`: one row per point (pandas);
- :func:`to_xarray`: the predicted diagram on a grid plus the same points (xarray); both read
  one column definition (``_tables.point_columns``) with one missing value, NaN (numbers and
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
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spinexplore.analysis._boundaries import Boundary, load_boundaries, phase_boundaries, save_boundaries
from spinexplore.analysis._grid import Slice, resolve_slice, space_of
from spinexplore.analysis._tables import to_dataframe, to_xarray
from spinexplore.results import PhaseType, PointStatus

__all__ = ["Boundary", "Slice", "Texture", "load_boundaries", "phase_boundaries", "save_boundaries",
           "slice_points", "texture", "to_dataframe", "to_xarray"]


def slice_points(explorer: Any, *, x: str | None = None, y: str | None = None,
                 at: Mapping[str, float] | None = None, slice_tol: float | None = 0.1) -> Slice:
    """The 2-D slice ``x``, ``y`` at ``at`` and the sampled points within ``slice_tol`` of it.

    ``slice_tol`` is a fraction of each hidden axis (in the sampling scale); hidden dimensions
    not in ``at`` sit at the middle of the box (:attr:`Slice.defaulted` lists them).
    ``Slice.inside`` holds the point indices, ``Slice.describe()`` one line for a caption.
    """
    return resolve_slice(explorer, x=x, y=y, at=at, tol=slice_tol)


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

    def plot(self, **kwargs: Any) -> Any:
        """Three panels (:func:`spinexplore.plotting.plot_texture`) on this texture's own lattice."""
        from spinexplore.plotting._texture import plot_texture

        return plot_texture(self, **kwargs)

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
