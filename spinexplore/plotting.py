"""Figures of an exploration and of a spin texture (matplotlib, imported inside each function).

Every function takes ``ax=None`` (a new figure when None) and returns the Axes it drew on, or an
ndarray of Axes for a multi-panel figure. Each :class:`~spinexplore.results.PhaseType` has one
fixed colour, :data:`PHASE_COLORS`, used by every figure:

=================  =========  ==========
phase              colour     hex
=================  =========  ==========
FERROMAGNET        blue       ``#4477AA``
SINGLE_Q           green      ``#228833``
DOUBLE_Q           yellow     ``#CCBB44``
TRIPLE_Q           cyan       ``#66CCEE``
SKYRMION           red        ``#EE6677``
MERON_ANTIMERON    purple     ``#AA3377``
PARAMAGNET         grey       ``#BBBBBB``
UNKNOWN            brown      ``#8C564B``
FAILED             black      ``#000000``
TIMEOUT            orange     ``#E67E22``
=================  =========  ==========

(the first seven are Paul Tol's "bright" scheme, safe for colour-blind readers).

The explorer arguments need the attributes ``space``, ``X``, ``status``, ``phases``,
``iterations``, ``history`` and the method ``predict`` of
:class:`spinexplore.explorer.ActiveLearningExplorer`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from spinexplore._validation import check_choice, check_int, check_real
from spinexplore.results import PhaseType, PointStatus

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = [
    "PHASE_COLORS",
    "plot_charge_density",
    "plot_convergence",
    "plot_phase_diagram",
    "plot_spin_texture",
    "plot_structure_factor",
    "plot_texture",
    "plot_uncertainty",
    "save_all",
    "save_phase_diagram",
]

PHASE_COLORS: dict[PhaseType, str] = {
    PhaseType.FERROMAGNET: "#4477AA",
    PhaseType.SINGLE_Q: "#228833",
    PhaseType.DOUBLE_Q: "#CCBB44",
    PhaseType.TRIPLE_Q: "#66CCEE",
    PhaseType.SKYRMION: "#EE6677",
    PhaseType.MERON_ANTIMERON: "#AA3377",
    PhaseType.PARAMAGNET: "#BBBBBB",
    PhaseType.UNKNOWN: "#8C564B",
    PhaseType.FAILED: "#000000",
    PhaseType.TIMEOUT: "#E67E22",
}
_PANELS = ("phase", "uncertainty", "convergence")


# ---------------------------------------------------------------------------- helpers
def _new_axes(ax: Any) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots()
    return ax


def _phase_cmap() -> tuple[Any, Any]:
    from matplotlib.colors import BoundaryNorm, ListedColormap

    cmap = ListedColormap([PHASE_COLORS[p] for p in PhaseType])
    norm = BoundaryNorm(np.arange(len(PhaseType) + 1) - 0.5, len(PhaseType))
    return cmap, norm


def _space_of(explorer: Any) -> Any:
    space = getattr(explorer, "space", None)
    if space is None or not hasattr(space, "names"):
        raise TypeError(
            f"explorer must be an ActiveLearningExplorer (an object with .space, .X, .predict...); "
            f"got {type(explorer).__name__}"
        )
    return space


def _choose_dims(space: Any, dims: Sequence[str] | str | None) -> list[int]:
    names = list(space.names)
    if dims is None:
        return list(range(min(2, len(names))))
    if isinstance(dims, str):
        dims = [dims]
    dims = list(dims)
    if not 1 <= len(dims) <= 2 or len(set(dims)) != len(dims):
        raise ValueError(f"dims must name 1 or 2 distinct dimensions of {names}; got {dims!r}")
    unknown = [d for d in dims if d not in names]
    if unknown:
        raise ValueError(f"dims {unknown!r} are not dimensions of the space; dimensions: {names}")
    return [names.index(d) for d in dims]


def _slice_point(space: Any, shown: list[int], slice_at: Mapping[str, float] | None) -> np.ndarray:
    """Unit-cube point whose hidden coordinates fix the slice (default: the middle of the box)."""
    names = list(space.names)
    unit = np.full(space.n_dims, 0.5)
    point = space.from_unit(unit[None, :])[0]
    for name, value in dict(slice_at or {}).items():
        if name not in names:
            raise ValueError(f"slice_at key {name!r} is not a dimension; dimensions: {names}")
        if names.index(name) in shown:
            raise ValueError(f"slice_at fixes {name!r}, which is a plotted axis; drop it or choose other dims")
        value = check_real(f"slice_at[{name!r}]", value)
        low, high = space.bounds[names.index(name)]
        if not low <= value <= high:
            raise ValueError(f"slice_at[{name!r}] must lie in [{low:g}, {high:g}]; got {value!r}")
        point[names.index(name)] = value
    return space.to_unit(point[None, :])[0]


def _grid(space: Any, shown: list[int], center: np.ndarray, resolution: int):
    """Cell edges per shown axis and the physical cell centres (m, n_dims), row-major in y."""
    edges_u = np.linspace(0.0, 1.0, resolution + 1)
    mids_u = 0.5 * (edges_u[:-1] + edges_u[1:])
    edges, mids = [], []
    for k in shown:
        u = np.tile(center, (resolution + 1, 1))
        u[:, k] = edges_u
        edges.append(space.from_unit(u)[:, k])
        mids.append(mids_u)
    if len(shown) == 1:
        U = np.tile(center, (resolution, 1))
        U[:, shown[0]] = mids_u
    else:
        gy, gx = np.meshgrid(mids[1], mids[0], indexing="ij")
        U = np.tile(center, (gx.size, 1))
        U[:, shown[0]] = gx.ravel()
        U[:, shown[1]] = gy.ravel()
    return edges, space.from_unit(U)


def _predict(explorer: Any, X: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        phases, proba = explorer.predict(X)
    except RuntimeError:  # nothing finished yet
        return None
    return np.asarray(phases, dtype=int), np.asarray(proba, dtype=float)


def _points_near_slice(explorer: Any, shown: list[int], center: np.ndarray, slice_tol: float | None) -> np.ndarray:
    space = _space_of(explorer)
    X = np.asarray(explorer.X, dtype=float).reshape(-1, space.n_dims)
    keep = np.ones(len(X), dtype=bool)
    hidden = [k for k in range(space.n_dims) if k not in shown]
    if hidden and slice_tol is not None and len(X):
        U = space.to_unit(X)
        keep = np.all(np.abs(U[:, hidden] - center[hidden]) <= slice_tol, axis=1)
    return keep


def _set_scales(ax: Any, space: Any, shown: list[int]) -> None:
    names = list(space.names)
    ax.set_xlabel(names[shown[0]])
    if space.is_log[shown[0]]:
        ax.set_xscale("log")
    if len(shown) == 2:
        ax.set_ylabel(names[shown[1]])
        if space.is_log[shown[1]]:
            ax.set_yscale("log")
    lo, hi = space.bounds[shown[0]]
    ax.set_xlim(lo, hi)
    if len(shown) == 2:
        lo, hi = space.bounds[shown[1]]
        ax.set_ylim(lo, hi)


def _slice_title(space: Any, shown: list[int], center: np.ndarray) -> str:
    hidden = [k for k in range(space.n_dims) if k not in shown]
    if not hidden:
        return ""
    point = space.from_unit(center[None, :])[0]
    return ", ".join(f"{space.names[k]}={point[k]:.3g}" for k in hidden)


def _draw_points(ax: Any, explorer: Any, shown: list[int], keep: np.ndarray, points: str | None,
                 marker_size: float) -> list[Any]:
    """Scatter the sampled points; returns legend handles for failed/timeout/pending markers."""
    from matplotlib.lines import Line2D

    if points is None:
        return []
    space = _space_of(explorer)
    X = np.asarray(explorer.X, dtype=float).reshape(-1, space.n_dims)[keep]
    status = np.asarray(explorer.status, dtype=int)[keep]
    phases = np.asarray(explorer.phases, dtype=int)[keep]
    its = np.asarray(explorer.iterations, dtype=int)[keep]
    one_d = len(shown) == 1
    xs = X[:, shown[0]] if len(X) else np.empty(0)
    ys = its.astype(float) if one_d else (X[:, shown[1]] if len(X) else np.empty(0))
    done = (status == PointStatus.DONE) & (phases >= 0) & np.isin(phases, [int(p) for p in PhaseType if p.is_physical])
    failed = (status == PointStatus.FAILED) | ((status == PointStatus.DONE) & (phases == PhaseType.FAILED))
    timeout = (status == PointStatus.TIMEOUT) | ((status == PointStatus.DONE) & (phases == PhaseType.TIMEOUT))
    pending = ~(done | failed | timeout)
    handles: list[Any] = []
    if done.any():
        if points == "phase":
            cmap, norm = _phase_cmap()
            ax.scatter(xs[done], ys[done], c=phases[done], cmap=cmap, norm=norm, s=marker_size,
                       edgecolors="black", linewidths=0.6, zorder=3)
        else:
            sc = ax.scatter(xs[done], ys[done], c=its[done], cmap="viridis", s=marker_size,
                            edgecolors="black", linewidths=0.6, zorder=3,
                            vmin=0, vmax=max(1, int(its.max(initial=0))))
            ax.figure.colorbar(sc, ax=ax, label="iteration", pad=0.02)
    for mask, color, label, marker in (
        (failed, PHASE_COLORS[PhaseType.FAILED], "failed", "x"),
        (timeout, PHASE_COLORS[PhaseType.TIMEOUT], "timeout", "x"),
    ):
        if mask.any():
            ax.scatter(xs[mask], ys[mask], marker=marker, c=color, s=marker_size * 1.5, linewidths=1.8, zorder=4)
            handles.append(Line2D([], [], ls="none", marker=marker, color=color, mew=1.8,
                                  label=f"{label} ({int(mask.sum())})"))
    if pending.any():
        ax.scatter(xs[pending], ys[pending], marker="o", facecolors="none", edgecolors="0.35",
                   s=marker_size, linewidths=0.8, zorder=3)
        handles.append(Line2D([], [], ls="none", marker="o", mfc="none", mec="0.35",
                              label=f"pending ({int(pending.sum())})"))
    return handles


# ---------------------------------------------------------------------------- exploration figures
def plot_phase_diagram(
    explorer: Any,
    *,
    ax: Axes | None = None,
    dims: Sequence[str] | str | None = None,
    slice_at: Mapping[str, float] | None = None,
    slice_tol: float | None = 0.1,
    resolution: int = 120,
    points: str | None = "phase",
    region_alpha: float = 0.55,
    legend: bool = True,
    marker_size: float = 28.0,
) -> Axes:
    """Predicted phases as coloured regions, with the sampled points on top.

    Parameters
    ----------
    explorer : ActiveLearningExplorer
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.
    dims : str or pair of str, optional
        The dimension(s) on the axes (default: the first two, or the only one). With one
        dimension the phases are vertical bands and the points sit at the height of their
        iteration.
    slice_at : mapping of str to float, optional
        Values of the dimensions that are not plotted (default: the middle of the box, in the
        sampling scale).
    slice_tol : float or None, default=0.1
        Only points within this distance of the slice (per hidden dimension, in unit-cube
        coordinates) are drawn; None draws the projection of all points.
    resolution : int, default=120
        Grid cells per axis for the predicted regions.
    points : {"phase", "iteration"} or None, default="phase"
        Colour finished points by their phase (same colours as the regions) or by the iteration
        that proposed them; None hides the points. Failed points are black crosses, timeouts
        orange crosses, pending points hollow grey circles.
    region_alpha : float, default=0.55
        Opacity of the predicted regions.
    legend : bool, default=True
        Add a legend with the phase names (outside the axes, on the right).
    marker_size : float, default=28

    Returns
    -------
    matplotlib.axes.Axes
    """
    space = _space_of(explorer)
    shown = _choose_dims(space, dims)
    resolution = check_int("resolution", resolution, minimum=2, maximum=2000)
    if points is not None:
        check_choice("points", points, ["phase", "iteration"])
    region_alpha = check_real("region_alpha", region_alpha, minimum=0.0, maximum=1.0)
    if slice_tol is not None:
        slice_tol = check_real("slice_tol", slice_tol, minimum=0.0)
    center = _slice_point(space, shown, slice_at)
    ax = _new_axes(ax)
    edges, Xg = _grid(space, shown, center, resolution)
    pred = _predict(explorer, Xg)
    cmap, norm = _phase_cmap()
    present: set[int] = set()
    if pred is not None:
        phases = pred[0]
        present.update(int(p) for p in np.unique(phases))
        if len(shown) == 1:
            start = 0
            for i in range(1, resolution + 1):
                if i == resolution or phases[i] != phases[start]:
                    ax.axvspan(edges[0][start], edges[0][i], color=PHASE_COLORS[PhaseType(phases[start])],
                               alpha=region_alpha, lw=0, zorder=1)
                    start = i
        else:
            ax.pcolormesh(edges[0], edges[1], phases.reshape(resolution, resolution), cmap=cmap,
                          norm=norm, alpha=region_alpha, shading="flat", zorder=1, rasterized=True)
    else:
        ax.text(0.5, 0.5, "no finished point yet", transform=ax.transAxes, ha="center", va="center")
    keep = _points_near_slice(explorer, shown, center, slice_tol)
    handles = _draw_points(ax, explorer, shown, keep, points, marker_size)
    if points == "phase":
        ph = np.asarray(explorer.phases, dtype=int)[keep]
        st = np.asarray(explorer.status, dtype=int)[keep]
        present.update(int(p) for p in np.unique(ph[(st == PointStatus.DONE) & (ph >= 0)])
                       if PhaseType(int(p)).is_physical)
    _set_scales(ax, space, shown)
    if len(shown) == 1:
        its = np.asarray(explorer.iterations, dtype=int)
        ax.set_ylim(-0.5, max(0, int(its.max(initial=0))) + 0.5)
        ax.set_ylabel("iteration")
    title = _slice_title(space, shown, center)
    ax.set_title("phase diagram" + (f" ({title})" if title else ""))
    if legend:
        from matplotlib.patches import Patch

        patches = [Patch(facecolor=PHASE_COLORS[PhaseType(p)], edgecolor="black", lw=0.5,
                         label=PhaseType(p).name) for p in sorted(present)]
        if patches or handles:
            ax.legend(handles=patches + handles, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                      fontsize="small", frameon=False, borderaxespad=0.0)
    return ax


def plot_uncertainty(
    explorer: Any,
    *,
    ax: Axes | None = None,
    dims: Sequence[str] | str | None = None,
    slice_at: Mapping[str, float] | None = None,
    slice_tol: float | None = 0.1,
    resolution: int = 120,
    show_points: bool = True,
    cmap: str = "magma",
) -> Axes:
    """Map of the surrogate's uncertainty, ``1 - max_k p_k``, where the next points will go.

    Parameters are those of :func:`plot_phase_diagram`; ``show_points`` draws the sampled points
    as small white dots. In 1D the uncertainty is a curve.

    Returns
    -------
    matplotlib.axes.Axes
    """
    space = _space_of(explorer)
    shown = _choose_dims(space, dims)
    resolution = check_int("resolution", resolution, minimum=2, maximum=2000)
    if slice_tol is not None:
        slice_tol = check_real("slice_tol", slice_tol, minimum=0.0)
    center = _slice_point(space, shown, slice_at)
    ax = _new_axes(ax)
    edges, Xg = _grid(space, shown, center, resolution)
    pred = _predict(explorer, Xg)
    X = np.asarray(explorer.X, dtype=float).reshape(-1, space.n_dims)
    keep = _points_near_slice(explorer, shown, center, slice_tol)
    if pred is None:
        ax.text(0.5, 0.5, "no finished point yet", transform=ax.transAxes, ha="center", va="center")
    else:
        proba = pred[1].reshape(len(Xg), -1)
        unc = 1.0 - proba.max(axis=1) if proba.shape[1] else np.zeros(len(Xg))
        vmax = max(1.0 - 1.0 / max(proba.shape[1], 2), 1e-12)
        if len(shown) == 1:
            mids = Xg[:, shown[0]]
            ax.plot(mids, unc, color="black")
            ax.set_ylim(0.0, vmax * 1.05)
            ax.set_ylabel("uncertainty (1 - max p)")
            if show_points and keep.any():
                ax.plot(X[keep, shown[0]], np.zeros(int(keep.sum())), "|", color="tab:blue", ms=10, clip_on=False)
        else:
            mesh = ax.pcolormesh(edges[0], edges[1], unc.reshape(resolution, resolution), cmap=cmap,
                                 vmin=0.0, vmax=vmax, shading="flat", rasterized=True)
            ax.figure.colorbar(mesh, ax=ax, label="uncertainty (1 - max p)", pad=0.02)
    if show_points and len(shown) == 2 and keep.any():
        ax.scatter(X[keep, shown[0]], X[keep, shown[1]], s=8, c="white", edgecolors="black",
                   linewidths=0.4, zorder=3)
    _set_scales(ax, space, shown)
    title = _slice_title(space, shown, center)
    ax.set_title("uncertainty" + (f" ({title})" if title else ""))
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
    ax = _new_axes(ax)
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


def save_phase_diagram(
    explorer: Any,
    path: str | os.PathLike[str],
    *,
    panels: Sequence[str] = ("phase",),
    dpi: int = 120,
    panel_size: tuple[float, float] = (6.0, 4.5),
    **kwargs: Any,
) -> str:
    """Write the phase diagram (and optionally other panels) of an exploration to an image file.

    Uses a bare ``matplotlib.figure.Figure``, so it works without a display and leaves pyplot's
    state alone.

    Parameters
    ----------
    explorer : ActiveLearningExplorer
    path : str or path
        Output file; the format follows its suffix (``.png``, ``.pdf``, ``.svg``).
    panels : sequence of {"phase", "uncertainty", "convergence"}, default=("phase",)
        Panels side by side, in this order.
    dpi : int, default=120
    panel_size : (float, float), default=(6, 4.5)
        Size of one panel in inches.
    **kwargs
        Passed to :func:`plot_phase_diagram` (``dims``, ``slice_at``, ``points``...).

    Returns
    -------
    str
        The path written.
    """
    from matplotlib.figure import Figure

    panels = [panels] if isinstance(panels, str) else list(panels)
    if not panels:
        raise ValueError(f"panels must name at least one of {list(_PANELS)}; got {panels!r}")
    for p in panels:
        check_choice("panels", p, _PANELS)
    dpi = check_int("dpi", dpi, minimum=10, maximum=1200)
    path = os.fspath(path)
    fig = Figure(figsize=(panel_size[0] * len(panels), panel_size[1]), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    for ax, panel in zip(axes, panels):
        if panel == "phase":
            plot_phase_diagram(explorer, ax=ax, **kwargs)
        elif panel == "uncertainty":
            plot_uncertainty(explorer, ax=ax, **{k: v for k, v in kwargs.items()
                                                 if k in ("dims", "slice_at", "slice_tol", "resolution")})
        else:
            plot_convergence(explorer, ax=ax)
    fig.savefig(path, dpi=dpi)
    return path


def save_all(explorer: Any, directory: str | os.PathLike[str], *, dpi: int = 120) -> list[Path]:
    """Write ``phase_diagram.png``, ``uncertainty.png`` and ``convergence.png`` into a directory.

    Parameters
    ----------
    explorer : ActiveLearningExplorer
    directory : str or path
        Created when missing.
    dpi : int, default=120

    Returns
    -------
    list of pathlib.Path
        The files written, in the order above.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for panel, name in (("phase", "phase_diagram.png"), ("uncertainty", "uncertainty.png"),
                        ("convergence", "convergence.png")):
        written.append(Path(save_phase_diagram(explorer, directory / name, panels=(panel,), dpi=dpi)))
    return written


# ---------------------------------------------------------------------------- spin textures
def _texture_inputs(spins: Any, lattice: Any) -> tuple[np.ndarray, Any]:
    from spinexplore.physics.lattice import make_lattice

    if hasattr(spins, "spins") and not isinstance(spins, np.ndarray):
        if spins.spins is None:
            raise ValueError("this SimulationResult holds no spins; run the simulation with keep_spins=True")
        spins = spins.spins
    S = np.asarray(spins, dtype=float)
    if S.ndim != 2 or S.shape[1] != 3 or not np.all(np.isfinite(S)):
        raise ValueError(f"spins must be a finite array of shape (N, 3); got shape {np.shape(spins)}")
    N = S.shape[0]
    if isinstance(lattice, str):
        L = math.isqrt(N)
        if L * L != N:
            raise ValueError(f"spins of an L x L lattice must have L*L rows; got {N} rows")
        lattice = make_lattice(lattice, L)
    if not hasattr(lattice, "positions") or lattice.N != N:
        raise ValueError(
            f"lattice must be a Lattice with N={N} sites matching the spins, or a kind "
            f"('triangular', 'square'); got {lattice!r}"
        )
    return S, lattice


def _fold_to_zone(q: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Shift each wavevector by a reciprocal lattice vector to the one of smallest length."""
    shifts = np.array([m * b[0] + n * b[1] for m in (-1, 0, 1) for n in (-1, 0, 1)])
    cand = q[:, None, :] + shifts[None, :, :]
    best = np.argmin(np.einsum("ijk,ijk->ij", cand, cand), axis=1)
    return cand[np.arange(len(q)), best]


def plot_spin_texture(spins: Any, lattice: Any = "triangular", *, ax: Axes | None = None,
                      cmap: str = "RdBu_r") -> Axes:
    """In-plane spin components as arrows coloured by S_z, on a dark background (dots mark every site).

    Parameters
    ----------
    spins : ndarray of shape (N, 3) or SimulationResult
        Unit spins of an L x L lattice (or a result that kept its spins).
    lattice : Lattice or {"triangular", "square"}, default="triangular"
        The lattice, or its kind (L is then sqrt(N)).
    ax : matplotlib Axes, optional
    cmap : str, default="RdBu_r"
        Colour map of S_z in [-1, 1].

    Returns
    -------
    matplotlib.axes.Axes
    """
    S, lat = _texture_inputs(spins, lattice)
    ax = _new_axes(ax)
    pos = lat.positions
    ax.set_facecolor("0.18")  # dark, so that arrows with S_z ~ 0 (white) stand out
    ax.scatter(pos[:, 0], pos[:, 1], c=S[:, 2], cmap=cmap, vmin=-1, vmax=1, s=4, zorder=1)
    q = ax.quiver(pos[:, 0], pos[:, 1], S[:, 0], S[:, 1], S[:, 2], cmap=cmap, clim=(-1, 1),
                  angles="xy", scale_units="xy", scale=1.0, pivot="mid", width=0.005,
                  headwidth=3.5, headlength=4, headaxislength=3.5, zorder=2)
    ax.figure.colorbar(q, ax=ax, label="$S_z$", pad=0.02, shrink=0.85)
    ax.set_aspect("equal")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(f"spin texture ({lat.kind}, L={lat.L})")
    return ax


def plot_structure_factor(spins: Any, lattice: Any = "triangular", *, ax: Axes | None = None,
                          component: str = "inplane", exclude_zero: bool = True,
                          cmap: str = "viridis") -> Axes:
    """Static structure factor on the lattice's allowed wavevectors.

    ``S^a(q) = |(1/N) sum_i S_i^a exp(-i q.r_i)|^2``; ``component`` selects ``"inplane"``
    (S^x + S^y), ``"z"`` or ``"total"``. The q = 0 point (the magnetization squared) is left out
    by default so that the modulation peaks stand out.

    Returns
    -------
    matplotlib.axes.Axes
    """
    component = check_choice("component", component, ["inplane", "z", "total"])
    from spinexplore.physics.observables import structure_factor

    S, lat = _texture_inputs(spins, lattice)
    sq_inplane, sq_z = structure_factor(S, lat)
    val = {"inplane": sq_inplane, "z": sq_z, "total": sq_inplane + sq_z}[component]
    q = _fold_to_zone(lat.q_vectors, lat.b)
    mask = np.ones(lat.N, dtype=bool)
    if exclude_zero:
        mask &= np.any(lat.q_integers != 0, axis=1)
    ax = _new_axes(ax)
    size = max(4.0, 2.0e4 / lat.N)
    sc = ax.scatter(q[mask, 0], q[mask, 1], c=val[mask], cmap=cmap, s=size, marker="h", linewidths=0)
    label = {"inplane": r"$S^{\perp}(q)$", "z": r"$S^{z}(q)$", "total": "$S(q)$"}[component]
    ax.figure.colorbar(sc, ax=ax, label=label, pad=0.02, shrink=0.85)
    ax.set_aspect("equal")
    ax.set_xlabel("$q_x$")
    ax.set_ylabel("$q_y$")
    ax.set_title("structure factor " + label + (" (q=0 left out)" if exclude_zero else ""))
    return ax


def plot_charge_density(spins: Any, lattice: Any = "triangular", *, ax: Axes | None = None,
                        cmap: str = "RdBu_r") -> Axes:
    """Topological charge density per elementary triangle (Berg-Luescher solid angle / 4 pi).

    The title gives the total charge Q (an integer on a periodic lattice).

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.collections import PolyCollection

    from spinexplore.physics.observables import topological_charge_density

    S, lat = _texture_inputs(spins, lattice)
    rho = topological_charge_density(S, lat)
    tri = lat.triangles
    L = lat.L
    c0 = lat.coords[tri[:, 0]]
    d = lat.coords[tri] - c0[:, None, :]
    d = (d + L // 2) % L - L // 2  # unwrap bonds that cross the periodic boundary
    verts = (c0[:, None, :] + d) @ lat.a
    vmax = max(float(np.abs(rho).max(initial=0.0)), 1e-12)
    coll = PolyCollection(verts, array=rho, cmap=cmap, edgecolors="none")
    coll.set_clim(-vmax, vmax)
    ax = _new_axes(ax)
    ax.add_collection(coll)
    ax.autoscale_view()
    ax.figure.colorbar(coll, ax=ax, label=r"charge per triangle $\Omega/4\pi$", pad=0.02, shrink=0.85)
    ax.set_aspect("equal")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(f"charge density (Q = {rho.sum():.3f})")
    return ax


def plot_texture(spins: Any, lattice: Any = "triangular", *, axes: Sequence[Axes] | None = None,
                 component: str = "inplane") -> np.ndarray:
    """Three panels: the spin texture, its structure factor and its charge density.

    Parameters
    ----------
    spins : ndarray of shape (N, 3) or SimulationResult
    lattice : Lattice or {"triangular", "square"}, default="triangular"
    axes : sequence of 3 matplotlib Axes, optional
        Where to draw; a new 1 x 3 figure when None.
    component : {"inplane", "z", "total"}, default="inplane"
        Component of the structure factor.

    Returns
    -------
    ndarray of 3 matplotlib Axes
    """
    S, lat = _texture_inputs(spins, lattice)
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, 3, figsize=(16, 4.6), layout="constrained")
    axes = np.asarray(axes, dtype=object).ravel()
    if axes.size != 3:
        raise ValueError(f"axes must hold 3 Axes; got {axes.size}")
    plot_spin_texture(S, lat, ax=axes[0])
    plot_structure_factor(S, lat, ax=axes[1], component=component)
    plot_charge_density(S, lat, ax=axes[2])
    return axes
