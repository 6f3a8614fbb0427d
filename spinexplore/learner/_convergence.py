"""The learner's convergence record: one history entry per iteration, the reference labels of
the installed fit, and the snapshots behind :meth:`Convergence.changed_since`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["MAX_HISTORY", "Convergence"]

#: Iterations of convergence history a checkpoint keeps (the state is written whole at every
#: checkpoint, so its size must not grow with the run).
MAX_HISTORY = 1000
#: Fits whose reference labels are kept for :meth:`Convergence.changed_since`.
_MAX_SNAPSHOTS = 64


class Convergence:
    """How the predicted diagram settles: ``history`` (one entry per iteration: ``iteration``,
    ``n_points``, ``n_done``, ``n_failed``, ``changed_fraction``, ``mean_uncertainty``) and the
    reference labels of the newest fits."""

    def __init__(self) -> None:
        self.history: list[dict[str, Any]] = []
        self.reference_labels: np.ndarray | None = None
        self._snapshots: list[tuple[int, np.ndarray]] = []  # (n labelled, reference labels)

    def record(self, iteration: int, counts: Mapping[str, int], mean_uncertainty: float,
               labels: np.ndarray | None, n_fitted: int) -> dict[str, Any]:
        """Make the history entry of ``iteration`` (``counts``: points per status name), with the
        share of the reference labels that changed since the previous fit, replacing an earlier
        entry of the same iteration; keep ``labels`` (the fit on ``n_fitted`` labels) as a
        snapshot. Returns the entry."""
        entry: dict[str, Any] = {
            "iteration": iteration, "n_points": sum(counts.values()), "n_done": counts.get("DONE", 0),
            "n_failed": counts.get("FAILED", 0) + counts.get("TIMEOUT", 0),
            "changed_fraction": math.nan, "mean_uncertainty": float(mean_uncertainty),
        }
        if labels is not None:
            labels = np.asarray(labels, dtype=int)
            if self.reference_labels is not None and self.reference_labels.shape == labels.shape:
                entry["changed_fraction"] = float(np.mean(self.reference_labels != labels))
            self.reference_labels = labels
            self._snapshots = (self._snapshots + [(n_fitted, labels)])[-_MAX_SNAPSHOTS:]
        # one entry per iteration: a resumed or refitted iteration replaces its earlier entry
        self.history = [h for h in self.history if h["iteration"] != iteration] + [entry]
        return entry

    def changed_since(self, n_points: int) -> float:
        """Share of the box whose predicted phase changed over the last ``n_points`` labels.

        Compares the newest fit with the newest fit made at least ``n_points`` labels
        earlier; NaN while no such pair of fits exists.
        """
        if not self._snapshots:
            return math.nan
        n_now, now = self._snapshots[-1]
        older = [labels for n, labels in self._snapshots if n <= n_now - n_points]
        return float(np.mean(older[-1] != now)) if older else math.nan

    def state(self) -> dict[str, Any]:
        """The part of the learner's checkpoint state that is the convergence record."""
        return {"history": self.history[-MAX_HISTORY:],
                "reference_labels": None if self.reference_labels is None else self.reference_labels.tolist()}

    def restore(self, state: Mapping[str, Any]) -> None:
        self.history = list(state.get("history") or [])
        ref = state.get("reference_labels")
        self.reference_labels = None if ref is None else np.asarray(ref, dtype=int)
