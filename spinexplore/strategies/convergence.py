"""A stopping rule users can read: how much of the predicted diagram still changes."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from spinexplore._validation import check_int
from spinexplore.results import PhaseType
from spinexplore.strategies.batch import sobol_pool

__all__ = ["convergence_metrics", "reference_points", "REFERENCE_SIZE", "REFERENCE_SEED"]

REFERENCE_SIZE = 4096
REFERENCE_SEED = 20190302


@functools.lru_cache(maxsize=8)
def _reference(n_dims: int) -> np.ndarray:
    pts = sobol_pool(n_dims, np.random.default_rng(REFERENCE_SEED), REFERENCE_SIZE)
    pts.setflags(write=False)
    return pts


def reference_points(n_dims: int) -> np.ndarray:
    """The fixed reference set: 4096 scrambled-Sobol points of the unit cube (read-only).

    The same seed is used every time, so metrics from different iterations, runs and
    sessions are evaluated on the same points.
    """
    return _reference(check_int("n_dims", n_dims, minimum=1))


def convergence_metrics(
    surrogate: Any,
    previous_labels: np.ndarray | None,
    *,
    n_dims: int,
    reference: np.ndarray | None = None,
) -> tuple[dict[str, float], np.ndarray | None]:
    """Readable convergence figures of the surrogate on a fixed set of reference points.

    Parameters
    ----------
    surrogate : Surrogate or None
        The surrogate after this iteration's fit.
    previous_labels : ndarray of shape (n_reference,) or None
        Labels returned by the previous call (None the first time).
    n_dims : int
        Dimension of the unit cube.
    reference : ndarray of shape (n_reference, n_dims) or None
        Points to evaluate on; default :func:`reference_points`.

    Returns
    -------
    metrics : dict
        ``changed_fraction``: the fraction of the box (of the reference points) whose
        predicted phase changed since the previous call; NaN the first time. Stop when it
        stays near 0 for a few iterations. ``mean_uncertainty``: the mean of
        ``1 - max_phase_probability`` over the box, i.e. the fraction of the box the
        surrogate itself expects to have wrong; 0 while only one phase has been seen.
    labels : ndarray of shape (n_reference,) or None
        Predicted labels on the reference points, to pass back next time.

    Examples
    --------
    >>> m, labels = convergence_metrics(None, None, n_dims=2)
    >>> m["changed_fraction"], labels
    (nan, None)
    """
    n_dims = check_int("n_dims", n_dims, minimum=1)
    ref = reference_points(n_dims) if reference is None else np.asarray(reference, dtype=float)
    if ref.ndim != 2 or ref.shape[1] != n_dims:
        raise ValueError(f"reference must have shape (n_points, {n_dims}); got shape {ref.shape}")
    nan = {"changed_fraction": math.nan, "mean_uncertainty": math.nan}
    classes = None if surrogate is None else getattr(surrogate, "classes_", None)
    if classes is None:
        return nan, None
    classes = np.asarray(classes)
    if classes.size == 0:
        labels = np.full(ref.shape[0], int(PhaseType.UNKNOWN))
        uncertainty = 1.0
    else:
        proba = np.asarray(surrogate.predict_proba(ref), dtype=float)
        labels = classes[np.argmax(proba, axis=1)]
        uncertainty = float(np.mean(1.0 - proba.max(axis=1)))
    if previous_labels is None:
        changed = math.nan
    else:
        prev = np.asarray(previous_labels)
        if prev.shape != labels.shape:
            raise ValueError(
                f"previous_labels must have shape {labels.shape} (one per reference point); "
                f"got {prev.shape}"
            )
        changed = float(np.mean(prev != labels))
    return {"changed_fraction": changed, "mean_uncertainty": uncertainty}, labels
