"""The surrogate registry: the built-in models in ``SURROGATES``, :func:`register_surrogate`
and :func:`make_surrogate` (a surrogate from a name, a classifier or a surrogate).

A factory takes no arguments and returns a fresh, unfitted model: a scikit-learn classifier
(``make_surrogate`` wraps it in a ``SklearnSurrogate``) or a ready ``Surrogate``. The top of
the package: it imports the models and the wrapper, none of which imports it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from spinexplore._validation import InputTypeError
from spinexplore.surrogates._kernel import KernelPhaseClassifier
from spinexplore.surrogates._label_spreading import PoolLabelSpreading
from spinexplore.surrogates._scaled import ScaledPhaseClassifier
from spinexplore.surrogates._sklearn import SklearnSurrogate, check_classifier
from spinexplore.surrogates.base import DEFAULT_SURROGATE, SURROGATES, Surrogate

__all__ = ["DEFAULT_SURROGATE", "SURROGATES", "ClassifierFactory", "make_estimator", "make_surrogate",
           "register_surrogate"]


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


#: The built-in surrogates, in the order the documentation lists them.
for _name, _factory in {
    "kernel": KernelPhaseClassifier,
    # GP classification is O(n^3): fitted on <= 200 points, boundary points first
    "gp": ClassifierFactory(_gaussian_process, {"max_samples": 200}),
    "random_forest": _random_forest,
    "extra_trees": _extra_trees,
    "knn": _nearest_neighbours,
    "label_spreading": PoolLabelSpreading,
    "auto": ScaledPhaseClassifier,
}.items():
    SURROGATES.register(_name, _factory)


def make_estimator(name: str) -> Any:
    """A fresh, unfitted model for the surrogate ``name``: what its factory returns.

    For the built-in names, a scikit-learn classifier. Raises
    :class:`~spinexplore.errors.InputError` (a ``ValueError``) listing :data:`SURROGATES` for
    an unknown name.
    """
    return SURROGATES.create(name)


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
