"""The phase diagram, the uncertainty map and the convergence of a run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from spinexplore._analysis_grid import GridPrediction, Slice, axis_label, decision, predict_grid, resolve_slice, space_of
from spinexplore._validation import check_choice, check_int, check_real
from spinexplore.labels import UNKNOWN_ID
from spinexplore.plotting._common import MIN_REGION_POINTS, PHASE_COLORS, UNDECIDED_STYLE, PhaseStyle, new_axes
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


def fit_title(ax: Any, text: str) -> str:
    """``text`` wrapped to the width of ``ax`` (a long slice description would be clipped at
    both sides of the figure): lines break at "; " and spaces, about 0.55 em per character."""
    import textwrap

    import matplotlib as mpl
    from matplotlib.font_manager import FontProperties

    fig = ax.figure
    width_in = fig.get_figwidth() * ax.get_position().width
    size = FontProperties(size=mpl.rcParams["axes.titlesize"]).get_size_in_points()
    n_chars = max(20, int(width_in * 72 / (0.55 * size)))
    lines = []
    for line in text.splitlines():
        parts = [p + ";" for p in line.split("; ")]
        parts[-1] = parts[-1][:-1]
        current = ""
        for part in parts:
            trial = f"{current} {part}" if current else part
            if len(trial) <= n_chars:
                current = trial
                continue
            if current:
                lines.append(current)
            wrapped = textwrap.wrap(part, n_chars) or [""]
            lines.extend(wrapped[:-1])
            current = wrapped[-1]
        lines.append(current)
    return "\n".join(lines)


def default_crossovers(explorer: Any, sl: Slice) -> list[tuple[int, int]]:
    """FM|PM in an h-T slice: a crossover in a field (no symmetry is broken between them)."""
    shown = {space_of(explorer).names[k] for k in sl.shown}
    return [(int(PhaseType.FERROMAGNET), int(PhaseType.PARAMAGNET))] if {"h", "T"} <= shown else []


def _check_crossovers(pairs: Any, vocabulary: Any) -> list[tuple[int, int]]:
    """The label ids of ``pairs`` (names of the run's vocabulary, PhaseType members or names)."""
    vocab = vocabulary.copy()  # a name the run never saw gets an id that matches no region
    out = []
    for pair in pairs:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"crossovers must be pairs of phases, e.g. [('FERROMAGNET', 'PARAMAGNET')]; got {pair!r}")
        try:
            out.append((vocab.id_of(pair[0]), vocab.id_of(pair[1])))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"crossovers: {pair!r} is not a pair of phase labels ({exc})") from None
    return out


def _merged_decision(grid: GridPrediction, pairs: Sequence[tuple[int, int]]) -> tuple[np.ndarray, list[int]]:
    """``p_k - max_{j != k} p_j`` with each crossover pair counted as one class (its first phase)."""
    classes = [int(c) for c in grid.classes]
    p = np.array(grid.proba, dtype=float, copy=True)
    keep = list(range(len(classes)))
    for a, b in pairs:
        if int(a) in classes and int(b) in classes:
            ia, ib = classes.index(int(a)), classes.index(int(b))
            if ib in keep and ia in keep:
                p[..., ia] += p[..., ib]
                keep.remove(ib)
    p = p[..., keep]
    if p.shape[-1] == 1:
        return np.ones_like(p), [classes[k] for k in keep]
    order = np.sort(p, axis=-1)
    top, second = order[..., -1:], order[..., -2:-1]
    return p - np.where(p >= top, second, top), [classes[k] for k in keep]


def _draw_regions(ax: Any, grid: GridPrediction, sl: Slice, *, alpha: float, smooth: bool,
                  boundaries: bool, uncertain: float | None, style: PhaseStyle | None = None,
                  crossovers: Sequence[tuple[int, int]] = ()) -> set[int]:
    style = PhaseStyle() if style is None else style
    present = {int(p) for p in np.unique(grid.phase)}
    if len(sl.shown) == 1:
        phases, edges = grid.phase, grid.edges[0]
        start = 0
        for i in range(1, len(phases) + 1):
            if i == len(phases) or phases[i] != phases[start]:
                ax.axvspan(edges[start], edges[i], color=style.color(phases[start]), alpha=alpha,
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
                ax.contourf(xs, ys, fp[..., c], levels=[0.0, 2.0], colors=[style.color(phase)],
                            alpha=alpha, antialiased=True, zorder=1)
    else:
        cmap, norm = style.cmap(grid.classes)
        ax.pcolormesh(grid.edges[0], grid.edges[1], grid.phase, cmap=cmap, norm=norm, alpha=alpha,
                      shading="flat", zorder=1, rasterized=True)
    if boundaries and f.shape[-1] > 1:
        merged, line_classes = _merged_decision(grid, crossovers) if crossovers else (f, list(grid.classes))
        xs, ys, fp = padded(grid, merged)
        for c, phase in enumerate(line_classes):
            if int(phase) in present and np.nanmin(fp[..., c]) < 0 < np.nanmax(fp[..., c]):
                ax.contour(xs, ys, fp[..., c], levels=[0.0], colors="black", linewidths=0.9, zorder=2)
    if uncertain is not None:
        import matplotlib as mpl

        xs, ys, mp = padded(grid, grid.proba.max(axis=-1))
        if np.nanmin(mp) < uncertain:
            with mpl.rc_context({"hatch.color": "0.25", "hatch.linewidth": 0.5}):
                ax.contourf(xs, ys, mp, levels=[0.0, uncertain], colors="none", hatches=["////"], zorder=2)
    return present


#: Refinement of the grid around the points of a thin phase (one with finished points but no
#: grid cell of its own): windows of +-THIN_WINDOW cells around each point, THIN_REFINE times finer.
THIN_REFINE = 8
THIN_WINDOW = 2
#: At most this many points of one thin phase get a refined window (the rest: hatched markers).
THIN_MAX_POINTS = 200


def thin_phases(explorer: Any, sl: Slice, grid: GridPrediction, rare: Mapping[int, int]) -> dict[int, np.ndarray]:
    """Phases with finished points in the slice but no grid cell of their own (a region thinner
    than the grid, or one the surrogate never ranks first at the grid's cell centres): id ->
    indices of those points."""
    m = _point_masks(explorer, sl.inside, rare)
    phases = np.asarray(explorer.phases, dtype=int)[sl.inside]
    regions = {int(p) for p in np.unique(grid.phase)}
    out = {}
    for i in np.unique(phases[m["done"]]):
        if int(i) not in regions:
            out[int(i)] = np.asarray(sl.inside)[m["done"] & (phases == i)]
    return out


def _blend(color: str, alpha: float) -> tuple[float, float, float]:
    """``color`` drawn with ``alpha`` over white, as an opaque colour (overlapping windows of a
    thin phase then look like one region drawn with ``alpha``)."""
    from matplotlib.colors import to_rgb

    return tuple(alpha * c + (1.0 - alpha) for c in to_rgb(color))  # type: ignore[return-value]


def _draw_thin(ax: Any, explorer: Any, sl: Slice, grid: GridPrediction, thin: Mapping[int, np.ndarray], *,
               alpha: float, boundaries: bool, style: PhaseStyle, resolution: int,
               marker_size: float = 28.0, drop: Any = ()) -> dict[int, bool]:
    """Draw the phases ``thin`` that have no grid cell: the surrogate is evaluated
    :data:`THIN_REFINE` times finer in windows of +-:data:`THIN_WINDOW` cells around each of their
    points and the part where the phase wins is filled (with its boundary line); where it wins
    nowhere, its points get large hatched markers of its colour (a marked band; not in the slice
    of an N-D space, whose points lie off the plane). Returns, per phase drawn, True when a
    refined region was drawn, False when only the markers were."""
    import matplotlib as mpl

    space = space_of(explorer)
    X = np.asarray(explorer.X, dtype=float).reshape(-1, space.n_dims)
    classes = [int(c) for c in grid.classes]
    half = THIN_WINDOW / resolution
    n_fine = 2 * THIN_WINDOW * THIN_REFINE
    out: dict[int, bool] = {}
    for phase, idx in thin.items():
        if phase not in classes:  # not a class of the surrogate: only the markers can show it
            drawn_any = False
            lost = idx
        else:
            c = classes.index(phase)
            drawn_any = False
            won = np.zeros(len(idx), dtype=bool)
            U0 = space.to_unit(X[idx[:THIN_MAX_POINTS]])
            color = _blend(style.color(phase), alpha)
            windows = []
            for u0 in U0:
                axes_u = [np.linspace(max(0.0, u0[k] - half), min(1.0, u0[k] + half), n_fine)
                          for k in sl.shown]
                if len(sl.shown) == 2:
                    gy, gx = np.meshgrid(axes_u[1], axes_u[0], indexing="ij")
                    U = np.tile(sl.center, (gx.size, 1))
                    U[:, sl.shown[0]], U[:, sl.shown[1]] = gx.ravel(), gy.ravel()
                else:
                    U = np.tile(sl.center, (n_fine, 1))
                    U[:, sl.shown[0]] = axes_u[0]
                windows.append(space.from_unit(U))
            _, proba_all = explorer.predict(np.vstack(windows))  # one call for every window
            proba_all = np.asarray(proba_all, dtype=float).reshape(sum(len(w) for w in windows), -1).copy()
            proba_all[:, np.isin(classes, list(drop))] = 0.0
            starts = np.cumsum([0] + [len(w) for w in windows])
            for j, Xw in enumerate(windows):
                proba = proba_all[starts[j]:starts[j + 1]]
                rival = np.delete(proba, c, axis=1).max(axis=1) if proba.shape[1] > 1 else np.zeros(len(Xw))
                f = proba[:, c] - rival
                if not (f > 0).any():
                    continue
                won[j] = True
                drawn_any = True
                if len(sl.shown) == 2:
                    xs, ys = Xw[:, sl.shown[0]].reshape(n_fine, n_fine)[0], Xw[:, sl.shown[1]].reshape(n_fine, n_fine)[:, 0]
                    fw = f.reshape(n_fine, n_fine)
                    ax.contourf(xs, ys, fw, levels=[0.0, 2.0], colors=[color], antialiased=True, zorder=1.5)
                    if boundaries and (fw < 0).any():
                        ax.contour(xs, ys, fw, levels=[0.0], colors="black", linewidths=0.6, zorder=2)
                else:
                    xs = Xw[:, sl.shown[0]]
                    wins = f > 0
                    start = None
                    for k in range(n_fine + 1):
                        if k < n_fine and wins[k] and start is None:
                            start = k
                        elif (k == n_fine or not wins[k]) and start is not None:
                            ax.axvspan(xs[start], xs[k - 1], color=color, lw=0, zorder=1.5)
                            start = None
            lost = idx[:THIN_MAX_POINTS][~won]
            lost = np.concatenate([lost, idx[THIN_MAX_POINTS:]]).astype(int)
        if len(lost) and sl.at and not drawn_any:
            continue  # an N-D slice: its points lie off the plane, where the phase may well win
        if len(lost) and not sl.at:
            xs = X[lost, sl.shown[0]]
            ys = (np.asarray(explorer.iterations, dtype=float)[lost] if len(sl.shown) == 1
                  else X[lost, sl.shown[1]])
            with mpl.rc_context({"hatch.color": style.color(phase), "hatch.linewidth": 1.0}):
                ax.scatter(xs, ys, marker="o", s=5.0 * marker_size, facecolors=[_blend(style.color(phase), 0.25)],
                           edgecolors=[style.color(phase)], linewidths=1.0, hatch="xxxx", zorder=2.5)
        out[phase] = drawn_any
    return out


def undecided_learned(explorer: Any) -> bool:
    """True when the exploration learns UNKNOWN as a phase (``unknown_as_phase=True``)."""
    learner = getattr(explorer, "learner", None)
    return bool(getattr(learner, "unknown_as_phase", getattr(explorer, "unknown_as_phase", False)))


def rare_labels(explorer: Any, style: PhaseStyle) -> dict[int, int]:
    """Undeclared labels with fewer than :data:`MIN_REGION_POINTS` finished points: id -> count.
    They are drawn as points (with a marker legend entry), not as regions."""
    status = np.asarray(explorer.status, dtype=int)
    phases = np.asarray(explorer.phases, dtype=int)
    ids, counts = np.unique(phases[(status == PointStatus.DONE) & (phases >= 0)], return_counts=True)
    return {int(i): int(c) for i, c in zip(ids, counts)
            if c < MIN_REGION_POINTS and not style.declared(i)
            and not (int(i) == UNKNOWN_ID and not undecided_learned(explorer))}


def _point_masks(explorer: Any, keep: np.ndarray, rare: Mapping[int, int] | None = None) -> dict[str, np.ndarray]:
    status = np.asarray(explorer.status, dtype=int)[keep]
    phases = np.asarray(explorer.phases, dtype=int)[keep]
    labelled = (status == PointStatus.DONE) & (phases >= 0) & (phases != PhaseType.FAILED) \
        & (phases != PhaseType.TIMEOUT)
    undecided = labelled & (phases == UNKNOWN_ID) & (not undecided_learned(explorer))
    rare_mask = labelled & np.isin(phases, list(rare or {}))
    done = labelled & ~undecided & ~rare_mask
    failed = (status == PointStatus.FAILED) | ((status == PointStatus.DONE) & (phases == PhaseType.FAILED))
    timeout = (status == PointStatus.TIMEOUT) | ((status == PointStatus.DONE) & (phases == PhaseType.TIMEOUT))
    return {"done": done, "undecided": undecided, "rare": rare_mask, "failed": failed, "timeout": timeout,
            "pending": ~(labelled | failed | timeout)}


def _draw_promoted(ax: Any, explorer: Any, keep: np.ndarray, xs: np.ndarray, ys: np.ndarray,
                   marker_size: float) -> list[Any]:
    """Ring the points a fidelity ladder re-simulated at a higher rung: black where the rungs
    agreed, red where the higher rung changed the label. Returns the legend handles."""
    from matplotlib.lines import Line2D

    from spinexplore.fidelity import decided, rung_results

    all_records = getattr(explorer, "records", None)
    if not all_records:  # an explorer-like object without records: nothing to ring
        return []
    records = [all_records[i] for i in np.arange(len(all_records))[keep]]
    agreed, changed = np.zeros(len(records), bool), np.zeros(len(records), bool)
    for j, r in enumerate(records):
        entries = rung_results(r.result, getattr(explorer, "vocabulary", None))
        if len(entries) > 1:
            labels = {e.phase for e in entries.values() if decided(e.phase, undecided_learned(explorer))}
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
                names: Mapping[PhaseType, str] | PhaseStyle, colorbar_at: str = "bottom",
                rare: Mapping[int, int] | None = None) -> tuple[list[Any], set[int]]:
    """Scatter the points of the slice by status; returns legend handles and the phases drawn.

    Points that ran and could not decide (UNKNOWN, not learned) are marked with
    :data:`UNDECIDED_STYLE`; those of the ``rare`` labels with diamonds of their colour and a
    legend entry each."""
    import matplotlib
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.lines import Line2D

    if points is None:
        return [], set()
    style = names if isinstance(names, PhaseStyle) else PhaseStyle(explorer, names)
    space = space_of(explorer)
    keep = sl.inside
    X = np.asarray(explorer.X, dtype=float).reshape(-1, space.n_dims)[keep]
    phases = np.asarray(explorer.phases, dtype=int)[keep]
    its = np.asarray(explorer.iterations, dtype=int)[keep]
    xs = X[:, sl.shown[0]]
    ys = its.astype(float) if len(sl.shown) == 1 else X[:, sl.shown[1]]
    m = _point_masks(explorer, keep, rare)
    handles: list[Any] = []
    present: set[int] = set()
    done = m["done"]
    if done.any() and points == "phase":
        cmap, norm = style.cmap(phases[done])
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
    for i in sorted({int(p) for p in phases[m["rare"]]}, key=style.vocabulary.order_key):
        mask = m["rare"] & (phases == i)
        ax.scatter(xs[mask], ys[mask], marker="D", c=style.color(i), s=marker_size * 1.2, edgecolors="black",
                   linewidths=0.6, zorder=4)
        handles.append(Line2D([], [], ls="none", marker="D", mfc=style.color(i), mec="black", mew=0.6,
                              label=f"{style.name(i)} ({int(mask.sum())})"))
    if m["undecided"].any():
        mask = m["undecided"]
        ax.scatter(xs[mask], ys[mask], marker=UNDECIDED_STYLE["marker"], facecolors="none",
                   edgecolors=UNDECIDED_STYLE["color"], s=marker_size * 1.2, linewidths=1.2, zorder=4)
        handles.append(Line2D([], [], ls="none", marker=UNDECIDED_STYLE["marker"], mfc="none",
                              mec=UNDECIDED_STYLE["color"], mew=1.2,
                              label=f"{UNDECIDED_STYLE['label']} ({int(mask.sum())})"))
    for key, color, marker in (("failed", PHASE_COLORS[PhaseType.FAILED], "x"),
                               ("timeout", PHASE_COLORS[PhaseType.TIMEOUT], "+")):
        mask = m[key]
        if mask.any():
            ax.scatter(xs[mask], ys[mask], marker=marker, c=color, s=marker_size * 1.5, linewidths=1.6, zorder=4)
            handles.append(Line2D([], [], ls="none", marker=marker, color=color, mew=1.6,
                                  label=f"{style.name(int(PhaseType[key.upper()]))} ({int(mask.sum())})"))
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
                 else _check_crossovers(crossovers, style.vocabulary))
        present |= _draw_regions(ax, grid, sl, alpha=region_alpha, smooth=smooth, boundaries=boundaries,
                                 uncertain=uncertain if len(sl.shown) == 2 else None, style=style,
                                 crossovers=pairs)
        thin = _draw_thin(ax, explorer, sl, grid, thin_phases(explorer, sl, grid, rare), alpha=region_alpha,
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
                   if p not in thin else _thin_patch(style, p, thin[p])
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


def _thin_patch(style: PhaseStyle, phase: int, refined: bool) -> Any:
    """The legend entry of a thin phase: its colour, and how it was drawn."""
    from matplotlib.patches import Patch

    if refined:
        return Patch(facecolor=style.color(phase), edgecolor="black", lw=0.5,
                     label=f"{style.name(phase)}, thin: drawn {THIN_REFINE}x finer")
    return Patch(facecolor=_blend(style.color(phase), 0.25), edgecolor=style.color(phase), lw=1.0, hatch="xxxx",
                 label=f"{style.name(phase)}: points only (hatched)")


def _outside_ok(ax: Any) -> bool:
    """True when the figure has this one Axes and constrained layout (a figure legend fits)."""
    engine = ax.figure.get_layout_engine()
    return len(ax.figure.axes) <= 2 and engine is not None and type(engine).__name__ == "ConstrainedLayoutEngine"


def drop_classes(grid: GridPrediction, ids: Any) -> GridPrediction:
    """The grid without the classes ``ids`` (their probability set to 0, so that the
    neighbouring phases fill their cells); unchanged when that would leave no class."""
    drop = np.isin(grid.classes, list(ids))
    if not drop.any() or drop.all():
        return grid
    from dataclasses import replace

    proba = grid.proba.copy()
    proba[..., drop] = 0.0
    return replace(grid, proba=proba)


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
    ax.set_title(fit_title(ax, slice_title("uncertainty", sl)))
    return ax


def plot_convergence(explorer: Any, *, ax: Axes | None = None) -> Axes:
    """Convergence of a run against the number of finished simulations: the part of the predicted
    map that changed at each fit (left axis, % of grid cells) and the mean uncertainty of the
    candidates (right axis, ``1 - max p``); both fall towards 0 as the map settles. When
    simulations failed, their share (% of finished) gets a third axis further right.

    Parameters
    ----------
    explorer : ActiveLearningExplorer or list of dict
        The explorer, or its ``history`` (dicts with ``iteration``, ``changed_fraction``,
        ``mean_uncertainty`` and optionally ``n_done``, ``n_failed``, ``n_points``). The
        horizontal axis is ``n_done + n_failed`` (finished simulations: done, failed or timed
        out); entries without them fall back to ``n_points``, then to the iteration.
    ax : matplotlib Axes, optional
        The axes of the changed part; the others are twins of it (``ax.figure.axes``).

    Returns
    -------
    matplotlib.axes.Axes
        The axes of the changed part.
    """
    history = explorer if isinstance(explorer, (list, tuple)) else getattr(explorer, "history", None)
    if history is None:
        raise TypeError(
            f"explorer must be an ActiveLearningExplorer or its history (a list of dicts); "
            f"got {type(explorer).__name__}"
        )
    ax = new_axes(ax)
    ax.set_title("convergence")
    if not history:
        ax.set_xlabel("finished simulations")
        ax.text(0.5, 0.5, "no completed iteration yet", transform=ax.transAxes, ha="center", va="center")
        return ax

    def column(key: str) -> np.ndarray:
        return np.array([np.nan if h.get(key) is None else float(h[key]) for h in history])

    done, failed, n_points = column("n_done"), column("n_failed"), column("n_points")
    if np.isfinite(done).all():
        x, xlabel = done + np.nan_to_num(failed), "finished simulations (done, failed or timed out)"
    elif np.isfinite(n_points).all():
        x, xlabel = n_points, "simulations started"
    else:
        x = np.array([h.get("iteration", i) for i, h in enumerate(history)], dtype=float)
        xlabel = "iteration"
    ax.set_xlabel(xlabel)
    changed, unc = 100.0 * column("changed_fraction"), column("mean_uncertainty")
    c_changed, c_unc, c_failed = "#4477AA", "#EE6677", "black"
    handles = []
    if np.isfinite(changed).any():
        handles += ax.plot(x, changed, marker="o", color=c_changed, label="map changed since the last fit")
    ax.set_ylabel("map changed (% of grid cells)", color=c_changed)
    ax.tick_params(axis="y", colors=c_changed)
    ax.set_ylim(bottom=0.0)
    ax2 = ax.twinx()
    if np.isfinite(unc).any():
        handles += ax2.plot(x, unc, marker="s", ls="--", color=c_unc, label="mean uncertainty of the candidates")
    ax2.set_ylabel("mean uncertainty (1 - max p)", color=c_unc)
    ax2.tick_params(axis="y", colors=c_unc)
    ax2.set_ylim(bottom=0.0)
    finished = done + np.nan_to_num(failed)
    if np.nan_to_num(failed).any() and np.isfinite(finished).all() and finished.all():
        ax3 = ax.twinx()
        ax3.spines["right"].set_position(("axes", 1.22))
        handles += ax3.plot(x, 100.0 * failed / finished, marker="x", ls=":", color=c_failed,
                            label="failed or timed out")
        ax3.set_ylabel("failed (% of finished)")
        ax3.set_ylim(bottom=0.0)
    ax.legend(handles=handles, fontsize="small", loc="upper right")
    return ax
