"""A surrogate whose model follows the size of the run: kernel first, trees at scale."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from spinexplore.surrogates._kernel import KernelPhaseClassifier
from spinexplore.surrogates._subsample import boundary_subsample

__all__ = ["ScaledPhaseClassifier"]


def _default_large(random_state: int | None) -> Any:
    from sklearn.ensemble import ExtraTreesClassifier

    # leaves of >= 2 points: half the memory and pickle of fully grown trees (27 MB instead
    # of 49 MB fitted on 10^4 points) for the same accuracy (+-0.15 points on the 4-D diagram)
    return ExtraTreesClassifier(n_estimators=50, min_samples_leaf=2, random_state=random_state)


class ScaledPhaseClassifier(ClassifierMixin, BaseEstimator):
    """The kernel classifier for small runs, extra trees on a bounded subsample for large ones.

    Up to ``switch_at`` training points the model is ``small`` (default
    :class:`KernelPhaseClassifier`, the best surrogate of ``benchmarks/active_learning.py``
    up to 400 points). The kernel learns from at most 1000 points (its ``max_samples``);
    beyond, its boundary-first subsample loses the interior of the phases and its accuracy
    *falls* as the run goes on: in the active-learning loop on the 4-D diagram of the
    benchmarks it goes from 0.961 at 1000 points to 0.939 at 4000, while this model,
    switching to trees there, reaches 0.971 (``benchmarks/results/active_learning_4d.json``,
    ``"switch_check"``, 4 seeds). On fixed point sets of that diagram the trees reach 0.97
    at 10^4 points and, on a subsample of 10^4 of 10^5 points, 0.973 (0.988 on all of them,
    for ten times the fit; the kernel stays at 0.93-0.94; ``surrogate_scaling.json``,
    ``"large_n"``). Beyond ``switch_at`` the model is therefore ``large`` (default 50
    extremely randomised trees, leaves of at least 2 points) fitted on at most
    ``max_samples`` points (boundary points first, see
    :func:`~spinexplore.surrogates.boundary_subsample`), which bounds the fit: 0.35 s at
    10^5 points in 4-D on one core.

    Parameters
    ----------
    small : classifier or None, default=None
        Model for up to ``switch_at`` points (None: ``KernelPhaseClassifier()``).
    large : classifier or None, default=None
        Model beyond (None: ``ExtraTreesClassifier(n_estimators=50, min_samples_leaf=2)``).
    switch_at : int, default=1000
        Largest number of training points fitted with ``small`` (the kernel's own cap, so
        that the kernel always learns from every point).
    max_samples : int, default=10000
        Largest number of points ``large`` is fitted on.
    random_state : int or None, default=None
        Seed of the subsample and of models that take one.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    estimator_ : classifier
        The fitted model (``small`` or ``large``).
    """

    def __init__(self, small: Any = None, large: Any = None, switch_at: int = 1000,
                 max_samples: int = 10_000, random_state: int | None = None) -> None:
        self.small = small
        self.large = large
        self.switch_at = switch_at
        self.max_samples = max_samples
        self.random_state = random_state

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> ScaledPhaseClassifier:
        """Fit ``small`` or (beyond ``switch_at`` points) ``large``; returns ``self``."""
        for name in ("switch_at", "max_samples"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 2:
                raise ValueError(f"{name} must be an integer >= 2; got {v!r}")
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        w = None if sample_weight is None else _check_sample_weight(sample_weight, X)
        self.classes_ = np.unique(y)
        if X.shape[0] <= self.switch_at:
            est = clone(self.small) if self.small is not None else KernelPhaseClassifier()
        else:
            est = clone(self.large) if self.large is not None else _default_large(None)
            idx = boundary_subsample(X, y, int(self.max_samples),
                                     np.random.default_rng(self.random_state))
            X, y = X[idx], y[idx]
            w = None if w is None else w[idx]
        if "random_state" in est.get_params() and self.random_state is not None:
            est.set_params(random_state=self.random_state)
        kw = {}
        if w is not None and "sample_weight" in inspect.signature(est.fit).parameters:
            kw["sample_weight"] = w
        self.estimator_ = est.fit(X, y, **kw)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Phase probabilities, ndarray of shape (m, n_classes), columns as ``classes_``."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        proba = np.asarray(self.estimator_.predict_proba(X), dtype=float)
        seen = np.asarray(self.estimator_.classes_)
        if seen.size == self.classes_.size:
            return proba
        full = np.zeros((X.shape[0], self.classes_.size))  # a class lost in the subsample
        full[:, np.searchsorted(self.classes_, seen)] = proba
        return full

    def predict(self, X: Any) -> np.ndarray:
        """Most probable phase of each point."""
        proba = self.predict_proba(X)  # first, so an unfitted call raises NotFittedError
        return self.classes_[np.argmax(proba, axis=1)]
