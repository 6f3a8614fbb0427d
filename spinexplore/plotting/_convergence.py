"""The convergence of a run: changed map, mean uncertainty and failed share per fit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from spinexplore.plotting._common import new_axes

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes


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
