"""Writing figures to files: PNG, PDF, SVG (by suffix), a dpi, a journal column style."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spinexplore._validation import check_choice, check_int
from spinexplore.plotting._common import check_output, figure_size, panel_label, run_caption, style_rc
from spinexplore.plotting._convergence import plot_convergence
from spinexplore.plotting._diagram import plot_phase_diagram
from spinexplore.plotting._uncertainty import plot_uncertainty

_PANELS = ("phase", "uncertainty", "convergence")
_SLICE_KEYS = ("x", "y", "at", "dims", "slice_at", "slice_tol", "resolution", "labels", "units")


def _dpi(dpi: Any, style: str | None) -> Any:
    return (300 if style is not None else 120) if dpi is None else dpi


def save_phase_diagram(
    explorer: Any,
    path: str | os.PathLike[str],
    *,
    panels: Sequence[str] = ("phase",),
    dpi: int | None = None,
    panel_size: tuple[float, float] = (6.0, 4.5),
    style: str | None = None,
    font: str = "sans",
    panel_labels: bool | None = None,
    **kwargs: Any,
) -> str:
    """Write the phase diagram (and optionally other panels) of an exploration to a file.

    Uses a bare ``matplotlib.figure.Figure``, so it works without a display and leaves pyplot's
    state alone. Text stays text in vector files (TrueType fonts in PDF, ``<text>`` in SVG).

    Parameters
    ----------
    explorer : ActiveLearningExplorer
    path : str or path
        Output file; the format follows its suffix (``.png``, ``.pdf``, ``.svg``, ``.eps``...).
    panels : sequence of {"phase", "uncertainty", "convergence"}, default=("phase",)
        Panels side by side, in this order.
    dpi : int, optional
        Resolution of raster output (and of the rasterized uncertainty map in vector files);
        default 300 with a ``style``, 120 without.
    panel_size : (float, float), default=(6, 4.5)
        Size of one panel in inches when ``style`` is None.
    style : {"single", "double"} or None
        A journal figure: 3.4 in (one column) or 7.0 in (two columns) wide, 8 pt text, panels
        of aspect about 4:3.
    font : {"sans", "serif", "latex"}, default="sans"
        Typeface: matplotlib's sans-serif, serif text with matching mathematics (no LaTeX
        needed), or every text set by LaTeX (needs a LaTeX installation).
    panel_labels : bool or None
        "(a)", "(b)", ... on the panels; default: when there is more than one.
    **kwargs
        Passed to :func:`plot_phase_diagram` (``x``, ``y``, ``at``, ``points``, ``labels``,
        ``units``, ``phase_labels``...); the slice and axis keywords also to the uncertainty panel.
        Without ``title``, the phase panel's title names the model and the run settings when the
        run recorded its simulation (``triangular-chiral (D/J = 0.5625), L = 24, fast, 100 points``).

    Returns
    -------
    str
        The path written.
    """
    from matplotlib.figure import Figure

    import matplotlib as mpl

    panels = [panels] if isinstance(panels, str) else list(panels)
    if not panels:
        raise ValueError(f"panels must name at least one of {list(_PANELS)}; got {panels!r}")
    for p in panels:
        check_choice("panels", p, _PANELS)
    if style is not None:
        check_choice("style", style, ("single", "double"))
    path, dpi = check_output(path, _dpi(dpi, style))
    if "title" not in kwargs and run_caption(explorer) is not None:
        kwargs = {**kwargs, "title": run_caption(explorer)}
    with mpl.rc_context(style_rc(style, font)):
        fig = Figure(figsize=figure_size(style, len(panels), panel_size), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(panels)))
        for k, (ax, panel) in enumerate(zip(axes, panels)):
            if panel_labels or (panel_labels is None and len(panels) > 1):
                panel_label(ax, k)
            if panel == "phase":
                if style is not None:  # a journal figure: smaller markers, the legend below
                    kwargs = {"marker_size": 10.0, "legend": "below" if len(panels) == 1 else True, **kwargs}
                plot_phase_diagram(explorer, ax=ax, **kwargs)
            elif panel == "uncertainty":
                plot_uncertainty(explorer, ax=ax, **{k: v for k, v in kwargs.items() if k in _SLICE_KEYS})
            else:
                plot_convergence(explorer, ax=ax)
        fig.savefig(path, dpi=dpi)
    return path


def save_all(explorer: Any, directory: str | os.PathLike[str], *, dpi: int = 120, format: str = "png",
             style: str | None = None, font: str = "sans", **kwargs: Any) -> list[Path]:
    """Write ``phase_diagram``, ``uncertainty`` and ``convergence`` files into a directory.

    Parameters
    ----------
    explorer : ActiveLearningExplorer
    directory : str or path
        Created when missing.
    dpi : int, default=120
    format : str, default="png"
        File suffix: ``"png"``, ``"pdf"``, ``"svg"``...
    style : {"single", "double"} or None
        Journal column style (see :func:`save_phase_diagram`).
    font : {"sans", "serif", "latex"}, default="sans"
        Typeface (see :func:`save_phase_diagram`).
    **kwargs
        Slice and label keywords (``x``, ``y``, ``at``, ``slice_tol``, ``labels``, ``units``...)
        for the phase diagram and the uncertainty map.

    Returns
    -------
    list of pathlib.Path
        The files written, in the order above.
    """
    if not isinstance(format, str) or not format.isalnum():
        raise ValueError(f"format must be a file suffix such as 'png', 'pdf' or 'svg'; got {format!r}")
    dpi = check_int("dpi", dpi, minimum=10, maximum=2400)
    directory = Path(directory)
    check_output(directory / f"probe.{format.lower()}", dpi, folder_must_exist=False)  # before any work
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for panel, name in (("phase", "phase_diagram"), ("uncertainty", "uncertainty"), ("convergence", "convergence")):
        kw = kwargs if panel == "phase" else {k: v for k, v in kwargs.items() if k in _SLICE_KEYS}
        if panel == "convergence":
            kw = {}
        written.append(Path(save_phase_diagram(explorer, directory / f"{name}.{format.lower()}", panels=(panel,),
                                               dpi=dpi, style=style, font=font, **kw)))
    return written
