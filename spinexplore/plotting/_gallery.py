"""Boundaries with their bands, and one representative texture per phase next to the diagram."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from spinexplore.analysis._grid import axis_label, resolve_slice, space_of
from spinexplore.plotting._common import PhaseStyle, check_output, new_axes, style_rc
from spinexplore.plotting._diagram import plot_phase_diagram
from spinexplore.plotting._texture import plot_spin_texture
from spinexplore.results import PointStatus

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes


def plot_boundaries(
    boundaries: Any,
    *,
    ax: Axes | None = None,
    explorer: Any = None,
    band: bool = True,
    annotate: bool = True,
    color: str = "black",
    phase_labels: Mapping[Any, str] | None = None,
    labels: Mapping[str, str] | None = None,
    units: Mapping[str, str] | str | None = None,
    **kwargs: Any,
) -> Axes:
    """Draw phase boundaries as lines with their uncertainty bands (grey), each labelled with the
    two phases it separates.

    Parameters
    ----------
    boundaries : list of Boundary, or an ActiveLearningExplorer
        From :func:`spinexplore.analysis.phase_boundaries`; an explorer is passed to it with
        ``**kwargs`` (``x``, ``y``, ``at``, ``resolution``, ``level``).
    ax : matplotlib Axes, optional
        E.g. the Axes of :func:`plot_phase_diagram`, to draw on top of the regions.
    explorer : ActiveLearningExplorer, optional
        For the axis labels and units when ``boundaries`` is a list.
    band : bool, default=True
        Fill the band between ``edge_a`` and ``edge_b``.
    annotate : bool, default=True
        Write "a | b" (legend names) at the middle of each curve.
    color : str, default="black"
    phase_labels, labels, units
        As for :func:`plot_phase_diagram`.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.patches import Polygon

    from spinexplore.analysis import Boundary, phase_boundaries

    if hasattr(boundaries, "space"):
        explorer = boundaries
        boundaries = phase_boundaries(explorer, **kwargs)
    elif kwargs:
        raise TypeError(f"unexpected keyword(s) {sorted(kwargs)}: only an explorer takes x, y, at, resolution, level")
    boundaries = list(boundaries)
    if not all(isinstance(b, Boundary) for b in boundaries):
        raise TypeError("boundaries must be a list of Boundary objects or an ActiveLearningExplorer")
    style = PhaseStyle(explorer, phase_labels)
    fresh = ax is None
    ax = new_axes(ax)
    for b in boundaries:
        if band:
            ax.add_patch(Polygon(np.vstack([b.edge_a, b.edge_b[::-1]]), closed=True, facecolor="0.5", alpha=0.35,
                                 edgecolor="none", zorder=2.5))
        ax.plot(b.points[:, 0], b.points[:, 1], color=color, lw=1.2, zorder=2.6)
        if annotate and len(b) >= 8:
            mid = b.points[len(b) // 2]
            ax.annotate(f"{style.label_name(b.phases[0])} | {style.label_name(b.phases[1])}", mid, fontsize="x-small", ha="center",
                        va="bottom", zorder=5, bbox={"boxstyle": "round,pad=0.15", "fc": "white", "alpha": 0.7,
                                                     "lw": 0})
    if fresh and boundaries:
        xa, ya = boundaries[0].axes
        if explorer is not None:
            space = space_of(explorer)
            for name, setl, sets, setlim in ((xa, ax.set_xlabel, ax.set_xscale, ax.set_xlim),
                                             (ya, ax.set_ylabel, ax.set_yscale, ax.set_ylim)):
                k = space.names.index(name)
                setl(axis_label(name, explorer, labels, units))
                if space.is_log[k]:
                    sets("log")
                setlim(*space.bounds[k])
        else:
            ax.set_xlabel(xa)
            ax.set_ylabel(ya)
            ax.autoscale_view()
        if boundaries[0].at:
            ax.set_title("boundaries at " + ", ".join(f"{k} = {v:.3g}" for k, v in boundaries[0].at.items()))
    return ax


def representatives(explorer: Any, indices: np.ndarray | None = None) -> dict[int, int]:
    """Per label id (``PhaseType`` values for built-in labels), in the vocabulary's legend order,
    the DONE point with the highest confidence (the lowest index on ties)."""
    status = np.asarray(explorer.status, dtype=int)
    phases = np.asarray(explorer.phases, dtype=int)
    conf = np.nan_to_num(np.asarray(explorer.confidences, dtype=float), nan=0.0)
    idx = np.arange(len(status)) if indices is None else np.asarray(indices, dtype=int)
    done = idx[(status[idx] == PointStatus.DONE) & (phases[idx] >= 0)]
    vocab = getattr(explorer, "vocabulary", None)
    ids = sorted({int(p) for p in phases[done]}, key=vocab.order_key if vocab is not None else int)
    out: dict[int, int] = {}
    for p in ids:
        cand = done[phases[done] == p]
        out[p] = int(cand[np.lexsort((cand, -conf[cand]))[0]])
    return out


def plot_phase_gallery(
    explorer: Any,
    *,
    fig: Any = None,
    x: str | None = None,
    y: str | None = None,
    at: Mapping[str, float] | None = None,
    slice_tol: float | None = 0.1,
    phases: Sequence[Any] | None = None,
    n_columns: int = 2,
    phase_labels: Mapping[Any, str] | None = None,
    lattice: str | None = None,
    **kwargs: Any,
) -> np.ndarray:
    """The phase diagram with one representative spin texture per phase beside it.

    For each phase the DONE point of the slice with the highest confidence is chosen, marked on
    the diagram with its number, and its texture (:func:`spinexplore.analysis.texture`: saved
    spins, or a bit-identical rerun) drawn as discs coloured by S_z with arrows for the in-plane
    spin, and one S_z colour bar
    (in the free slots of the last row of textures when there are any, else on the right).

    Parameters
    ----------
    explorer : ActiveLearningExplorer
    fig : matplotlib Figure, optional
        A new one (constrained layout) when None.
    x, y, at, slice_tol
        The slice, as for :func:`plot_phase_diagram`.
    phases : sequence of labels, optional
        The phases to show (names of the run's labels or ``PhaseType`` members; default: every
        phase with a point in the slice, UNKNOWN included).
    n_columns : int, default=2
        Texture panels per row.
    phase_labels : mapping, optional
        Legend names (see :data:`PHASE_LABELS`).
    lattice : {"triangular", "square"}, optional
        The lattice kind when the run's simulation does not record it (a user's function).
    **kwargs
        Passed to :func:`plot_phase_diagram`.

    Returns
    -------
    ndarray of Axes
        The diagram first, then one Axes per texture.
    """
    from spinexplore.analysis import texture

    sl = resolve_slice(explorer, x=x, y=y, at=at, tol=slice_tol)
    reps = representatives(explorer, sl.inside)
    style = PhaseStyle(explorer, phase_labels)
    if phases is not None:
        vocab = style.vocabulary.copy()  # a name the run never saw gets an id with no point
        wanted = [vocab.id_of(p) for p in phases]
        missing = [vocab.name_of(p) for p in wanted if p not in reps]
        if missing:
            raise ValueError(f"phases {missing} have no DONE point in this slice; available: "
                             f"{[style.vocabulary.name_of(p) for p in reps]}")
        reps = {p: reps[p] for p in wanted}
    names = {p: style.name(p) for p in reps}
    textures = {p: texture(explorer, i, lattice=lattice) for p, i in reps.items()}  # before drawing: errors come first
    if fig is None:
        import matplotlib.pyplot as plt

        n_rows = max(1, -(-len(reps) // n_columns))
        fig = plt.figure(figsize=(6.0 + 2.6 * n_columns, max(4.5, 2.6 * n_rows)), layout="constrained")
    n_rows = max(1, -(-len(reps) // n_columns))
    gs = fig.add_gridspec(n_rows, n_columns + 2, width_ratios=[1.2, 1.2] + [1.0] * n_columns)
    ax0 = fig.add_subplot(gs[:, :2])
    plot_phase_diagram(explorer, ax=ax0, x=sl.axes[0], y=sl.axes[1] if len(sl.axes) > 1 else None,
                       at=at, slice_tol=slice_tol, phase_labels=phase_labels, **kwargs)
    X = np.asarray(explorer.X, dtype=float)
    axes = [ax0]
    for n, (p, i) in enumerate(reps.items()):
        px = X[i, sl.shown[0]]
        py = X[i, sl.shown[1]] if len(sl.shown) > 1 else float(np.asarray(explorer.iterations)[i])
        ax0.annotate(str(n + 1), (px, py), xytext=(4, 4), textcoords="offset points", fontsize="small",
                     fontweight="bold", zorder=6, bbox={"boxstyle": "circle,pad=0.15", "fc": "white", "lw": 0.6})
        ax = fig.add_subplot(gs[n // n_columns, 2 + n % n_columns])
        plot_spin_texture(textures[p], ax=ax, colorbar=False)
        values = ", ".join(f"{k}={v:.3g}" for k, v in textures[p].params.items() if k in sl.axes)
        name = names[p] if len(names[p]) <= 16 else names[p].replace(" (", "\n(", 1)
        ax.set_title(f"({n + 1}) {name}\n{values}", fontsize="small")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("")
        ax.set_ylabel("")
        axes.append(ax)
    if len(axes) > 1:  # one S_z scale for every texture
        import matplotlib as mpl
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        mappable = ScalarMappable(Normalize(-1.0, 1.0), mpl.colormaps["RdBu_r"])
        label = "$S_z$ (arrows: in-plane $S_x, S_y$)"
        if len(reps) % n_columns:  # the free slots of the last row hold the colour bar: no empty panel
            slot = fig.add_subplot(gs[n_rows - 1, 2 + len(reps) % n_columns:])
            slot.set_axis_off()
            cax = slot.inset_axes((0.08, 0.45, 0.84, 0.09))
            fig.colorbar(mappable, cax=cax, orientation="horizontal", label=label, ticks=[-1, 0, 1])
        else:
            fig.colorbar(mappable, ax=axes[1:], label=label, shrink=0.6, pad=0.02)
    return np.array(axes, dtype=object)


def save_phase_gallery(explorer: Any, path: str | os.PathLike[str], *, dpi: int | None = None,
                       style: str | None = None, **kwargs: Any) -> str:
    """Write :func:`plot_phase_gallery` to a file (format by suffix; ``style="double"`` for a
    7.0 in wide journal figure). Returns the path written."""
    import matplotlib as mpl
    from matplotlib.figure import Figure

    path, dpi = check_output(path, (300 if style else 120) if dpi is None else dpi)
    with mpl.rc_context(style_rc(style)):
        fig = Figure(figsize=(7.0, 3.6) if style else (11.0, 5.5), layout="constrained")
        plot_phase_gallery(explorer, fig=fig, **kwargs)
        fig.savefig(path, dpi=dpi)
    return path
