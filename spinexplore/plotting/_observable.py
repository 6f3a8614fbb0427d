"""An observable of the finished points along a 1-D slice, with Monte Carlo error bars."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from spinexplore.analysis._grid import resolve_slice, space_of
from spinexplore.plotting._common import PhaseStyle, new_axes
from spinexplore.plotting._slice_axes import fit_title, set_scales, slice_title
from spinexplore.results import PointStatus

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

#: Suffix of the observable that holds another one's standard error (``m_z`` -> ``m_z_err``).
ERROR_SUFFIX = "_err"


def observable_values(explorer: Any, observable: str, indices: Any) -> tuple[np.ndarray, np.ndarray]:
    """Values and standard errors (NaN where not recorded) of ``observable`` at the points
    ``indices``; ``"energy"`` is the result's energy, anything else an entry of its observables."""
    records = explorer.records
    values, errors = [], []
    for i in indices:
        res = records[int(i)].result
        obs = {} if res is None else res.scalar_observables()
        if observable == "energy":
            v = math.nan if res is None or res.energy is None else float(res.energy)
        else:
            v = obs.get(observable, math.nan)
        values.append(v)
        errors.append(obs.get(observable + ERROR_SUFFIX, math.nan))
    return np.asarray(values, dtype=float), np.asarray(errors, dtype=float)


def plot_observable(
    explorer: Any,
    observable: str,
    *,
    ax: Axes | None = None,
    x: str | None = None,
    at: Mapping[str, float] | None = None,
    slice_tol: float | None = 0.1,
    errors: bool = True,
    phase_labels: Mapping[Any, str] | None = None,
    labels: Mapping[str, str] | None = None,
    units: Mapping[str, str] | str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
) -> Axes:
    """An observable of the finished points against one parameter (a 1-D slice), coloured by
    phase, with error bars where the value is a Monte Carlo average.

    A result that records ``<observable>_err`` (the built-in simulation at ``T > 0``: ``energy_err``,
    ``m_z_err``, ``m_abs_err``... the binned standard error of the average over the snapshots,
    :func:`spinexplore.physics.thermal.binned_error`) gets a bar of +- one standard error; a
    ``T = 0`` result (a relaxed ground state, no average) gets none.

    Parameters
    ----------
    explorer : ActiveLearningExplorer
    observable : str
        ``"energy"`` or the name of a scalar observable (``"m_z"``, ``"m_abs"``, ``"Q_total"``...;
        see ``explorer.to_dataframe().columns``).
    ax : matplotlib Axes, optional
    x : str, optional
        The parameter on the horizontal axis (default: the first).
    at, slice_tol
        The other parameters' values and the slice's half-width (fraction of each axis), as for
        :func:`plot_phase_diagram`; points within it are drawn, and the title says where.
    errors : bool, default=True
        Draw the error bars.
    phase_labels, labels, units
        As for :func:`plot_phase_diagram`.
    ylabel : str, optional
        The vertical axis' label (default: the observable's name, with ``/ J_1 per spin`` for the
        built-in energy).
    title : str, optional
        Default: the observable's name and the slice.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if not isinstance(observable, str) or not observable:
        raise TypeError(f"observable must be the name of an observable, e.g. 'm_z' or 'energy'; got {observable!r}")
    space = space_of(explorer)
    sl = resolve_slice(explorer, x=space.names[0] if x is None else x, at=at, tol=slice_tol)
    style = PhaseStyle(explorer, phase_labels)
    status = np.asarray(explorer.status, dtype=int)
    idx = np.asarray([i for i in sl.inside if status[i] == PointStatus.DONE], dtype=int)
    values, errs = observable_values(explorer, observable, idx)
    if len(idx) and not np.isfinite(values).any():
        known = sorted({k for i in idx if explorer.records[int(i)].result is not None
                        for k in explorer.records[int(i)].result.scalar_observables()} | {"energy"})
        raise ValueError(f"observable {observable!r} is recorded by none of the {len(idx)} finished points "
                         f"in this slice; observables: {known}")
    ax = new_axes(ax)
    X = np.asarray(explorer.X, dtype=float).reshape(-1, space.n_dims)
    xs = X[idx, sl.shown[0]] if len(idx) else np.zeros(0)
    phases = np.asarray(explorer.phases, dtype=int)[idx]
    order = np.argsort(xs, kind="stable")
    from matplotlib.lines import Line2D

    handles = []
    for p in sorted({int(p) for p in phases}, key=style.vocabulary.order_key):
        m = (phases == p) & np.isfinite(values)
        if not m.any():
            continue
        with_err = m & np.isfinite(errs) if errors else np.zeros_like(m)
        if with_err.any():  # Monte Carlo averages: +- one standard error
            ax.errorbar(xs[with_err], values[with_err], yerr=errs[with_err], fmt="o", color=style.color(p),
                        mec="black", mew=0.5, ecolor="black", elinewidth=0.8, capsize=2.0, ms=5, zorder=3)
        rest = m & ~with_err
        if rest.any():  # no recorded error (T = 0, a relaxed state): no bar
            ax.plot(xs[rest], values[rest], "o", color=style.color(p), mec="black", mew=0.5, ms=5, zorder=3)
        handles.append(Line2D([], [], ls="none", marker="o", color=style.color(p), mec="black", mew=0.5,
                              label=style.name(p)))
    if len(order):
        ax.plot(xs[order], values[order], color="0.6", lw=0.6, zorder=2)
    if errors and np.isfinite(errs).any():
        handles.append(Line2D([], [], color="black", lw=0.8, marker="|", ms=8,
                              label="+- 1 standard error (binned)"))
    set_scales(ax, explorer, sl, labels, units)
    if ylabel is None:
        desc = getattr(explorer, "simulation_description", None)
        builtin = isinstance(desc, Mapping) and desc.get("simulation") == "SpinSimulation"
        ylabel = ("energy / $J_1$ per spin" if builtin else "energy") if observable == "energy" else observable
    ax.set_ylabel(ylabel)
    if len(idx) == 0:
        ax.text(0.5, 0.5, "no finished point in this slice", transform=ax.transAxes, ha="center", va="center")
    ax.set_title(fit_title(ax, slice_title(observable if title is None else title, sl)))
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small", frameon=False,
                  borderaxespad=0.0)
    return ax
