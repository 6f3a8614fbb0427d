"""Label spreading over labelled points plus a fixed unlabelled pool (the PDC approach)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import qmc
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.semi_supervised import LabelSpreading
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["PoolLabelSpreading"]


class PoolLabelSpreading(ClassifierMixin, BaseEstimator):
    """Semi-supervised label spreading on the labelled points and a Sobol pool of the cube.

    The phase-diagram construction method (PDC) of Terayama et al. spreads the labels of
    the computed points over a set of uncomputed points of the parameter box, then samples
    where the spread labels are least certain. This estimator does the spreading: it adds
    ``n_pool`` scrambled-Sobol points of the unit cube (label -1) to the training set and
    fits :class:`sklearn.semi_supervised.LabelSpreading` with a k-nearest-neighbour graph.

    Parameters
    ----------
    n_pool : int, default=1024
        Number of unlabelled points added (in the unit cube of the training features).
    n_neighbors : int, default=7
        Neighbours of the kNN graph.
    alpha : float, default=0.2
        Clamping factor of label spreading.
    random_state : int or None, default=None
        Seed of the Sobol pool.

    References
    ----------
    K. Terayama et al., "Efficient construction method for phase diagrams using uncertainty
    sampling", Phys. Rev. Materials 3, 033802 (2019).
    """

    def __init__(self, n_pool: int = 1024, n_neighbors: int = 7, alpha: float = 0.2,
                 random_state: int | None = None) -> None:
        self.n_pool = n_pool
        self.n_neighbors = n_neighbors
        self.alpha = alpha
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> PoolLabelSpreading:
        X, y = validate_data(self, X, y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        d = X.shape[1]
        lo, hi = X.min(axis=0), X.max(axis=0)
        lo, hi = np.minimum(lo, 0.0), np.maximum(hi, 1.0)
        pool = qmc.Sobol(d, rng=np.random.default_rng(self.random_state)).random(
            int(self.n_pool)) * (hi - lo) + lo
        k = int(min(self.n_neighbors, X.shape[0] + pool.shape[0] - 1))
        self.model_ = LabelSpreading(kernel="knn", n_neighbors=k, alpha=self.alpha,
                                     max_iter=100)
        self.model_.fit(np.vstack([X, pool]), np.concatenate([y_idx, -np.ones(len(pool), int)]))
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        proba = np.zeros((X.shape[0], self.classes_.size))
        p = self.model_.predict_proba(X)
        proba[:, self.model_.classes_] = p
        return proba

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
