"""Read access of ``ActiveLearningExplorer``: points, counts, summary, and the analysis shortcuts
(nothing here writes: ``boundaries(save=True)`` lives in ``explorer.py``).

A mixin over ``self._learner`` (a :class:`~spinexplore.learner.PhaseLearner`) and
``self.run_stats``; kept apart so that ``explorer.py`` holds what the facade does, not what it shows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spinexplore._text import number
from spinexplore.runner import format_stats

__all__ = ["ExplorerViews"]


class ExplorerViews:
    """Read-only views of an explorer's points (mixed into ``ActiveLearningExplorer``)."""

    _learner: Any
    run_stats: dict[str, Any] | None
    _simulation_description: Any
    _boundaries: dict[str, Any] | None
    store: Any

    # ------------------------------------------------------------------ read access
    records = property(lambda self: self._learner.records, doc="Every point, in index order (a copy).")
    n_points = property(lambda self: self._learner.n_points, doc="Number of points.")
    iteration = property(lambda self: self._learner.iteration)
    n_completed_iterations = property(lambda self: self._learner.n_completed_iterations)
    history = property(lambda self: self._learner.history,
                       doc="Convergence metrics per iteration: changed_fraction, mean_uncertainty...")

    @property
    def simulation_description(self) -> Any:
        """What the last simulation run on this exploration said of itself (``describe()``)."""
        return self._simulation_description

    X = property(lambda self: self._learner.points(range(self.n_points)),
                 doc="ndarray of shape (n_points, n_dims): physical coordinates of every point.")
    status = property(lambda self: self._learner.column("status"),
                      doc="ndarray of shape (n_points,): the ``PointStatus`` value of every point.")
    phases = property(lambda self: self._learner.column("phase"),
                      doc="ndarray of shape (n_points,): label id per point (the ``PhaseType`` value for a "
                          "built-in label; names: ``vocabulary.name_of``), -1 without a label.")
    confidences = property(lambda self: self._learner.column("confidence"), doc="Confidence per point (NaN: none).")
    energies = property(lambda self: self._learner.column("energy"), doc="Energy per spin per point (NaN: none).")
    iterations = property(lambda self: self._learner.column("iteration"), doc="Round of each point.")

    vocabulary = property(lambda self: self._learner.vocabulary,
                          doc="The phase labels of this exploration (``spinexplore.labels.Vocabulary``): "
                              "ids, names, display names, colours, order.")

    @property
    def classes_(self) -> np.ndarray:
        """Label ids of the surrogate's probability columns (after a fit; ``PhaseType`` values
        for built-in labels)."""
        return self._learner.classes_

    @property
    def class_names(self) -> list[str]:
        """Names of the surrogate's probability columns (after a fit)."""
        return self._learner.class_names

    def phase_counts(self) -> dict[str, int]:
        """Finished points per label name, in the vocabulary's order (UNKNOWN included)."""
        return self._learner.phase_counts()

    def counts(self, by: str | None = None) -> dict[str, int]:
        """Number of points per status or per phase.

        ``counts(by="status")``: ``{"DONE": 38, "FAILED": 2, "PENDING": 10}`` (every point);
        ``counts(by="phase")``: ``{"SKYRMION": 12, "FERROMAGNET": 26}`` (the DONE points).
        Without ``by``, both in one dict, as in version 0.1 (kept for old scripts; a status and
        a phase may share a name, such as FAILED).
        """
        return self._learner.counts(by)

    def __repr__(self) -> str:
        c = self.counts(by="status")
        return (f"ActiveLearningExplorer({self.space!r}, n_points={self.n_points}, done={c.get('DONE', 0)}, "
                f"pending={c.get('PENDING', 0) + c.get('CANCELLED', 0)}, iteration={self.iteration})")

    # ------------------------------------------------------------------ analysis (spinexplore.analysis)
    def to_dataframe(self) -> Any:
        """One row per point (parameters, status, phase, confidence, energy, ...); needs pandas."""
        from spinexplore.analysis import to_dataframe

        return to_dataframe(self)

    def to_xarray(self, **kwargs: Any) -> Any:
        """The predicted diagram on a grid plus the sampled points, as an xarray Dataset
        (:func:`spinexplore.analysis.to_xarray`: ``resolution=``, ``x=``, ``y=``, ``at=``)."""
        from spinexplore.analysis import to_xarray

        return to_xarray(self, **kwargs)

    def texture(self, index: int, *, simulation: Any = None, lattice: str | None = None) -> Any:
        """The spin texture of point ``index``: saved spins, or a bit-identical rerun of the point
        (:func:`spinexplore.analysis.texture`)."""
        from spinexplore.analysis import texture

        return texture(self, index, simulation=simulation, lattice=lattice)

    def stored_boundaries(self) -> tuple[list[Any], dict[str, Any]]:
        """The boundaries last saved with ``boundaries(save=True)``, and how they were made.

        Returns
        -------
        boundaries : list of Boundary
            Empty when none were saved.
        info : dict
            ``n_finished`` and ``n_points`` when they were computed (compare with the run's
            counts to see whether they are stale), the options and ``at`` values passed, and
            the definition of the uncertainty band.
        """
        from spinexplore.analysis import Boundary

        data = self._boundaries or {}
        info = {k: v for k, v in data.items() if k != "boundaries"}
        return [Boundary.from_dict(b) for b in data.get("boundaries", [])], info

    def summary(self) -> str:
        """A few lines: counts by status and phase, the last metrics, the run's efficiency."""
        lines = [repr(self)]
        phases, statuses = self.phase_counts(), self.counts(by="status")
        lines.append("status: " + ", ".join(f"{k}={v}" for k, v in sorted(statuses.items())))
        if phases:
            lines.append("phases: " + ", ".join(f"{k}={v}" for k, v in phases.items()))
        for h in self.history[-5:]:
            lines.append(f"iteration {h['iteration']}: done={h['n_done']} changed={number(h['changed_fraction'])} "
                         f"uncertainty={number(h['mean_uncertainty'])}")
        if self.run_stats:
            lines.append(format_stats(self.run_stats))
        from spinexplore.fidelity import fidelity_summary, format_fidelity

        desc = self.simulation_description
        if isinstance(desc, dict) and desc.get("simulation") == "Ladder":
            lines.append(format_fidelity(fidelity_summary(self.records, desc.get("names"))))
        return "\n".join(lines)
