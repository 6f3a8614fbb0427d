"""Colours, legend names, figure styles and file output shared by every figure."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from spinexplore._validation import check_choice, check_int
from spinexplore.results import PhaseType

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

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

#: Names used in legends, titles and galleries (override per call with ``phase_labels=``).
PHASE_LABELS: dict[PhaseType, str] = {
    PhaseType.FERROMAGNET: "FM",
    PhaseType.SINGLE_Q: "helix (1Q)",
    PhaseType.DOUBLE_Q: "2Q",
    PhaseType.TRIPLE_Q: "3Q",
    PhaseType.SKYRMION: "SkX",
    PhaseType.MERON_ANTIMERON: "MAX (meron-antimeron)",
    PhaseType.PARAMAGNET: "PM",
    PhaseType.UNKNOWN: "unclassified",
    PhaseType.FAILED: "failed",
    PhaseType.TIMEOUT: "timeout",
}

#: Figure widths in inches of one journal column and of the full page width.
COLUMN_WIDTHS = {"single": 3.4, "double": 7.0}
STYLES = ("single", "double")


def new_axes(ax: Any) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(layout="constrained")
    return ax


def phase_cmap() -> tuple[Any, Any]:
    from matplotlib.colors import BoundaryNorm, ListedColormap

    cmap = ListedColormap([PHASE_COLORS[p] for p in PhaseType])
    norm = BoundaryNorm(np.arange(len(PhaseType) + 1) - 0.5, len(PhaseType))
    return cmap, norm


#: Text fonts of a figure: ``"sans"`` (matplotlib's default), ``"serif"`` (serif text and
#: serif mathematics, no LaTeX needed) or ``"latex"`` (all text set by LaTeX).
FONTS = ("sans", "serif", "latex")


def style_rc(style: str | None, font: str = "sans") -> dict[str, Any]:
    """rcParams of a journal figure: 8 pt text for ``"single"``/``"double"``, fonts embedded as
    text (TrueType in PDF, ``<text>`` in SVG) in every case; ``font`` picks the typeface."""
    rc: dict[str, Any] = {"pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "none"}
    if style is not None:
        check_choice("style", style, STYLES)
        rc.update({"font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "legend.fontsize": 7,
                   "xtick.labelsize": 7, "ytick.labelsize": 7, "lines.linewidth": 1.0,
                   "axes.linewidth": 0.6, "xtick.major.width": 0.6, "ytick.major.width": 0.6,
                   "lines.markersize": 4})
    check_choice("font", font, FONTS)
    if font == "serif":
        rc.update({"font.family": "serif", "font.serif": ["DejaVu Serif", "Times New Roman", "serif"],
                   "mathtext.fontset": "dejavuserif"})
    elif font == "latex":
        import shutil

        if shutil.which("latex") is None:
            raise RuntimeError("font='latex' needs a LaTeX installation (the `latex` command was not found); "
                               "use font='serif' for serif text without LaTeX")
        rc.update({"text.usetex": True, "font.family": "serif"})
    return rc


def panel_label(ax: Any, k: int) -> None:
    """The label "(a)", "(b)", ... at the top left of panel ``k`` (0-based), inside the axes on a
    white box (clear of the title and of the axis labels)."""
    ax.text(0.02, 0.98, f"({chr(ord('a') + k)})", transform=ax.transAxes, ha="left", va="top",
            fontweight="bold", zorder=10, bbox={"boxstyle": "square,pad=0.15", "facecolor": "white",
                                                  "edgecolor": "none", "alpha": 0.85})


def run_caption(explorer: Any) -> str | None:
    """A one-line title with the model and the run settings, or None without a recorded simulation:
    ``triangular-chiral (D/J = 0.5625), L = 24, fast, 100 points``."""
    desc = getattr(explorer, "simulation_description", None)
    if not isinstance(desc, Mapping) or not desc.get("model"):
        return None
    params = desc.get("model_params") or {}
    parts = [str(desc["model"])]
    try:
        j1 = float(params.get("J1", 1.0)) or 1.0
        if params.get("D") is not None:
            parts[0] += f" (D/J = {float(params['D']) / j1:.4g})"
    except (TypeError, ValueError):
        pass
    if desc.get("lattice_size"):
        parts.append(f"L = {desc['lattice_size']}")
    if desc.get("mode"):
        parts.append(str(desc["mode"]))
    n = getattr(explorer, "n_points", None)
    if n is not None:
        parts.append(f"{n} points")
    return ", ".join(parts)


@contextlib.contextmanager
def journal_style(style: str | None = "single") -> Iterator[None]:
    """Context manager: matplotlib's rcParams for a ``"single"`` (3.4 in) or ``"double"`` (7.0 in)
    column figure, e.g. ``with plotting.journal_style("single"): fig, ax = plt.subplots(...)``."""
    import matplotlib as mpl

    with mpl.rc_context(style_rc(style)):
        yield


def figure_size(style: str | None, n_panels: int, panel_size: tuple[float, float]) -> tuple[float, float]:
    """Figure size in inches: ``panel_size`` per panel on screen; a journal column's width with
    panels of aspect about 4:3 (at most 4.8 in of plot height) plus room for title and legend."""
    if style is None:
        return panel_size[0] * n_panels, panel_size[1]
    width = COLUMN_WIDTHS[check_choice("style", style, STYLES)]
    panel_w = width / n_panels
    return width, max(1.8, min(panel_w * 0.75, 4.8)) + (0.9 if n_panels == 1 else 0.8)


def check_output(path: str | os.PathLike[str], dpi: Any, *, folder_must_exist: bool = True) -> tuple[str, int]:
    """Check the output path's suffix (a format matplotlib writes) and the dpi before any work."""
    from matplotlib.backend_bases import FigureCanvasBase

    dpi = check_int("dpi", dpi, minimum=10, maximum=2400)
    path = os.fspath(path)
    fmt = Path(path).suffix.lstrip(".").lower()
    allowed = sorted(FigureCanvasBase.get_supported_filetypes())
    if fmt not in allowed:
        raise ValueError(f"the output file {path!r} must end in one of {['.' + a for a in allowed]} "
                         f"(the suffix picks the format); got {('.' + fmt) if fmt else 'no suffix'!r}")
    parent = Path(path).parent
    if folder_must_exist and not parent.is_dir():
        raise FileNotFoundError(f"the folder of the output file {path!r} does not exist: {str(parent)!r}")
    return path, dpi


#: Colours of the labels of the user's, by id (Paul Tol's "muted", then "light" and "dark").
USER_COLORS = ("#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255",
               "#AA4499", "#77AADD", "#EE8866", "#EEDD88", "#FFAABB", "#99DDFF", "#44BB99", "#AAAA00",
               "#222255", "#225555", "#225522", "#666633", "#663333")
#: An undeclared phase with fewer finished points than this is drawn as points, not as a
#: region with a legend patch of its own (one stray label does not make a phase region).
MIN_REGION_POINTS = 3
#: How the points that ran and could not decide (UNKNOWN, not learned) are marked.
UNDECIDED_STYLE = {"marker": "D", "color": "#8C564B", "label": "undecided (UNKNOWN)"}


class PhaseStyle:
    """Colours and legend names of an exploration's labels.

    Names: ``overrides`` (keys: label names, ``PhaseType`` members or ids), then the
    vocabulary's display names, then :data:`PHASE_LABELS` for built-in labels, then the name.
    Colours: the vocabulary's, then :data:`PHASE_COLORS`, then :data:`USER_COLORS` by id.
    """

    def __init__(self, explorer: Any = None, overrides: Mapping[Any, str] | None = None) -> None:
        from spinexplore.labels import Vocabulary

        vocab = getattr(explorer, "vocabulary", None)
        self.vocabulary = vocab if isinstance(vocab, Vocabulary) else Vocabulary()
        self._names: dict[int, str] = {}
        if overrides is not None:
            if not isinstance(overrides, Mapping):
                raise TypeError(f"phase_labels must be a mapping of phases to strings, e.g. {{'SKYRMION': 'SkX'}}; "
                                f"got {overrides!r}")
            for key, value in overrides.items():
                if not isinstance(value, str):
                    raise TypeError(f"phase_labels[{key!r}] must be a string; got {value!r}")
                if isinstance(key, (int, np.integer)) and not isinstance(key, bool) and int(key) not in range(10):
                    self._names[int(key)] = value
                    continue
                label = self.vocabulary.resolve(key)
                i = self.vocabulary._by_name.get(str(label.name), int(label) if isinstance(label, PhaseType) else None)
                if i is None:
                    raise ValueError(f"phase_labels: {key!r} is not a label of this exploration; labels: "
                                     f"{self.vocabulary.names()}")
                self._names[i] = value

    def name(self, i: int) -> str:
        i = int(i)
        if i in self._names:
            return self._names[i]
        try:
            entry = self.vocabulary.entry(i)
        except KeyError:
            return f"label {i}"
        if entry.display:
            return entry.display
        if i < len(PhaseType):
            return PHASE_LABELS[PhaseType(i)]
        return entry.name

    def label_name(self, label: Any) -> str:
        """The legend name of a label object (``PhaseType`` member, :class:`Label` or name)."""
        label = self.vocabulary.resolve(label)
        i = int(label) if isinstance(label, PhaseType) else self.vocabulary._by_name.get(str(label))
        return str(label) if i is None else self.name(i)

    def color(self, i: int) -> str:
        i = int(i)
        try:
            entry = self.vocabulary.entry(i)
        except KeyError:
            entry = None
        if entry is not None and entry.color:
            return entry.color
        if 0 <= i < len(PhaseType):
            return PHASE_COLORS[PhaseType(i)]
        return USER_COLORS[(i - len(PhaseType)) % len(USER_COLORS)]

    def declared(self, i: int) -> bool:
        try:
            return self.vocabulary.entry(int(i)).declared
        except KeyError:
            return False

    def cmap(self, ids: Any) -> tuple[Any, Any]:
        """A colormap and norm that colour every id of ``ids`` (grid cells, points) by label."""
        from matplotlib.colors import BoundaryNorm, ListedColormap

        top = max([len(PhaseType) - 1, *(int(i) for i in np.ravel(ids) if i >= 0)])
        cmap = ListedColormap([self.color(i) for i in range(top + 1)])
        return cmap, BoundaryNorm(np.arange(top + 2) - 0.5, top + 1)
