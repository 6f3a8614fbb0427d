"""Figures of one spin texture: arrows, structure factor, topological charge density."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from spinexplore._validation import check_choice
from spinexplore.plotting._common import new_axes as _new_axes

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
    """In-plane spin components as arrows coloured by S_z, on a dark background (dots mark every site).

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
    ax.set_facecolor("0.18")  # dark, so that arrows with S_z ~ 0 (white) stand out
    ax.scatter(pos[:, 0], pos[:, 1], c=S[:, 2], cmap=cmap, vmin=-1, vmax=1, s=4, zorder=1)
    q = ax.quiver(pos[:, 0], pos[:, 1], S[:, 0], S[:, 1], S[:, 2], cmap=cmap, clim=(-1, 1),
                  angles="xy", scale_units="xy", scale=1.0, pivot="mid", width=0.005,
                  headwidth=3.5, headlength=4, headaxislength=3.5, zorder=2)
    if colorbar:
        ax.figure.colorbar(q, ax=ax, label="$S_z$", pad=0.02, shrink=0.85)
    ax.set_aspect("equal")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(f"spin texture ({lat.kind}, L={lat.L})")
    return ax


def plot_structure_factor(spins: Any, lattice: Any = None, *, ax: Axes | None = None,
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
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(f"charge density (Q = {rho.sum():.3f})")
    return ax


def plot_texture(spins: Any, lattice: Any = None, *, axes: Sequence[Axes] | None = None,
                 component: str = "inplane") -> np.ndarray:
    """Three panels: the spin texture, its structure factor and its charge density.

    Parameters
    ----------
    spins : ndarray of shape (N, 3), SimulationResult or Texture
    lattice : Lattice or {"triangular", "square"}, optional
        As for :func:`plot_spin_texture`.
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
