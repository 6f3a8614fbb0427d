"""The phase diagram, the uncertainty map and the convergence of a run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from spinexplore._analysis_grid import GridPrediction, Slice, axis_label, decision, predict_grid, resolve_slice, space_of
from spinexplore._validation import check_choice, check_int, check_real
from spinexplore.plotting._common import PHASE_COLORS, new_axes, phase_cmap, phase_labels
from spinexplore.results import PhaseType, PointStatus

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

#: Colours of the rounds with ``points="iteration"`` (Paul Tol's "muted", then viridis).
_ROUND_COLORS = ("#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677",
                 "#882255", "#AA4499", "#DDDDDD")


def padded(grid: GridPrediction, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cell-centre values extended to the box edges (so that filled contours reach them)."""
    xs = np.concatenate([[grid.edges[0][0]], grid.coords[0], [grid.edges[0][-1]]])
    ys = np.concatenate([[grid.edges[1][0]], grid.coords[1], [grid.edges[1][-1]]])
    pad = [(1, 1), (1, 1)] + [(0, 0)] * (values.ndim - 2)
    return xs, ys, np.pad(values, pad, mode="edge")


def set_scales(ax: Any, explorer: Any, sl: Slice, labels: Any, units: Any) -> None:
    space = space_of(explorer)
    for k, (setl, sets, setlim) in zip(sl.shown, ((ax.set_xlabel, ax.set_xscale, ax.set_xlim),
                                                  (ax.set_ylabel, ax.set_yscale, ax.set_ylim))):
        setl(axis_label(space.names[k], explorer, labels, units))
        if space.is_log[k]:
            sets("log")
        setlim(*space.bounds[k])


def slice_title(base: str, sl: Slice) -> str:
    text = sl.describe()
    return f"{base}\n{text}" if text else base


def _draw_regions(ax: Any, grid: GridPrediction, sl: Slice, *, alpha: float, smooth: bool,
                  boundaries: bool, uncertain: float | None) -> set[int]:
    present = {int(p) for p in np.unique(grid.phase)}
    if len(sl.shown) == 1:
        phases, edges = grid.phase, grid.edges[0]
        start = 0
        for i in range(1, len(phases) + 1):
            if i == len(phases) or phases[i] != phases[start]:
                ax.axvspan(edges[start], edges[i], color=PHASE_COLORS[PhaseType(phases[start])], alpha=alpha,
                           lw=0, zorder=1)
                if boundaries and i < len(phases):
                    ax.axvline(edges[i], color="black", lw=0.9, zorder=2)
                start = i
        return present
    f = decision(grid)
    if smooth:
        xs, ys, fp = padded(grid, f)
        for c, phase in enumerate(grid.classes):
            if int(phase) in present:
                ax.contourf(xs, ys, fp[..., c], levels=[0.0, 2.0], colors=[PHASE_COLORS[PhaseType(int(phase))]],
                            alpha=alpha, antialiased=True, zorder=1)
    else:
        cmap, norm = phase_cmap()
        ax.pcolormesh(grid.edges[0], grid.edges[1], grid.phase, cmap=cmap, norm=norm, alpha=alpha,
                      shading="flat", zorder=1, rasterized=True)
    if boundaries and f.shape[-1] > 1:
        xs, ys, fp = padded(grid, f)
        for c, phase in enumerate(grid.classes):
            if int(phase) in present and np.nanmin(fp[..., c]) < 0 < np.nanmax(fp[..., c]):
                ax.contour(xs, ys, fp[..., c], levels=[0.0], colors="black", linewidths=0.9, zorder=2)
    if uncertain is not None:
        import matplotlib as mpl

        xs, ys, mp = padded(grid, grid.proba.max(axis=-1))
        if np.nanmin(mp) < uncertain:
            with mpl.rc_context({"hatch.color": "0.25", "hatch.linewidth": 0.5}):
                ax.contourf(xs, ys, mp, levels=[0.0, uncertain], colors="none", hatches=["////"], zorder=2)
    return present


def _point_masks(explorer: Any, keep: np.ndarray) -> dict[str, np.ndarray]:
    status = np.asarray(explorer.status, dtype=int)[keep]
    phases = np.asarray(explorer.phases, dtype=int)[keep]
    physical = [int(p) for p in PhaseType if p.is_physical]
    done = (status == PointStatus.DONE) & np.isin(phases, physical)
    failed = (status == PointStatus.FAILED) | ((status == PointStatus.DONE) & (phases == PhaseType.FAILED))
    timeout = (status == PointStatus.TIMEOUT) | ((status == PointStatus.DONE) & (phases == PhaseType.TIMEOUT))
    return {"done": done, "failed": failed, "timeout": timeout, "pending": ~(done | failed | timeout)}


def _draw_promoted(ax: Any, explorer: Any, keep: np.ndarray, xs: np.ndarray, ys: np.ndarray,
                   marker_size: float) -> list[Any]:
    """Ring the points a fidelity ladder re-simulated at a higher rung: black where the rungs
    agreed, red where the higher rung changed the label. Returns the legend handles."""
    from matplotlib.lines import Line2D

    from spinexplore.fidelity import rung_results

    all_records = getattr(explorer, "records", None)
    if not all_records:  # an explorer-like object without records: nothing to ring
        return []
    records = [all_records[i] for i in np.arange(len(all_records))[keep]]
    agreed, changed = np.zeros(len(records), bool), np.zeros(len(records), bool)
    for j, r in enumerate(records):
        entries = rung_results(r.result)
        if len(entries) > 1:
            labels = {e.phase for e in entries.values() if e.phase.is_physical}
            (changed if len(labels) > 1 else agreed)[j] = True
    handles = []
    for mask, color, what in ((agreed, "black", "promoted, same label"), (changed, "red", "promoted, label changed")):
        if mask.any():
            ax.scatter(xs[mask], ys[mask], marker="o", facecolors="none", edgecolors=color, s=marker_size * 3.2,
                       linewidths=1.2, zorder=4)
            handles.append(Line2D([], [], ls="none", marker="o", mfc="none", mec=color, mew=1.2, ms=9,
                                  label=f"{what} ({int(mask.sum())})"))
    return handles


def draw_points(ax: Any, explorer: Any, sl: Slice, points: str | None, marker_size: float,
                names: Mapping[PhaseType, str], colorbar_at: str = "bottom") -> tuple[list[Any], set[int]]:
    """Scatter the points of the slice by status; returns legend handles and the phases drawn."""
    import matplotlib
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.lines import Line2D

    if points is None:
        return [], set()
    space = space_of(explorer)
    keep = sl.inside
    X = np.asarray(explorer.X, dtype=float).reshape(-1, space.n_dims)[keep]
    phases = np.asarray(explorer.phases, dtype=int)[keep]
    its = np.asarray(explorer.iterations, dtype=int)[keep]
    xs = X[:, sl.shown[0]]
    ys = its.astype(float) if len(sl.shown) == 1 else X[:, sl.shown[1]]
    m = _point_masks(explorer, keep)
    handles: list[Any] = []
    present: set[int] = set()
    done = m["done"]
    if done.any() and points == "phase":
        cmap, norm = phase_cmap()
        ax.scatter(xs[done], ys[done], c=phases[done], cmap=cmap, norm=norm, s=marker_size,
                   edgecolors="black", linewidths=0.6, zorder=3)
        present = {int(p) for p in np.unique(phases[done])}
    elif done.any():
        all_its = np.asarray(explorer.iterations, dtype=int)
        n_rounds = int(all_its.max(initial=0)) + 1
        colors = (list(_ROUND_COLORS[:n_rounds]) if n_rounds <= len(_ROUND_COLORS)
                  else [matplotlib.colormaps["viridis"](t) for t in np.linspace(0, 1, n_rounds)])
        norm = BoundaryNorm(np.arange(n_rounds + 1) - 0.5, n_rounds)
        sc = ax.scatter(xs[done], ys[done], c=its[done], cmap=ListedColormap(colors), norm=norm, s=marker_size,
                        edgecolors="black", linewidths=0.6, zorder=3)
        step = max(1, int(np.ceil(n_rounds / 10)))
        ax.figure.colorbar(sc, ax=ax, location=colorbar_at, ticks=np.arange(0, n_rounds, step), pad=0.02,
                           shrink=0.8, aspect=30, label="iteration (round that proposed the point)"
                           if colorbar_at == "bottom" else "iteration")
    for key, color, marker in (("failed", PHASE_COLORS[PhaseType.FAILED], "x"),
                               ("timeout", PHASE_COLORS[PhaseType.TIMEOUT], "+")):
        mask = m[key]
        if mask.any():
            ax.scatter(xs[mask], ys[mask], marker=marker, c=color, s=marker_size * 1.5, linewidths=1.6, zorder=4)
            handles.append(Line2D([], [], ls="none", marker=marker, color=color, mew=1.6,
                                  label=f"{names[PhaseType[key.upper()]]} ({int(mask.sum())})"))
    handles += _draw_promoted(ax, explorer, keep, xs, ys, marker_size)
    if m["pending"].any():
        mask = m["pending"]
        ax.scatter(xs[mask], ys[mask], marker="o", facecolors="none", edgecolors="0.35", s=marker_size,
                   linewidths=0.8, zorder=3)
        handles.append(Line2D([], [], ls="none", marker="o", mfc="none", mec="0.35",
                              label=f"pending ({int(mask.sum())})"))
    return handles, present


def plot_phase_diagram(
    explorer: Any,
    *,
    ax: Axes | None = None,
    x: str | None = None,
    y: str | None = None,
    at: Mapping[str, float] | None = None,
    dims: Sequence[str] | str | None = None,
    slice_at: Mapping[str, float] | None = None,
    slice_tol: float | None = 0.1,
    resolution: int = 200,
    points: str | None = "phase",
    region_alpha: float = 0.55,
    legend: bool | str = True,
    marker_size: float = 28.0,
    boundaries: bool = True,
    uncertain: float | None = 0.6,
    smooth: bool = True,
    phase_labels: Mapping[Any, str] | None = None,
    labels: Mapping[str, str] | None = None,
    units: Mapping[str, str] | str | None = None,
    title: str | None = "phase diagram",
) -> Axes:
    """Predicted phases as coloured regions with smooth boundary lines, the uncertain area
    hatched, and the sampled points on top.

    Parameters
    ----------
    explorer : ActiveLearningExplorer
    ax : matplotlib Axes, optional
        Where to draw; a new figure (constrained layout) when None.
    x, y : str, optional
        The dimensions on the horizontal and vertical axes (default: the first two, or the only
        one). With one dimension the phases are vertical bands and the points sit at the height
        of their iteration. ``dims=(x, y)`` is the older spelling.
    at : mapping of str to float, optional
        Values of the hidden dimensions, e.g. ``{"J3": 0.1}``. A hidden dimension not given is
        placed at the middle of the box and the title says so. ``slice_at`` is the older
        spelling.
    slice_tol : float or None, default=0.1
        Points within this distance of the slice (per hidden dimension, as a fraction of the
        axis in the sampling scale) are drawn; the title gives the interval and their number.
        None draws the projection of all points.
    resolution : int, default=200
        Grid cells per axis on which the surrogate is evaluated.
    points : {"phase", "iteration"} or None, default="phase"
        Colour finished points by phase or by the round that proposed them (discrete colours
        and a colorbar below the axes); None hides them. Failed points are black crosses,
        timeouts orange plus signs, pending (or cancelled) points hollow grey circles.
    region_alpha : float, default=0.55
        Opacity of the predicted regions.
    legend : bool or {"right", "below"}, default=True
        A legend with the phase names outside the axes: on the right (True, "right") or below
        them in columns ("below", the journal styles' choice, which leaves the width to the
        diagram); False: none. With ``points="iteration"`` the rounds' colorbar takes the other
        side.
    marker_size : float, default=28
    boundaries : bool, default=True
        Draw the phase boundaries as lines: the zero contours of ``p_k - max_{j != k} p_j``.
    uncertain : float or None, default=0.6
        Hatch the area where the surrogate's largest probability is below this value; None
        turns the hatching off.
    smooth : bool, default=True
        Fill the regions with the contours of the decision function (smooth edges); False
        draws the grid cells.
    phase_labels : mapping, optional
        Legend names replacing those of :data:`PHASE_LABELS` (keys: PhaseType or names).
    labels, units : mapping of str to str, optional
        Axis labels and units per parameter (``units`` may also be one string for all axes).
        The default label is the parameter's symbol, with the unit ``J_1`` when the run used
        ``SpinSimulation``: ``"$h$ / $J_1$"``.
    title : str or None, default="phase diagram"
        The title; the slice description is added below it in N-D spaces. None: no title in
        2-D, only the slice description in N-D (a slice is never drawn without saying where).

    Returns
    -------
    matplotlib.axes.Axes
    """
    sl = resolve_slice(explorer, x=x, y=y, at=at, tol=slice_tol, dims=dims, slice_at=slice_at)
    resolution = check_int("resolution", resolution, minimum=2, maximum=2000)
    if points is not None:
        check_choice("points", points, ["phase", "iteration"])
    region_alpha = check_real("region_alpha", region_alpha, minimum=0.0, maximum=1.0)
    if uncertain is not None:
        uncertain = check_real("uncertain", uncertain, minimum=0.0, maximum=1.0)
    names = _phase_names(phase_labels)
    if legend not in (True, False, None, "right", "below"):
        raise ValueError(f"legend must be True, False, 'right' or 'below'; got {legend!r}")
    ax = new_axes(ax)
    grid = predict_grid(explorer, sl, resolution)
    present: set[int] = set()
    if grid is not None:
        present |= _draw_regions(ax, grid, sl, alpha=region_alpha, smooth=smooth, boundaries=boundaries,
                                 uncertain=uncertain if len(sl.shown) == 2 else None)
    else:
        ax.text(0.5, 0.5, "no finished point yet", transform=ax.transAxes, ha="center", va="center")
    handles, drawn = draw_points(ax, explorer, sl, points, marker_size, names,
                                 colorbar_at="right" if legend == "below" else "bottom")
    present |= drawn
    set_scales(ax, explorer, sl, labels, units)
    if len(sl.shown) == 1:
        its = np.asarray(explorer.iterations, dtype=int)
        ax.set_ylim(-0.5, max(0, int(its.max(initial=0))) + 0.5)
        ax.set_ylabel("iteration")
    if title is not None or sl.at:
        ax.set_title(slice_title(title, sl) if title is not None else sl.describe())
    if legend:
        from matplotlib.patches import Patch

        patches = [Patch(facecolor=PHASE_COLORS[PhaseType(p)], edgecolor="black", lw=0.5, label=names[PhaseType(p)])
                   for p in sorted(present)]
        if grid is not None and uncertain is not None and len(sl.shown) == 2 and grid.proba.max(axis=-1).min() < uncertain:
            patches.append(Patch(facecolor="white", edgecolor="0.25", lw=0.5, hatch="////",
                                 label=f"max p < {uncertain:g}"))
        if (patches or handles) and legend == "below":
            if _outside_ok(ax):  # the figure's own legend, placed by constrained layout
                ax.figure.legend(handles=patches + handles, loc="outside lower center", ncols=2,
                                 fontsize="small", frameon=False)
            else:
                ax.legend(handles=patches + handles, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=2,
                          fontsize="small", frameon=False)
        elif patches or handles:
            ax.legend(handles=patches + handles, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                      fontsize="small", frameon=False, borderaxespad=0.0)
    return ax


def _outside_ok(ax: Any) -> bool:
    """True when the figure has this one Axes and constrained layout (a figure legend fits)."""
    engine = ax.figure.get_layout_engine()
    return len(ax.figure.axes) <= 2 and engine is not None and type(engine).__name__ == "ConstrainedLayoutEngine"


def _phase_names(overrides: Mapping[Any, str] | None) -> dict[PhaseType, str]:
    return phase_labels(overrides)


def plot_uncertainty(
    explorer: Any,
    *,
    ax: Axes | None = None,
    x: str | None = None,
    y: str | None = None,
    at: Mapping[str, float] | None = None,
    dims: Sequence[str] | str | None = None,
    slice_at: Mapping[str, float] | None = None,
    slice_tol: float | None = 0.1,
    resolution: int = 200,
    show_points: bool = True,
    cmap: str = "magma",
    labels: Mapping[str, str] | None = None,
    units: Mapping[str, str] | str | None = None,
) -> Axes:
    """Map of the surrogate's uncertainty, ``1 - max_k p_k``, where the next points will go.

    Parameters are those of :func:`plot_phase_diagram`; ``show_points`` draws the sampled points
    of the slice as small white dots. In 1D the uncertainty is a curve.

    Returns
    -------
    matplotlib.axes.Axes
    """
    sl = resolve_slice(explorer, x=x, y=y, at=at, tol=slice_tol, dims=dims, slice_at=slice_at)
    resolution = check_int("resolution", resolution, minimum=2, maximum=2000)
    ax = new_axes(ax)
    grid = predict_grid(explorer, sl, resolution)
    space = space_of(explorer)
    X = np.asarray(explorer.X, dtype=float).reshape(-1, space.n_dims)[sl.inside]
    if grid is None:
        ax.text(0.5, 0.5, "no finished point yet", transform=ax.transAxes, ha="center", va="center")
    else:
        unc = grid.uncertainty
        vmax = max(1.0 - 1.0 / max(grid.proba.shape[-1], 2), 1e-12)
        if len(sl.shown) == 1:
            ax.plot(grid.coords[0], unc, color="black")
            ax.set_ylim(0.0, vmax * 1.05)
            ax.set_ylabel("uncertainty (1 - max p)")
            if show_points and len(X):
                ax.plot(X[:, sl.shown[0]], np.zeros(len(X)), "|", color="tab:blue", ms=10, clip_on=False)
        else:
            mesh = ax.pcolormesh(grid.edges[0], grid.edges[1], unc, cmap=cmap, vmin=0.0, vmax=vmax,
                                 shading="flat", rasterized=True)
            ax.figure.colorbar(mesh, ax=ax, label="uncertainty (1 - max p)", pad=0.02)
    if show_points and len(sl.shown) == 2 and len(X):
        ax.scatter(X[:, sl.shown[0]], X[:, sl.shown[1]], s=8, c="white", edgecolors="black", linewidths=0.4,
                   zorder=3)
    set_scales(ax, explorer, sl, labels, units)
    if len(sl.shown) == 1:
        ax.set_ylabel("uncertainty (1 - max p)")
    ax.set_title(slice_title("uncertainty", sl))
    return ax


def plot_convergence(explorer: Any, *, ax: Axes | None = None) -> Axes:
    """Convergence of a run: per iteration, the fraction of the predicted map that changed and the
    mean uncertainty of the candidates (both fall towards 0 as the map settles).

    Parameters
    ----------
    explorer : ActiveLearningExplorer or list of dict
        The explorer, or its ``history`` (dicts with ``iteration``, ``changed_fraction``,
        ``mean_uncertainty`` and optionally ``n_failed``).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    history = explorer if isinstance(explorer, (list, tuple)) else getattr(explorer, "history", None)
    if history is None:
        raise TypeError(
            f"explorer must be an ActiveLearningExplorer or its history (a list of dicts); "
            f"got {type(explorer).__name__}"
        )
    ax = new_axes(ax)
    ax.set_xlabel("iteration")
    ax.set_ylabel("fraction")
    ax.set_title("convergence")
    if not history:
        ax.text(0.5, 0.5, "no completed iteration yet", transform=ax.transAxes, ha="center", va="center")
        return ax
    it = np.array([h.get("iteration", i) for i, h in enumerate(history)], dtype=float)
    for key, marker, label in (("changed_fraction", "o", "changed fraction of the map"),
                               ("mean_uncertainty", "s", "mean uncertainty")):
        vals = np.array([np.nan if h.get(key) is None else float(h[key]) for h in history])
        if np.isfinite(vals).any():
            ax.plot(it, vals, marker=marker, label=label)
    failed = np.array([float(h.get("n_failed", 0) or 0) for h in history])
    n_points = np.array([float(h.get("n_points", 0) or 0) for h in history])
    if failed.any() and n_points.all():
        ax.plot(it, failed / n_points, marker="x", ls=":", color="black", label="failed fraction")
    ax.set_ylim(bottom=0.0)
    ax.set_xticks(it if len(it) <= 15 else np.linspace(it.min(), it.max(), 8).round())
    ax.legend(fontsize="small")
    return ax
