"""Figures of one spin texture: arrows, structure factor, topological charge density."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from spinexplore._validation import check_choice
from spinexplore.analysis import Texture
from spinexplore.plotting._common import new_axes as _new_axes
from spinexplore.plotting._common import panel_label

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes


def _texture_inputs(spins: Any, lattice: Any) -> tuple[np.ndarray, Any]:
    """Spins (N, 3) and a Lattice from an array, a SimulationResult or a Texture.

    A :class:`~spinexplore.analysis.Texture` carries its lattice kind and L; a ``lattice``
    given as well must agree with them (a square-lattice texture is never drawn as triangular).
    """
    from spinexplore.physics.lattice import lattice_for_spins, make_lattice

    kind = getattr(spins, "lattice", None) if not isinstance(spins, np.ndarray) else None
    size = getattr(spins, "L", None) if not isinstance(spins, np.ndarray) else None
    if isinstance(kind, str) and size is not None:  # a Texture: it knows its lattice
        if lattice is not None:
            given = (lattice, None) if isinstance(lattice, str) else (getattr(lattice, "kind", None),
                                                                     getattr(lattice, "L", None))
            if given[0] != kind or (given[1] is not None and given[1] != size):
                raise ValueError(
                    f"this texture lives on a {kind} lattice with L={size}; it cannot be drawn on "
                    f"lattice={lattice!r} (leave lattice out to use the texture's own)"
                )
        if lattice is None or isinstance(lattice, str):
            lattice = make_lattice(kind, int(size))
    if hasattr(spins, "spins") and not isinstance(spins, np.ndarray):
        if spins.spins is None:
            raise ValueError("this SimulationResult holds no spins; run the simulation with keep_spins=True")
        spins = spins.spins
    S = np.asarray(spins, dtype=float)
    if S.ndim != 2 or S.shape[1] != 3 or not np.all(np.isfinite(S)):
        raise ValueError(f"spins must be a finite array of shape (N, 3); got shape {np.shape(spins)}")
    lattice = lattice_for_spins(S, "triangular" if lattice is None else lattice)
    return S, lattice


def _fold_to_zone(q: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Shift each wavevector by a reciprocal lattice vector to the one of smallest length."""
    shifts = np.array([m * b[0] + n * b[1] for m in (-1, 0, 1) for n in (-1, 0, 1)])
    cand = q[:, None, :] + shifts[None, :, :]
    best = np.argmin(np.einsum("ijk,ijk->ij", cand, cand), axis=1)
    return cand[np.arange(len(q)), best]


def plot_spin_texture(spins: Any, lattice: Any = None, *, ax: Axes | None = None,
                      cmap: str = "RdBu_r", colorbar: bool = True) -> Axes:
    """Each site a disc coloured by S_z, with a black arrow for the in-plane component (S_x, S_y).

    Discs and arrows are sized in lattice spacings, so a small panel (a gallery) shows the same
    picture as a large figure.

    Parameters
    ----------
    spins : ndarray of shape (N, 3), SimulationResult or Texture
        Unit spins of an L x L lattice (or a result that kept its spins).
    lattice : Lattice or {"triangular", "square"}, optional
        The lattice, or its kind (L is then sqrt(N)). Default: the texture's own lattice for a
        :class:`~spinexplore.analysis.Texture` (a different one is refused), else triangular.
    ax : matplotlib Axes, optional
    cmap : str, default="RdBu_r"
        Colour map of S_z in [-1, 1].
    colorbar : bool, default=True
        Add the S_z colorbar.

    Returns
    -------
    matplotlib.axes.Axes
    """
    S, lat = _texture_inputs(spins, lattice)
    ax = _new_axes(ax)
    pos = lat.positions
    from matplotlib.collections import EllipseCollection

    ax.set_facecolor("0.18")
    # every size in units of the lattice spacing a (data units), so that a small gallery panel
    # shows the same picture as a large figure: a disc of diameter 0.95 a per site coloured by
    # S_z, and a black arrow of length 0.85 a |S_xy| (shaft 0.09 a) for the in-plane component
    n = len(pos)
    discs = EllipseCollection(np.full(n, 0.95), np.full(n, 0.95), np.zeros(n), units="xy", offsets=pos,
                              offset_transform=ax.transData, cmap=cmap, zorder=1)
    discs.set_array(S[:, 2])
    discs.set_clim(-1, 1)
    ax.add_collection(discs)
    ax.quiver(pos[:, 0], pos[:, 1], S[:, 0], S[:, 1], color="black", angles="xy", scale_units="xy",
              scale=1 / 0.85, pivot="mid", units="xy", width=0.09, headwidth=3.0, headlength=3.2,
              headaxislength=2.8, minlength=0.5, zorder=2)
    ax.update_datalim(np.vstack([pos.min(axis=0) - 0.6, pos.max(axis=0) + 0.6]))
    ax.autoscale_view()
    if colorbar:
        ax.figure.colorbar(discs, ax=ax, label="$S_z$ (arrows: in-plane $S_x, S_y$)", pad=0.02, shrink=0.85)
    ax.set_aspect("equal")
    ax.set_xlabel("$x$ / $a$")
    ax.set_ylabel("$y$ / $a$")
    ax.set_title(f"spin texture ({lat.kind}, L={lat.L})")
    return ax


def brillouin_zone(b: np.ndarray) -> np.ndarray:
    """Corners (counter-clockwise, shape (k, 2)) of the first Brillouin zone of the reciprocal
    basis ``b`` (rows b1, b2): the Wigner-Seitz cell of q = 0 (a hexagon for the triangular
    lattice, a square for the square lattice)."""
    from scipy.spatial import Voronoi

    b = np.asarray(b, dtype=float)
    grid = np.array([m * b[0] + n * b[1] for m in range(-2, 3) for n in range(-2, 3)])
    vor = Voronoi(grid)
    origin = int(np.argmin(np.einsum("ij,ij->i", grid, grid)))
    corners = vor.vertices[vor.regions[vor.point_region[origin]]]
    order = np.argsort(np.arctan2(corners[:, 1], corners[:, 0]))
    return corners[order]


def plot_structure_factor(spins: Any, lattice: Any = None, *, ax: Axes | None = None,
                          component: str = "inplane", exclude_zero: bool = True,
                          cmap: str = "viridis", log: bool = True) -> Axes:
    """Static structure factor on the lattice's allowed wavevectors, in the first Brillouin zone.

    ``S^a(q) = |(1/N) sum_i S_i^a exp(-i q.r_i)|^2``; ``component`` selects ``"inplane"``
    (S^x + S^y), ``"z"`` or ``"total"``. The q = 0 point (the magnetization squared) is left out
    by default so that the modulation peaks stand out. ``log`` (default) colours on a log scale
    over four decades below the highest peak; the zone's edge is dashed; q in units of 1/a.

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
    from matplotlib.colors import LogNorm
    from matplotlib.patches import Polygon

    import matplotlib as mpl

    shown = val[mask]
    top = float(shown.max(initial=0.0))
    colors = mpl.colormaps[cmap] if isinstance(cmap, str) else cmap
    if log and top > 0:  # peaks and the weak background both visible: 4 decades below the top
        norm = LogNorm(vmin=top * 1e-4, vmax=top)
        colors = colors.with_extremes(under=colors(0.0), bad=colors(0.0))  # zeros: the lowest colour
    else:
        norm = None
    zone = brillouin_zone(lat.b)
    area = abs(lat.b[0][0] * lat.b[1][1] - lat.b[0][1] * lat.b[1][0])  # of the zone, in 1/a^2
    # one marker per allowed wavevector, about the size of its cell (in points^2 at this zoom)
    extent = 1.2 * float(np.abs(zone).max())
    size = max(2.0, (ax.bbox.width * np.sqrt(area / lat.N) / (2 * extent)) ** 2 * 1.6)
    sc = ax.scatter(q[mask, 0], q[mask, 1], c=shown, cmap=colors, norm=norm, s=size, marker="h", linewidths=0)
    ax.add_patch(Polygon(zone, closed=True, fill=False, edgecolor="white", lw=0.8, ls="--", zorder=3))
    ax.set_facecolor(sc.cmap(0.0) if log else "white")
    label = {"inplane": r"$S^{\perp}(q)$", "z": r"$S^{z}(q)$", "total": "$S(q)$"}[component]
    ax.figure.colorbar(sc, ax=ax, label=label + (" (log scale)" if norm is not None else ""), pad=0.02, shrink=0.85)
    ax.set_aspect("equal")
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_xlabel("$q_x$ / $a^{-1}$")
    ax.set_ylabel("$q_y$ / $a^{-1}$")
    ax.set_title("structure factor " + label + (", q = 0 left out" if exclude_zero else ""))
    return ax


def plot_charge_density(spins: Any, lattice: Any = None, *, ax: Axes | None = None,
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
    ax.set_xlabel("$x$ / $a$")
    ax.set_ylabel("$y$ / $a$")
    ax.set_title(f"charge density (Q = {rho.sum():.3f})")
    return ax


def plot_texture(spins: Any, lattice: Any = None, *, axes: Sequence[Axes] | None = None,
                 component: str = "inplane", title: str | None = None) -> np.ndarray:
    """Three panels, (a) the spin texture, (b) its structure factor and (c) its charge density.

    A :class:`~spinexplore.analysis.Texture` gets a title with the point's index, phase,
    parameters (units of J_1), model, L and energy; ``title=""`` leaves it out.

    Parameters
    ----------
    spins : ndarray of shape (N, 3), SimulationResult or Texture
    lattice : Lattice or {"triangular", "square"}, optional
        As for :func:`plot_spin_texture`.
    axes : sequence of 3 matplotlib Axes, optional
        Where to draw; a new 1 x 3 figure when None.
    component : {"inplane", "z", "total"}, default="inplane"
        Component of the structure factor.
    title : str, optional
        The figure's title (default: :func:`texture_caption` of a Texture).

    Returns
    -------
    ndarray of 3 matplotlib Axes
    """
    S, lat = _texture_inputs(spins, lattice)
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, 3, figsize=(15, 5.0), layout="constrained")
    axes = np.asarray(axes, dtype=object).ravel()
    if axes.size != 3:
        raise ValueError(f"axes must hold 3 Axes; got {axes.size}")
    plot_spin_texture(S, lat, ax=axes[0])
    plot_structure_factor(S, lat, ax=axes[1], component=component)
    plot_charge_density(S, lat, ax=axes[2])
    if title is None:
        title = texture_caption(spins)
    if title:
        import textwrap

        import matplotlib as mpl

        fig = axes[0].figure
        size = mpl.font_manager.FontProperties(size=mpl.rcParams["figure.titlesize"]).get_size_in_points()
        width = max(20, int(fig.get_figwidth() * 72 / (0.55 * size)))
        fig.suptitle("\n".join(textwrap.wrap(title, width)))
    for k, ax in enumerate(axes):
        panel_label(ax, k)
    return axes


def texture_caption(texture: Any) -> str | None:
    """"point 17: SkX (SKYRMION), h = 0.2 J_1, K = 0.1 J_1; triangular-chiral, L = 24, E = -3.26 J_1
    per spin" for a :class:`~spinexplore.analysis.Texture`; None for bare spins."""
    index, phase = getattr(texture, "index", None), getattr(texture, "phase", None)
    if index is None or phase is None or isinstance(texture, np.ndarray):
        return None
    from spinexplore.plotting._common import PHASE_LABELS

    params = ", ".join(f"{k} = {v:.4g} J$_1$" for k, v in (getattr(texture, "params", None) or {}).items())
    energy = getattr(texture, "energy", None)
    where = f"{getattr(texture, 'model', '')}, L = {getattr(texture, 'L', '?')}"
    text = f"point {index}: {PHASE_LABELS.get(phase, phase.name)} ({phase.name}), {params}; {where}"
    if energy is not None and np.isfinite(energy):
        text += f", E = {energy:.6g} J$_1$ per spin"
    return text


# Texture.plot draws with plot_texture: installed from here, since analysis (a layer below
# plotting) never imports plotting.
Texture.plotter = plot_texture
