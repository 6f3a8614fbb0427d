"""What a surrogate is: the :class:`Surrogate` protocol (what the explorer and the strategies
need from a model), and the registry object ``SURROGATES`` that names them.

The registry lives here, empty, because the scikit-learn wrapper (``_sklearn``) resolves a
name (``SklearnSurrogate("knn")``) and sits below :mod:`spinexplore.surrogates.registry`,
which fills it with the built-in models and holds ``register_surrogate`` and
``make_surrogate``.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from spinexplore._registry import Registry

__all__ = ["DEFAULT_SURROGATE", "SURROGATES", "Surrogate"]

#: Surrogate names and their factories (filled by :mod:`spinexplore.surrogates.registry`).
SURROGATES = Registry("surrogate")
DEFAULT_SURROGATE = "auto"


@runtime_checkable
class Surrogate(Protocol):
    """A probabilistic phase classifier over the unit cube.

    Any object with these three members works: a :class:`SklearnSurrogate`, a fitted-in-place
    scikit-learn classifier that copes with your data, or your own class.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Integer phase labels (:class:`~spinexplore.results.PhaseType` values) seen in
        ``fit``; the columns of :meth:`predict_proba` follow this order.
    """

    classes_: np.ndarray

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Surrogate:
        """Learn from points ``X`` (n, d) in the unit cube with labels ``y`` (n,); return self."""
        ...

    def predict_proba(self, X: Any) -> np.ndarray:
        """Phase probabilities, ndarray of shape (m, n_classes), rows summing to 1."""
        ...
