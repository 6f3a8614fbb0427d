"""Uncertainty measures of phase probabilities, each scaled to [0, 1]."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["entropy", "margin", "least_confidence", "UNCERTAINTY_MEASURES"]


def _as_proba(proba: np.ndarray) -> np.ndarray:
    p = np.asarray(proba, dtype=float)
    if p.ndim != 2:
        raise ValueError(f"proba must have shape (n_points, n_classes); got shape {p.shape}")
    return p


def entropy(proba: np.ndarray) -> np.ndarray:
    """Shannon entropy divided by ``log(n_classes)``: 0 when certain, 1 when uniform.

    Returns zeros when there are fewer than two classes.
    """
    p = _as_proba(proba)
    k = p.shape[1]
    if k < 2:
        return np.zeros(p.shape[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.sum(np.where(p > 0, p * np.log(p), 0.0), axis=1)
    return np.clip(h / np.log(k), 0.0, 1.0)


def margin(proba: np.ndarray) -> np.ndarray:
    """``1 - (p_first - p_second)``: 1 on a boundary between two phases, 0 when certain."""
    p = _as_proba(proba)
    if p.shape[1] < 2:
        return np.zeros(p.shape[0])
    top2 = np.sort(p, axis=1)[:, -2:]
    return np.clip(1.0 - (top2[:, 1] - top2[:, 0]), 0.0, 1.0)


def least_confidence(proba: np.ndarray) -> np.ndarray:
    """``(1 - p_max) * k / (k - 1)`` for ``k`` classes: 0 when certain, 1 when uniform."""
    p = _as_proba(proba)
    k = p.shape[1]
    if k < 2:
        return np.zeros(p.shape[0])
    return np.clip((1.0 - p.max(axis=1)) * k / (k - 1), 0.0, 1.0)


UNCERTAINTY_MEASURES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "entropy": entropy,
    "margin": margin,
    "least_confidence": least_confidence,
}
