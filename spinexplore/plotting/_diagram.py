"""The phase diagram: predicted regions, sampled points and the legend."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from spinexplore.analysis._grid import predict_grid, resolve_slice
from spinexplore._validation import check_choice, check_int, check_real
from spinexplore.plotting._common import PhaseStyle, new_axes
from spinexplore.plotting._points import draw_points, rare_labels
from spinexplore.plotting._regions import (
    check_crossovers,
    default_crossovers,
    draw_regions,
    draw_thin,
    drop_classes,
    thin_patch,
    thin_phases,
)
from spinexplore.plotting._slice_axes import fit_title, set_scales, slice_title

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes


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
    crossovers: Sequence[tuple[Any, Any]] | None = None,
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
        Grid cells per axis on which the surrogate is evaluated. A phase with finished points in
        the slice but no grid cell of its own (a region thinner than a cell) is evaluated 8 times
        finer around its points and drawn there; where the surrogate ranks it first nowhere, its
        points get large hatched markers of its colour. Its legend entry says which.
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
    crossovers : sequence of (phase, phase) pairs, optional
        Pairs whose meeting is a crossover, not a transition: their regions keep their colours
        but no line is drawn between them (the legend says so). Default: FM|PM when the slice
        shows a field ``h`` and a temperature ``T`` (in a field the ferromagnet does not break a
        symmetry the paramagnet has); ``()`` draws every line.
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
    style = PhaseStyle(explorer, phase_labels)
    if legend not in (True, False, None, "right", "below"):
        raise ValueError(f"legend must be True, False, 'right' or 'below'; got {legend!r}")
    ax = new_axes(ax)
    grid = predict_grid(explorer, sl, resolution)
    rare = rare_labels(explorer, style)
    present: set[int] = set()
    thin: dict[int, bool] = {}
    if grid is not None:
        grid = drop_classes(grid, rare)
        pairs = (default_crossovers(explorer, sl) if crossovers is None
                 else check_crossovers(crossovers, style.vocabulary))
        present |= draw_regions(ax, grid, sl, alpha=region_alpha, smooth=smooth, boundaries=boundaries,
                                 uncertain=uncertain if len(sl.shown) == 2 else None, style=style,
                                 crossovers=pairs)
        thin = draw_thin(ax, explorer, sl, grid, thin_phases(explorer, sl, grid, rare), alpha=region_alpha,
                          boundaries=boundaries, style=style, resolution=resolution,
                          marker_size=marker_size, drop=rare)
        present |= set(thin)
    else:
        ax.text(0.5, 0.5, "no finished point yet", transform=ax.transAxes, ha="center", va="center")
    handles, drawn = draw_points(ax, explorer, sl, points, marker_size, style,
                                 colorbar_at="right" if legend == "below" else "bottom", rare=rare)
    present |= drawn
    set_scales(ax, explorer, sl, labels, units)
    if len(sl.shown) == 1:
        its = np.asarray(explorer.iterations, dtype=int)
        ax.set_ylim(-0.5, max(0, int(its.max(initial=0))) + 0.5)
        ax.set_ylabel("iteration")
    if title is not None or sl.at:
        ax.set_title(fit_title(ax, slice_title(title, sl) if title is not None else sl.describe()))
    if legend:
        from matplotlib.patches import Patch

        patches = [Patch(facecolor=style.color(p), edgecolor="black", lw=0.5, label=style.name(p))
                   if p not in thin else thin_patch(style, p, thin[p])
                   for p in sorted(present - set(rare), key=style.vocabulary.order_key)]
        if grid is not None and boundaries and len(sl.shown) == 2:
            for pa, pb in pairs:
                if pa in present and pb in present:
                    patches.append(Patch(facecolor="none", edgecolor="none",
                                         label=f"{style.name(pa)} | {style.name(pb)}: crossover (no line)"))
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
