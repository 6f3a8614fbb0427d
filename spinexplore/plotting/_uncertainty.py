"""The uncertainty map of the surrogate, ``1 - max_k p_k``: where the next points will go."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from spinexplore.analysis._grid import predict_grid, resolve_slice, space_of
from spinexplore._validation import check_int
from spinexplore.plotting._common import new_axes
from spinexplore.plotting._slice_axes import fit_title, set_scales, slice_title

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes


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
