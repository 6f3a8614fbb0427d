"""The surrogate registry: each name with the factory of its model (``SURROGATES``).

This module sits below :mod:`spinexplore.surrogates._sklearn` (whose wrapper looks names up
here) and above the models it lists; :func:`spinexplore.surrogates.register_surrogate` adds
entries. A factory takes no arguments and returns a fresh, unfitted model: a scikit-learn
classifier (``make_surrogate`` wraps it in a ``SklearnSurrogate``) or a ready ``Surrogate``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from spinexplore._registry import Registry
from spinexplore.surrogates._kernel import KernelPhaseClassifier
from spinexplore.surrogates._label_spreading import PoolLabelSpreading
from spinexplore.surrogates._scaled import ScaledPhaseClassifier

__all__ = ["DEFAULT_SURROGATE", "SURROGATES", "ClassifierFactory", "make_estimator"]


@dataclass(frozen=True)
class ClassifierFactory:
    """A factory of classifiers plus the options of the ``SklearnSurrogate`` that wraps them.

    Parameters
    ----------
    make : callable
        ``make()`` returns a fresh, unfitted scikit-learn classifier.
    wrapper_options : mapping
        Keyword arguments of :class:`~spinexplore.surrogates.SklearnSurrogate` other than
        ``estimator`` and ``random_state`` (e.g. ``{"max_samples": 200}``), which
        :func:`~spinexplore.surrogates.make_surrogate` passes to the wrapper.
    """

    make: Callable[[], Any]
    wrapper_options: Mapping[str, Any] = field(default_factory=dict)

    def __call__(self) -> Any:
        return self.make()


def _gaussian_process() -> Any:
    from sklearn.gaussian_process import GaussianProcessClassifier
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel

    # Fixed hyper-parameters: optimising them costs ~20x more (17 s for 300 points in
    # 2-D), and in the unit cube a length scale of 0.1 suits phase boundaries.
    return GaussianProcessClassifier(ConstantKernel(10.0) * RBF(0.1), optimizer=None)


def _random_forest() -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=100)


def _extra_trees() -> Any:
    from sklearn.ensemble import ExtraTreesClassifier

    return ExtraTreesClassifier(n_estimators=100)


def _nearest_neighbours() -> Any:
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(n_neighbors=5, weights="distance")


#: Surrogate names and their factories, in the order the documentation lists them.
SURROGATES = Registry("surrogate", {
    "kernel": KernelPhaseClassifier,
    # GP classification is O(n^3): fitted on <= 200 points, boundary points first
    "gp": ClassifierFactory(_gaussian_process, {"max_samples": 200}),
    "random_forest": _random_forest,
    "extra_trees": _extra_trees,
    "knn": _nearest_neighbours,
    "label_spreading": PoolLabelSpreading,
    "auto": ScaledPhaseClassifier,
})
DEFAULT_SURROGATE = "auto"


def make_estimator(name: str) -> Any:
    """A fresh, unfitted model for the surrogate ``name``: what its factory returns.

    For the built-in names, a scikit-learn classifier. Raises
    :class:`~spinexplore.errors.InputError` (a ``ValueError``) listing :data:`SURROGATES` for
    an unknown name.
    """
    return SURROGATES.create(name)
