"""Surrogate models: phase probabilities over the unit cube.

``make_surrogate(spec)`` turns a name, a scikit-learn classifier or a ready
:class:`Surrogate` into a surrogate. Names are looked up in :data:`SURROGATES`, a registry of
factories (:class:`spinexplore._registry.Registry`) that :func:`register_surrogate` extends.
Modules: ``base`` (the protocol and the registry object), the models (``_kernel``,
``_scaled``, ``_label_spreading``, ``_subsample``), ``_sklearn`` (the scikit-learn wrapper)
and ``registry`` (the built-in names, ``register_surrogate``, ``make_surrogate``). The
built-in names:

============== ==========================================================================
name           model
============== ==========================================================================
auto           :class:`ScaledPhaseClassifier` (the default): ``kernel`` up to 1000 labelled
               points, then 50 extra trees on at most 10^4 of them (boundary points first),
               so that fits stay bounded and accuracy keeps improving at 10^4-10^6 points
kernel         :class:`KernelPhaseClassifier` (GP regression on one-hot labels, length
               scale by leave-one-out; uncertain far from data)
gp             ``GaussianProcessClassifier`` (fixed RBF kernel, length 0.1; fitted on <= 200
               points, boundary points first: GP classification is O(n^3))
random_forest  ``RandomForestClassifier(n_estimators=100)``
extra_trees    ``ExtraTreesClassifier(n_estimators=100)``
knn            ``KNeighborsClassifier(n_neighbors=5, weights="distance")``
label_spreading :class:`PoolLabelSpreading` (label spreading over a Sobol pool, PDC method)
============== ==========================================================================

The default (:data:`DEFAULT_SURROGATE`) was chosen by ``benchmarks/active_learning.py`` (the
kernel, best up to 400 points) and, for large runs, by ``--switch-check`` and ``--large-n``
(``benchmarks/results/active_learning_4d.json``, ``surrogate_scaling.json``).
"""

from __future__ import annotations

from spinexplore.surrogates._kernel import KernelPhaseClassifier
from spinexplore.surrogates._label_spreading import PoolLabelSpreading
from spinexplore.surrogates._scaled import ScaledPhaseClassifier
from spinexplore.surrogates._sklearn import SklearnSurrogate
from spinexplore.surrogates._subsample import boundary_subsample
from spinexplore.surrogates.base import Surrogate
from spinexplore.surrogates.registry import (
    DEFAULT_SURROGATE,
    SURROGATES,
    ClassifierFactory,
    make_estimator,
    make_surrogate,
    register_surrogate,
)

__all__ = [
    "DEFAULT_SURROGATE",
    "ClassifierFactory",
    "KernelPhaseClassifier",
    "SURROGATES",
    "PoolLabelSpreading",
    "ScaledPhaseClassifier",
    "SklearnSurrogate",
    "Surrogate",
    "boundary_subsample",
    "make_estimator",
    "make_surrogate",
    "register_surrogate",
]
