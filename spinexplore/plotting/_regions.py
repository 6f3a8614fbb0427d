"""The predicted phase regions of a map: filled regions, boundary lines (crossovers without
a line), the hatched uncertain area, and thin phases drawn on a finer grid or as hatched markers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from spinexplore.analysis._grid import GridPrediction, Slice, decision, space_of
from spinexplore.plotting._common import PhaseStyle
from spinexplore.plotting._points import point_masks
from spinexplore.results import PhaseType


def padded(grid: GridPrediction, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cell-centre values extended to the box edges (so that filled contours reach them)."""
    xs = np.concatenate([[grid.edges[0][0]], grid.coords[0], [grid.edges[0][-1]]])
    ys = np.concatenate([[grid.edges[1][0]], grid.coords[1], [grid.edges[1][-1]]])
    pad = [(1, 1), (1, 1)] + [(0, 0)] * (values.ndim - 2)
    return xs, ys, np.pad(values, pad, mode="edge")


def default_crossovers(explorer: Any, sl: Slice) -> list[tuple[int, int]]:
    """FM|PM in an h-T slice: a crossover in a field (no symmetry is broken between them)."""
    shown = {space_of(explorer).names[k] for k in sl.shown}
    return [(int(PhaseType.FERROMAGNET), int(PhaseType.PARAMAGNET))] if {"h", "T"} <= shown else []


def check_crossovers(pairs: Any, vocabulary: Any) -> list[tuple[int, int]]:
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


def draw_regions(ax: Any, grid: GridPrediction, sl: Slice, *, alpha: float, smooth: bool,
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
    m = point_masks(explorer, sl.inside, rare)
    phases = np.asarray(explorer.phases, dtype=int)[sl.inside]
    regions = {int(p) for p in np.unique(grid.phase)}
    out = {}
    for i in np.unique(phases[m["done"]]):
        if int(i) not in regions:
            out[int(i)] = np.asarray(sl.inside)[m["done"] & (phases == i)]
    return out


def blend(color: str, alpha: float) -> tuple[float, float, float]:
    """``color`` drawn with ``alpha`` over white, as an opaque colour (overlapping windows of a
    thin phase then look like one region drawn with ``alpha``)."""
    from matplotlib.colors import to_rgb

    return tuple(alpha * c + (1.0 - alpha) for c in to_rgb(color))  # type: ignore[return-value]


def draw_thin(ax: Any, explorer: Any, sl: Slice, grid: GridPrediction, thin: Mapping[int, np.ndarray], *,
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
            color = blend(style.color(phase), alpha)
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
                ax.scatter(xs, ys, marker="o", s=5.0 * marker_size, facecolors=[blend(style.color(phase), 0.25)],
                           edgecolors=[style.color(phase)], linewidths=1.0, hatch="xxxx", zorder=2.5)
        out[phase] = drawn_any
    return out


def thin_patch(style: PhaseStyle, phase: int, refined: bool) -> Any:
    """The legend entry of a thin phase: its colour, and how it was drawn."""
    from matplotlib.patches import Patch

    if refined:
        return Patch(facecolor=style.color(phase), edgecolor="black", lw=0.5,
                     label=f"{style.name(phase)}, thin: drawn {THIN_REFINE}x finer")
    return Patch(facecolor=blend(style.color(phase), 0.25), edgecolor=style.color(phase), lw=1.0, hatch="xxxx",
                 label=f"{style.name(phase)}: points only (hatched)")
