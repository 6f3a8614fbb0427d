"""Surrogate models: phase probabilities over the unit cube.

``make_surrogate(spec)`` turns a name, a scikit-learn classifier or a ready
:class:`Surrogate` into a surrogate. Built-in names (:data:`SURROGATES`):

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

from typing import Any

from spinexplore.surrogates._kernel import KernelPhaseClassifier
from spinexplore.surrogates._label_spreading import PoolLabelSpreading
from spinexplore.surrogates._scaled import ScaledPhaseClassifier
from spinexplore.surrogates._sklearn import SklearnSurrogate, boundary_subsample, check_classifier
from spinexplore.surrogates.base import Surrogate

__all__ = [
    "DEFAULT_SURROGATE",
    "KernelPhaseClassifier",
    "SURROGATES",
    "PoolLabelSpreading",
    "ScaledPhaseClassifier",
    "SklearnSurrogate",
    "Surrogate",
    "boundary_subsample",
    "make_estimator",
    "make_surrogate",
]

SURROGATES = ("kernel", "gp", "random_forest", "extra_trees", "knn", "label_spreading", "auto")
DEFAULT_SURROGATE = "auto"

#: Per-name defaults for the SklearnSurrogate wrapper.
_WRAPPER_OPTIONS: dict[str, dict[str, Any]] = {"gp": {"max_samples": 200}}


def make_estimator(name: str) -> Any:
    """A fresh, unfitted scikit-learn classifier for a built-in surrogate ``name``."""
    if name == "gp":
        from sklearn.gaussian_process import GaussianProcessClassifier
        from sklearn.gaussian_process.kernels import RBF, ConstantKernel

        # Fixed hyper-parameters: optimising them costs ~20x more (17 s for 300 points in
        # 2-D), and in the unit cube a length scale of 0.1 suits phase boundaries.
        kernel = ConstantKernel(10.0) * RBF(0.1)
        return GaussianProcessClassifier(kernel, optimizer=None)
    if name == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(n_estimators=100)
    if name == "extra_trees":
        from sklearn.ensemble import ExtraTreesClassifier

        return ExtraTreesClassifier(n_estimators=100)
    if name == "knn":
        from sklearn.neighbors import KNeighborsClassifier

        return KNeighborsClassifier(n_neighbors=5, weights="distance")
    if name == "kernel":
        return KernelPhaseClassifier()
    if name == "auto":
        return ScaledPhaseClassifier()
    if name == "label_spreading":
        return PoolLabelSpreading()
    raise ValueError(f"surrogate must be one of {list(SURROGATES)}; got {name!r}")


def make_surrogate(spec: Any = None, random_state: int | None = None) -> Surrogate:
    """Build a :class:`Surrogate` from a name, a classifier or a surrogate.

    Parameters
    ----------
    spec : None, str, scikit-learn classifier or Surrogate
        ``None``: the default (:data:`DEFAULT_SURROGATE`). A name from :data:`SURROGATES`.
        An unfitted classifier with ``predict_proba`` (wrapped in :class:`SklearnSurrogate`,
        which handles one observed phase and failed points). An object that already has
        ``fit``, ``predict_proba`` and ``classes_`` handling (a :class:`SklearnSurrogate`,
        your own class) is returned unchanged.
    random_state : int or None
        Seed for the built-in or wrapped model.

    Returns
    -------
    Surrogate

    Raises
    ------
    ValueError
        For an unknown name (the message lists :data:`SURROGATES`).
    TypeError
        For an object without ``fit`` and ``predict_proba``.

    Examples
    --------
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> make_surrogate("knn").estimator.n_neighbors
    5
    >>> type(make_surrogate(RandomForestClassifier())).__name__
    'SklearnSurrogate'
    """
    if spec is None:
        spec = DEFAULT_SURROGATE
    if isinstance(spec, str):
        if spec not in SURROGATES:
            raise ValueError(
                f"surrogate must be one of {list(SURROGATES)}, a scikit-learn classifier with "
                f"predict_proba, or a Surrogate; got {spec!r}"
            )
        return SklearnSurrogate(make_estimator(spec), random_state=random_state,
                                **_WRAPPER_OPTIONS.get(spec, {}))
    if isinstance(spec, SklearnSurrogate):
        return spec
    check_classifier(spec, "surrogate")
    from sklearn.base import is_classifier

    if is_classifier(spec) or hasattr(spec, "get_params"):
        return SklearnSurrogate(spec, random_state=random_state)
    return spec  # a user's own Surrogate
