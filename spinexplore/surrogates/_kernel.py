"""A fast Gaussian-kernel phase classifier: GP regression on one-hot phase labels."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve, cholesky
from scipy.linalg.lapack import dtrtri
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from spinexplore.surrogates._subsample import boundary_subsample

__all__ = ["KernelPhaseClassifier"]

#: Length scales (unit-cube units) tried by ``length_scale="auto"``.
LENGTH_SCALES = (0.02, 0.03, 0.045, 0.07, 0.1, 0.15, 0.22, 0.33)


def _sqdist(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    d2 = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2.0 * A @ B.T
    return np.maximum(d2, 0.0)


def _corr(d2: np.ndarray, ell: float, nu: float) -> np.ndarray:
    """Matern correlation (nu = 0.5, 1.5, 2.5, or inf for the squared exponential)."""
    if np.isinf(nu):
        return np.exp(-0.5 * d2 / ell**2)
    r = np.sqrt(d2) / ell
    if nu == 0.5:
        return np.exp(-r)
    if nu == 1.5:
        r = np.sqrt(3.0) * r
        return (1.0 + r) * np.exp(-r)
    if nu == 2.5:
        r = np.sqrt(5.0) * r
        return (1.0 + r + r * r / 3.0) * np.exp(-r)
    raise ValueError(f"nu must be 0.5, 1.5, 2.5 or inf; got {nu!r}")


class KernelPhaseClassifier(ClassifierMixin, BaseEstimator):
    """Phase probabilities from Gaussian-process regression on one-hot labels.

    Each phase ``c`` gets an indicator ``1[y == c] - 1/k`` that is interpolated with a
    squared-exponential kernel (kernel ridge / GP posterior mean with prior mean ``1/k``).
    The scores are clipped at a small positive floor and normalised to probabilities. Far
    from every labelled point all scores return to ``1/k``, so the model is *uncertain*
    where it has no data: uncertainty sampling then explores by itself. Boundaries are
    smooth, unlike those of tree ensembles. Cost: O(n^3) for n training points, about
    0.07 s at the ``max_samples`` cap of 1000 on one core, length-scale search included
    (``benchmarks/results/proposal_latency.json``).

    Parameters
    ----------
    length_scale : float or "auto", default="auto"
        Kernel length in the units of ``X`` (the unit cube). ``"auto"`` picks, among
        :data:`LENGTH_SCALES` (times the largest extent of ``X``, 1 in the unit cube), the
        one with the best leave-one-out accuracy (ties: lower leave-one-out squared error),
        computed in closed form on at most 600 points. A tuple of lengths uses the mean
        of the kernels of each length.
    nu : {0.5, 1.5, 2.5, inf}, default=inf
        Smoothness of the Matern kernel; ``inf`` is the squared exponential (the best of
        the four in ``benchmarks/active_learning.py`` in 3-D, on a par in 2-D).
    noise : float, default=0.02
        Diagonal regulariser (label noise variance). A point with ``sample_weight`` w gets
        ``noise / w``, so low-confidence labels pull less.
    max_samples : int, default=1000
        Points beyond this are subsampled (boundary points first) before fitting.
    random_state : int or None
        Seed of that subsampling.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    length_scale_ : float
        The length scale used.
    X_fit_, dual_coef_ : ndarray
        Training points and the weights ``(K + noise)^-1 (Y - 1/k)``.

    References
    ----------
    C. E. Rasmussen and C. K. I. Williams, *Gaussian Processes for Machine Learning*
    (MIT Press, 2006), sec. 5.4.2 (closed-form leave-one-out) and sec. 6.5
    (least-squares classification).
    """

    def __init__(self, length_scale: float | str = "auto", noise: float = 0.02,
                 nu: float = float("inf"), max_samples: int = 1000,
                 random_state: int | None = None) -> None:
        self.length_scale = length_scale
        self.nu = nu
        self.noise = noise
        self.max_samples = max_samples
        self.random_state = random_state

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> KernelPhaseClassifier:
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        if not (isinstance(self.noise, (int, float)) and self.noise > 0):
            raise ValueError(f"noise must be a number > 0; got {self.noise!r}")
        ls = self.length_scale
        ok_ls = (isinstance(ls, str) and ls == "auto") or (
            isinstance(ls, tuple) and len(ls) > 0 and all(float(v) > 0 for v in ls)) or (
            isinstance(ls, (int, float)) and not isinstance(ls, bool) and ls > 0)
        if not ok_ls:
            raise ValueError(
                f"length_scale must be 'auto', a number > 0 or a tuple of them; got {ls!r}"
            )
        if self.nu not in (0.5, 1.5, 2.5, float("inf")):
            raise ValueError(f"nu must be 0.5, 1.5, 2.5 or inf; got {self.nu!r}")
        w = _check_sample_weight(sample_weight, X)
        self.classes_, yi = np.unique(y, return_inverse=True)
        keep = w > 0
        if keep.sum() >= 1:
            X, yi, w = X[keep], yi[keep], w[keep]
        if X.shape[0] > self.max_samples:
            idx = boundary_subsample(X, yi, int(self.max_samples),
                                     np.random.default_rng(self.random_state))
            X, yi, w = X[idx], yi[idx], w[idx]
        k = max(self.classes_.size, 2)
        Y = np.eye(k)[yi] - 1.0 / k
        d2 = _sqdist(X, X)
        diag = self.noise / np.maximum(w / w.max(), 1e-3)
        if self.length_scale == "auto":
            self.length_scale_ = self._select_length_scale(X, yi, Y, d2, diag)
        else:
            self.length_scale_ = self.length_scale
        K = self._kernel(d2) + np.diag(diag)
        self.dual_coef_ = cho_solve(cho_factor(K), Y)
        self.X_fit_ = X
        self.n_classes_fit_ = k
        return self

    def _select_length_scale(self, X, yi, Y, d2, diag) -> float:
        """Best leave-one-out accuracy (ties: squared error) on at most 600 of the points."""
        if X.shape[0] > 600:
            idx = np.random.default_rng(self.random_state).choice(X.shape[0], 600, replace=False)
            X, yi, Y, d2, diag = X[idx], yi[idx], Y[idx], d2[np.ix_(idx, idx)], diag[idx]
        extent = float(np.ptp(X, axis=0).max()) if X.shape[0] > 1 else 1.0
        extent = extent if extent > 0 else 1.0
        best: tuple | None = None
        for ell in np.asarray(LENGTH_SCALES) * extent:
            try:
                L = cholesky(_corr(d2, ell, self.nu) + np.diag(diag), lower=True)
            except LinAlgError:  # pragma: no cover - diag > 0 keeps K positive definite
                continue
            A = cho_solve((L, True), Y)
            # diag(K^-1) = column sums of (L^-1)^2: a triangular inverse (n^3 / 3 flops)
            # instead of solving for the whole inverse (2 n^3)
            L_inv, info = dtrtri(L, lower=1)
            if info != 0:  # pragma: no cover - L has a positive diagonal
                continue
            Kinv_diag = np.einsum("ij,ij->j", L_inv, L_inv)
            loo = Y - A / Kinv_diag[:, None]
            score = (np.mean(np.argmax(loo, 1) == yi), -np.mean((loo - Y) ** 2))
            if best is None or score > best[0]:
                best = (score, float(ell))
        return best[1] if best is not None else 0.1

    def _kernel(self, d2: np.ndarray) -> np.ndarray:
        scales = np.atleast_1d(np.asarray(self.length_scale_, dtype=float))
        out = np.zeros_like(d2)
        for ell in scales:
            out += _corr(d2, ell, self.nu)
        return out / scales.size

    def _scores(self, X: Any) -> np.ndarray:
        """Interpolated indicators, ndarray of shape (m, n_classes); ``1/k`` far from data."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        out = np.empty((X.shape[0], self.n_classes_fit_))
        step = max(1, 2_000_000 // max(1, self.X_fit_.shape[0]))
        for s in range(0, X.shape[0], step):
            Ks = self._kernel(_sqdist(X[s:s + step], self.X_fit_))
            out[s:s + step] = Ks @ self.dual_coef_
        out += 1.0 / self.n_classes_fit_
        return out[:, : self.classes_.size] if self.classes_.size >= 2 else out[:, :1]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Phase probabilities, ndarray of shape (m, n_classes)."""
        f = np.clip(self._scores(X), 1e-3, None)
        return f / f.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        """Most probable phase of each point."""
        check_is_fitted(self)
        return self.classes_[np.argmax(self._scores(X), axis=1)]
