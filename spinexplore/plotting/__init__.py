"""Figures of an exploration and of a spin texture (matplotlib, imported inside each function).

Every function takes ``ax=None`` (a new figure when None) and returns the Axes it drew on, or an
ndarray of Axes for a multi-panel figure. Each :class:`~spinexplore.results.PhaseType` has one
fixed colour, :data:`PHASE_COLORS`, and one legend name, :data:`PHASE_LABELS`
(``phase_labels=`` overrides it per call):

=================  =========  ==========  ========================
phase              colour     hex         legend
=================  =========  ==========  ========================
FERROMAGNET        blue       ``#4477AA``  FM
SINGLE_Q           green      ``#228833``  helix (1Q)
DOUBLE_Q           yellow     ``#CCBB44``  2Q
TRIPLE_Q           cyan       ``#66CCEE``  3Q
SKYRMION           red        ``#EE6677``  SkX
MERON_ANTIMERON    purple     ``#AA3377``  MAX (meron-antimeron)
PARAMAGNET         grey       ``#BBBBBB``  PM
UNKNOWN            brown      ``#8C564B``  unclassified
FAILED             black      ``#000000``  failed
TIMEOUT            orange     ``#E67E22``  timeout
=================  =========  ==========  ========================

(the first seven are Paul Tol's "bright" scheme, safe for colour-blind readers).

Axis labels carry units: ``"$h$ / $J_1$"`` for the built-in ``SpinSimulation``, or the
``labels=``/``units=`` given. In N-D spaces ``x=``, ``y=``, ``at={"J3": 0.1}`` choose the slice
and the title says where it lies and how many points are within ``slice_tol``. Files:
:func:`plot_observable` draws an observable along a 1-D slice with the standard errors of
Monte Carlo averages as error bars. :func:`save_phase_diagram` writes PNG, PDF or SVG by suffix, with ``dpi`` and
``style="single"|"double"`` (3.4 or 7.0 in wide, 8 pt text, fonts kept as text).

The explorer arguments need the attributes ``space``, ``X``, ``status``, ``phases``,
``iterations``, ``history`` and the method ``predict`` of
:class:`spinexplore.explorer.ActiveLearningExplorer`.
"""

from __future__ import annotations

from spinexplore.plotting._common import COLUMN_WIDTHS, PHASE_COLORS, PHASE_LABELS, journal_style
from spinexplore.plotting._convergence import plot_convergence
from spinexplore.plotting._diagram import plot_phase_diagram
from spinexplore.plotting._files import save_all, save_phase_diagram
from spinexplore.plotting._gallery import plot_boundaries, plot_phase_gallery, save_phase_gallery
from spinexplore.plotting._observable import plot_observable
from spinexplore.plotting._texture import (
    plot_charge_density,
    plot_spin_texture,
    plot_structure_factor,
    plot_texture,
)
from spinexplore.plotting._uncertainty import plot_uncertainty

__all__ = [
    "COLUMN_WIDTHS",
    "PHASE_COLORS",
    "PHASE_LABELS",
    "journal_style",
    "plot_boundaries",
    "plot_charge_density",
    "plot_convergence",
    "plot_observable",
    "plot_phase_diagram",
    "plot_phase_gallery",
    "plot_spin_texture",
    "plot_structure_factor",
    "plot_texture",
    "plot_uncertainty",
    "save_all",
    "save_phase_diagram",
    "save_phase_gallery",
]
