"""The sampled points of a slice, drawn by status: phase or round colours, undecided, rare
labels, failed, timed-out, pending and promoted (fidelity ladder) points."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from spinexplore.analysis._grid import Slice, space_of
from spinexplore.labels import UNKNOWN_ID
from spinexplore.plotting._common import MIN_REGION_POINTS, PHASE_COLORS, UNDECIDED_STYLE, PhaseStyle
from spinexplore.results import PhaseType, PointStatus

#: Colours of the rounds with ``points="iteration"`` (Paul Tol's "muted", then viridis).
_ROUND_COLORS = ("#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677",
                 "#882255", "#AA4499", "#DDDDDD")


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


def point_masks(explorer: Any, keep: np.ndarray, rare: Mapping[int, int] | None = None) -> dict[str, np.ndarray]:
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
    m = point_masks(explorer, keep, rare)
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
