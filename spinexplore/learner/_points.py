"""Helpers of the learner: seeds, record columns and counts, reference metrics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from spinexplore.labels import UNKNOWN_ID, Vocabulary
from spinexplore.results import PointRecord, PointStatus

__all__ = ["Columns", "reference_metrics", "seeds", "count_points"]

#: Smallest sample weight of a labelled point (its confidence, floored).
MIN_WEIGHT = 0.05


def seeds(seed: int | np.random.Generator | None) -> tuple[int | None, np.random.Generator, int]:
    """(recorded seed, proposal Generator, surrogate seed) from the user's ``seed``."""
    if isinstance(seed, np.random.Generator):
        return None, seed, int(seed.integers(2**31 - 1))
    if seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)):
        if seed is not None and seed < 0:
            raise ValueError(f"seed must be a non-negative integer, a Generator or None; got {seed!r}")
        value = int(np.random.SeedSequence().entropy) if seed is None else int(seed)
        rng_ss, sur_ss = np.random.SeedSequence(value).spawn(2)
        return value, np.random.default_rng(rng_ss), int(sur_ss.generate_state(1)[0] & 0x7FFFFFFF)
    raise TypeError(f"seed must be an int, a numpy Generator or None; got {seed!r}")


def reference_metrics(surrogate: Any, n_dims: int) -> tuple[np.ndarray | None, float]:
    """Predicted labels on the fixed reference points and the mean uncertainty there
    (``(None, nan)`` without a fitted surrogate). Thread-safe for a surrogate nobody refits."""
    from spinexplore.strategies import convergence_metrics

    metrics, labels = convergence_metrics(surrogate, None, n_dims=n_dims)
    return labels, float(metrics["mean_uncertainty"])


def count_points(records: Sequence[PointRecord], *, with_phases: bool = False) -> dict[str, int]:
    """Points per status name, in order of first appearance; ``with_phases``: plus the DONE
    points per phase name, summed where a status and a phase share a name (as version 0.1
    counted)."""
    counts: dict[str, int] = {}
    for r in records:
        counts[r.status.name] = counts.get(r.status.name, 0) + 1
    for r in records if with_phases else ():
        if r.status == PointStatus.DONE and r.result is not None:
            counts[r.result.phase.name] = counts.get(r.result.phase.name, 0) + 1
    return counts


class Columns:
    """Column arrays of the records (coordinates, status, phase, label, weight), grown by
    doubling, so that a proposal at 10^4-10^5 points costs array operations, not a loop over
    records.

    ``phase`` is the label id of every point with a result (-1: none, failed or timed out);
    ``label`` is what the surrogate learns: the same id, except -1 for UNKNOWN unless
    ``unknown_as_phase`` (the simulation ran and could not decide: not a class).
    """

    def __init__(self, n_dims: int, vocabulary: Vocabulary | None = None, unknown_as_phase: bool = False) -> None:
        self.n = 0
        self.vocabulary = Vocabulary() if vocabulary is None else vocabulary
        self.unknown_as_phase = bool(unknown_as_phase)
        self.X = np.empty((64, n_dims))
        self.status = np.empty(64, dtype=np.int8)
        self.phase = np.empty(64, dtype=int)
        self.label = np.empty(64, dtype=int)
        self.weight = np.empty(64)

    def set(self, record: PointRecord) -> None:
        i = record.index
        if i >= len(self.status):
            grow = max(2 * len(self.status), i + 1)
            for name in ("X", "status", "phase", "label", "weight"):
                old = getattr(self, name)
                new = np.empty((grow,) + old.shape[1:], dtype=old.dtype)
                new[: len(old)] = old
                setattr(self, name, new)
        self.X[i] = record.params
        self.status[i] = int(record.status)
        result = record.result
        physical = record.status == PointStatus.DONE and result is not None and result.ok
        self.phase[i] = self.vocabulary.id_of(result.phase) if physical else -1
        learned = physical and (self.unknown_as_phase or self.phase[i] != UNKNOWN_ID)
        self.label[i] = self.phase[i] if learned else -1
        self.weight[i] = max(result.confidence, MIN_WEIGHT) if learned else 0.0
        self.n = max(self.n, i + 1)

    def unknown_mask(self) -> np.ndarray:
        """Points that ran and could not decide, when UNKNOWN is not learned as a phase."""
        if self.unknown_as_phase:
            return np.zeros(self.n, dtype=bool)
        return self.phase[: self.n] == UNKNOWN_ID

    def labeled_mask(self) -> np.ndarray:
        return self.label[: self.n] >= 0

    def where(self, *statuses: PointStatus) -> np.ndarray:
        return np.flatnonzero(np.isin(self.status[: self.n], [int(s) for s in statuses]))

    def values(self, name: str, records: Sequence[PointRecord]) -> np.ndarray:
        """One value per record: ``status``, ``phase`` (label id, -1 without a label: pending,
        failed or timed out), ``confidence``, ``energy`` (NaN without a result) or ``iteration``."""
        if name == "status":  # kept as a column already
            return self.status[: self.n].astype(int)
        if name == "iteration":
            return np.array([r.iteration for r in records], dtype=int)
        if name == "phase":
            return self.phase[: self.n].copy()
        if name in ("confidence", "energy"):
            return np.array([np.nan if r.result is None else getattr(r.result, name) for r in records], dtype=float)
        raise ValueError(f"name must be one of ['confidence', 'energy', 'iteration', 'phase', 'status']; got {name!r}")
