"""Surrogate models: phase probabilities over the unit cube.

``make_surrogate(spec)`` turns a name, a scikit-learn classifier or a ready
:class:`Surrogate` into a surrogate. Names are looked up in :data:`SURROGATES`, a registry of
factories (:class:`spinexplore._registry.Registry`) that :func:`register_surrogate` extends;
the built-in names:

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

import inspect
from collections.abc import Callable
from typing import Any

from spinexplore._validation import InputTypeError
from spinexplore.surrogates._kernel import KernelPhaseClassifier
from spinexplore.surrogates._label_spreading import PoolLabelSpreading
from spinexplore.surrogates.registry import (
    DEFAULT_SURROGATE,
    SURROGATES,
    ClassifierFactory,
    make_estimator,
)
from spinexplore.surrogates._scaled import ScaledPhaseClassifier
from spinexplore.surrogates._sklearn import SklearnSurrogate, check_classifier
from spinexplore.surrogates._subsample import boundary_subsample
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
    "register_surrogate",
]

#: What a name may stand for besides a registered surrogate (the end of the error message).
_OTHER_SPECS = ", a scikit-learn classifier with predict_proba, or a Surrogate"


def register_surrogate(name: str, factory: Callable[[], Any], **wrapper_options: Any) -> None:
    """Make ``name`` a surrogate, as good as a built-in one.

    The name is then accepted by :func:`make_surrogate`, by ``ActiveLearningExplorer(...,
    surrogate=name)`` and in a stored run's configuration, and listed by :data:`SURROGATES`.
    Registering an existing name replaces its factory. Register in every process that
    resumes the run (e.g. at the top of the script, or in a module it imports).

    Parameters
    ----------
    name : str
        The surrogate's name.
    factory : callable
        ``factory()`` returns a fresh, unfitted model each time it is called: a scikit-learn
        classifier with ``predict_proba`` (wrapped in a :class:`SklearnSurrogate` seeded by
        the run, which copes with one observed phase and failed points), or an object that
        already follows :class:`Surrogate` (used as it is).
    **wrapper_options
        Keyword arguments of :class:`SklearnSurrogate` for the wrapper of the classifier
        (``max_samples``, ``min_weight``, ``ignore_labels``).

    Raises
    ------
    InputError
        For a wrapper option :class:`SklearnSurrogate` does not take (a ``TypeError`` too), a
        name that is not a non-empty string or a factory that is not callable.

    Examples
    --------
    >>> from sklearn.svm import SVC
    >>> register_surrogate("svm", lambda: SVC(probability=True), max_samples=2000)
    >>> make_surrogate("svm").max_samples
    2000
    >>> del SURROGATES["svm"]
    """
    allowed = [p for p in inspect.signature(SklearnSurrogate).parameters
               if p not in ("estimator", "random_state")]
    unknown = sorted(set(wrapper_options) - set(allowed))
    if unknown:
        raise InputTypeError(
            f"wrapper_options of surrogate {name!r} must be among {allowed}; got {unknown}"
        )
    SURROGATES.register(name, ClassifierFactory(factory, dict(wrapper_options))
                        if wrapper_options else factory)


def make_surrogate(spec: Any = None, random_state: int | None = None) -> Surrogate:
    """Build a :class:`Surrogate` from a name, a classifier or a surrogate.

    Parameters
    ----------
    spec : None, str, scikit-learn classifier or Surrogate
        ``None``: the default (:data:`DEFAULT_SURROGATE`). A name from :data:`SURROGATES`
        (the built-ins, and any added with :func:`register_surrogate`). An unfitted
        classifier with ``predict_proba`` (wrapped in :class:`SklearnSurrogate`, which
        handles one observed phase and failed points). An object that already has ``fit``,
        ``predict_proba`` and ``classes_`` handling (a :class:`SklearnSurrogate`, your own
        class) is returned unchanged.
    random_state : int or None
        Seed for the built-in or wrapped model.

    Returns
    -------
    Surrogate

    Raises
    ------
    InputError
        For an unknown name (a ``ValueError``; the message lists :data:`SURROGATES`), or an
        object without ``fit`` and ``predict_proba`` (an ``InputTypeError``, also a
        ``TypeError``).

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
    if not isinstance(spec, str):
        return _adopt(spec, random_state, {}, fresh=False, what="surrogate")
    factory = SURROGATES[SURROGATES.check(spec, extra=_OTHER_SPECS)]
    return _adopt(factory(), random_state, getattr(factory, "wrapper_options", {}), fresh=True,
                  what=f"what the factory of surrogate {spec!r} returned")


def _adopt(model: Any, random_state: int | None, options: Any, *, fresh: bool,
           what: str) -> Surrogate:
    """``model`` as a surrogate: classifiers wrapped, surrogates as they are.

    ``fresh``: the model was just made by a factory, so a :class:`SklearnSurrogate` without a
    seed takes ``random_state`` (a user's own object is never changed).
    """
    if isinstance(model, SklearnSurrogate):
        if fresh and model.random_state is None:
            model.set_params(random_state=random_state)
        return model
    check_classifier(model, what)
    if hasattr(model, "get_params"):  # a scikit-learn estimator
        return SklearnSurrogate(model, random_state=random_state, **options)
    return model  # a user's own Surrogate
