"""A :class:`Surrogate` backed by any scikit-learn classifier with ``predict_proba``."""

from __future__ import annotations

import inspect
import uuid
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from spinexplore._validation import InputTypeError
from spinexplore.results import PhaseType
from spinexplore.surrogates._subsample import boundary_subsample
from spinexplore.surrogates.base import DEFAULT_SURROGATE, SURROGATES

__all__ = ["SklearnSurrogate", "check_classifier"]

#: Labels that mean "no phase was measured": dropped before fitting, but remembered.
IGNORED_LABELS = (int(PhaseType.FAILED), int(PhaseType.TIMEOUT))


def check_classifier(estimator: Any, name: str = "estimator") -> Any:
    """Raise :class:`~spinexplore.errors.InputTypeError` (a ``TypeError``) unless ``estimator``
    has ``fit`` and ``predict_proba``; return it."""
    missing = [m for m in ("fit", "predict_proba") if not callable(getattr(estimator, m, None))]
    if missing:
        raise InputTypeError(
            f"{name} must be a classifier with fit and predict_proba (e.g. "
            f"RandomForestClassifier(), CalibratedClassifierCV(SVC())) or one of the names "
            f"{list(SURROGATES)}; {estimator!r} lacks {' and '.join(missing)}"
        )
    return estimator


def _accepts_sample_weight(est: Any) -> bool:
    try:
        return "sample_weight" in inspect.signature(est.fit).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without signature
        return False


class SklearnSurrogate(ClassifierMixin, BaseEstimator):
    """Phase-probability surrogate backed by a scikit-learn classifier.

    Works in the unit cube (the explorer passes ``space.to_unit`` coordinates). It copes
    with the degenerate states of active learning: one observed phase (probability one for
    it), and points that failed or timed out (label ``PhaseType.FAILED`` / ``TIMEOUT``):
    those are dropped before fitting, and kept in ``ignored_X_``.

    Parameters
    ----------
    estimator : classifier, str or None, default=None
        Unfitted classifier with ``predict_proba`` (cloned in ``fit``), or the name of a
        built-in one (see :data:`spinexplore.surrogates.SURROGATES`). ``None`` means the
        default surrogate.
    random_state : int or None, default=None
        Passed to the estimator when it has a ``random_state`` parameter, and used for
        subsampling.
    max_samples : int or None, default=None
        Fit on at most this many points (boundary points first, see
        :func:`boundary_subsample`); for O(n^3) models such as Gaussian processes.
    min_weight : float, default=0.5
        For estimators whose ``fit`` takes no ``sample_weight``: points whose weight is
        below ``min_weight * max(weight)`` are left out (unless that leaves fewer than two
        phases). Estimators that take ``sample_weight`` receive the weights as they are.
    ignore_labels : tuple of int, default=(FAILED, TIMEOUT)
        Labels that carry no phase information.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Phases seen in ``fit`` (after dropping ``ignore_labels``); columns of
        ``predict_proba``. Empty when every point failed.
    estimator_ : classifier or None
        The fitted clone; None while fewer than two phases have been seen.
    ignored_X_ : ndarray of shape (n_ignored, n_features)
        The failed / timed-out points of the last ``fit``.
    X_seen_, y_seen_ : ndarray of shape (n, n_features), (n,)
        Every point and label passed to the last ``fit`` (failed ones included), in order:
        the proposal machinery (:func:`spinexplore.strategies.prepare`) builds its
        candidate set from them once per fit.
    fit_id_ : int
        A random 128-bit number drawn at every ``fit`` (tells one fit from the next, also
        after pickling or copying).
    n_features_in_ : int
        Number of dimensions seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> X = np.array([[0.1, 0.1], [0.2, 0.1], [0.9, 0.9], [0.8, 0.9]])
    >>> s = SklearnSurrogate(KNeighborsClassifier(n_neighbors=1)).fit(X, [0, 0, 4, 4])
    >>> s.predict([[0.0, 0.0], [1.0, 1.0]]).tolist()
    [0, 4]
    """

    def __init__(self, estimator: Any = None, *, random_state: int | None = None,
                 max_samples: int | None = None, min_weight: float = 0.5,
                 ignore_labels: tuple[int, ...] = IGNORED_LABELS) -> None:
        self.estimator = estimator
        self.random_state = random_state
        self.max_samples = max_samples
        self.min_weight = min_weight
        self.ignore_labels = ignore_labels

    def _base_estimator(self) -> Any:
        spec = DEFAULT_SURROGATE if self.estimator is None else self.estimator
        if isinstance(spec, str):
            return SURROGATES.create(spec)
        return check_classifier(spec)

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> SklearnSurrogate:
        """Fit on points ``X`` (n, d) with phase labels ``y`` (n,); returns ``self``."""
        base = self._base_estimator()
        ms = self.max_samples
        if ms is not None and (isinstance(ms, bool) or not isinstance(ms, (int, np.integer))
                               or ms < 2):
            raise ValueError(f"max_samples must be an integer >= 2 or None; got {ms!r}")
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=float)
            if sample_weight.shape != (X.shape[0],) or not np.all(np.isfinite(sample_weight)) \
                    or np.any(sample_weight < 0):
                raise ValueError(
                    f"sample_weight must be finite, >= 0, of shape ({X.shape[0]},); "
                    f"got shape {sample_weight.shape}"
                )
            if not sample_weight.sum() > 0:
                raise ValueError(
                    "sample_weight must contain at least one positive weight; got all zeros"
                )
        ignored = np.isin(y, np.asarray(self.ignore_labels)) if y.dtype.kind in "iu" else \
            np.zeros(y.shape, bool)
        self.ignored_X_ = X[ignored]
        self.X_seen_, self.y_seen_ = np.array(X, dtype=float), np.array(y)
        self.fit_id_ = uuid.uuid4().int  # unique across fits and processes
        X, y = X[~ignored], y[~ignored]
        if sample_weight is not None:
            sample_weight = sample_weight[~ignored]
        self.classes_ = np.unique(y)
        self.estimator_ = None
        if self.classes_.size < 2:
            return self
        rng = np.random.default_rng(self.random_state)
        if self.max_samples is not None and X.shape[0] > self.max_samples:
            keep = boundary_subsample(X, y, int(self.max_samples), rng)
            X, y = X[keep], y[keep]
            sample_weight = None if sample_weight is None else sample_weight[keep]
        est = clone(base)
        params = est.get_params()
        if "random_state" in params and self.random_state is not None:
            est.set_params(random_state=self.random_state)
        if "n_neighbors" in params and isinstance(params["n_neighbors"], int):
            est.set_params(n_neighbors=min(params["n_neighbors"], X.shape[0]))
        fit_kw: dict[str, Any] = {}
        if sample_weight is not None:
            if _accepts_sample_weight(est):
                fit_kw["sample_weight"] = sample_weight
            elif sample_weight.max() > 0:
                keep = sample_weight >= self.min_weight * sample_weight.max()
                if np.unique(y[keep]).size == self.classes_.size:
                    X, y = X[keep], y[keep]
        self.estimator_ = est.fit(X, y, **fit_kw)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities of each phase in ``classes_``, ndarray of shape (m, n_classes)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        if self.estimator_ is None:
            return np.ones((X.shape[0], self.classes_.size))
        proba = np.asarray(self.estimator_.predict_proba(X), dtype=float)
        est_classes = np.asarray(self.estimator_.classes_)
        if proba.shape[1] != self.classes_.size or not np.array_equal(est_classes, self.classes_):
            full = np.zeros((X.shape[0], self.classes_.size))
            idx = np.searchsorted(self.classes_, est_classes)
            full[:, idx] = proba
            proba = full
        proba = np.nan_to_num(proba, nan=0.0)
        s = proba.sum(axis=1, keepdims=True)
        bad = s[:, 0] <= 0
        if bad.any():
            proba[bad] = 1.0 / self.classes_.size
            s[bad] = 1.0
        return proba / s

    def predict(self, X: Any) -> np.ndarray:
        """Most probable phase of each point, ndarray of shape (m,)."""
        proba = self.predict_proba(X)  # first, so an unfitted call raises NotFittedError
        if self.classes_.size == 0:
            return np.full(proba.shape[0], int(PhaseType.UNKNOWN))
        return self.classes_[np.argmax(proba, axis=1)]
