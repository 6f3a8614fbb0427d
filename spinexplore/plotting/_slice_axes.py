"""Axis labels, scales and titles of a slice of the parameter space (every map and curve)."""

from __future__ import annotations

from typing import Any

from spinexplore.analysis._grid import Slice, axis_label, space_of


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
