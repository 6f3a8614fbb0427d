"""The plugin registries of the learning layer: surrogates, strategies and samplers.

A plugin registered with ``register_surrogate`` / ``register_strategy`` / ``register_sampler``
must be accepted everywhere a built-in name is (the explorer, a stored run's configuration,
the command line's settings), unknown names must be refused with the list of names, and the
registries must pickle.
"""

from __future__ import annotations

import doctest
import pickle

import numpy as np
import pytest
from scipy.stats import qmc
from sklearn.linear_model import LogisticRegression

from spinexplore import ActiveLearningExplorer, ParameterSpace, PhaseType, PointStatus
from spinexplore._registry import Registry
from spinexplore.errors import InputError
from spinexplore.execution import get_executor
from spinexplore.samplers import SAMPLERS, register_sampler, sample, unit_sample
from spinexplore.strategies import STRATEGIES, check_strategy, register_strategy, select_batch
from spinexplore.surrogates import (
    SURROGATES,
    SklearnSurrogate,
    make_estimator,
    make_surrogate,
    register_surrogate,
)

SPACE = ParameterSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)})
FM, SQ = PhaseType.FERROMAGNET, PhaseType.SINGLE_Q
CALLS: dict[str, int] = {}


@pytest.fixture(autouse=True)
def _clean_registries():
    """Every test starts and ends with the built-in plugins only."""
    saved = {id(r): list(r.items()) for r in (SURROGATES, STRATEGIES, SAMPLERS)}
    CALLS.clear()
    yield
    for registry in (SURROGATES, STRATEGIES, SAMPLERS):
        registry.clear()
        registry.update(saved[id(registry)])


PICKLE_BY_REFERENCE = True  # tests/conftest.py: this module's plugins pickle by reference


# module-level plugins, so that they pickle by reference
def logistic() -> LogisticRegression:
    CALLS["surrogate"] = CALLS.get("surrogate", 0) + 1
    return LogisticRegression()


def right_first(candidates, proba, *, n, rng):
    CALLS["strategy"] = CALLS.get("strategy", 0) + 1
    assert proba.shape[0] == candidates.shape[0]
    return candidates[:, 0]


def halton(n_dims, n, rng, *, scramble):
    CALLS["sampler"] = CALLS.get("sampler", 0) + 1
    return qmc.Halton(d=n_dims, scramble=scramble, rng=rng).random(n)


def left_right(p):
    return FM if p["x"] < 0.5 else SQ


def _register_all() -> None:
    register_surrogate("logistic", logistic, max_samples=500)
    register_strategy("right_first", right_first)
    register_sampler("halton", halton)


# ----------------------------------------------------------------------- end to end
def test_registered_plugins_run_a_small_exploration(tmp_path):
    _register_all()
    ex = ActiveLearningExplorer(SPACE, seed=1, strategy="right_first", surrogate="logistic",
                                store=tmp_path / "run.h5", verbose=False)
    ex.run(n_iterations=2, n_per_iteration=4, simulation=left_right, n_initial=8,
           initial_method="halton", n_jobs=1, progress=False,
           executor=get_executor(1, "sequential", isolate=False))  # the simulation in this process
    assert ex.n_points == 16 and (ex.status == PointStatus.DONE).all()
    assert CALLS["sampler"] == 1 and CALLS["strategy"] == 2 and CALLS["surrogate"] >= 1
    # the initial design is the registered one: a scrambled Halton set drawn from the seed
    # the learner handed to the sampler
    assert np.all(SPACE.contains(ex.X))
    # the strategy prefers large x: every proposed point lies to the right of the design
    proposed = ex.X[8:]
    assert np.all(proposed[:, 0] > np.median(ex.X[:8, 0]))
    fitted = ex.learner.fit()  # the registered model, in the wrapper with its options
    assert isinstance(fitted.estimator_, LogisticRegression) and fitted.max_samples == 500
    assert list(fitted.classes_) == [int(FM), int(SQ)]
    ex.close()
    # the stored configuration names the plugins, and a process that registered them too
    # resumes with them
    back = ActiveLearningExplorer.load(tmp_path / "run.h5", verbose=False)
    assert back.strategy == "right_first" and back.surrogate_spec == "logistic"
    back.close()


def test_registered_strategy_explores_before_the_first_fit():
    register_strategy("right_first", right_first)
    # no surrogate yet: like every built-in but "random" and "exploration", it explores
    got = select_batch("right_first", 5, n_dims=2, rng=0)
    assert got.shape == (5, 2) and "strategy" not in CALLS
    assert np.array_equal(got, select_batch("exploration", 5, n_dims=2, rng=0))


def test_registered_names_pass_the_command_line_settings():
    from spinexplore.cli._settings import _check_one

    register_strategy("right_first", right_first)
    register_sampler("halton", halton)
    assert _check_one("strategy", "right_first") == "right_first"
    assert _check_one("initial_method", "halton") == "halton"
    with pytest.raises(InputError, match=r"strategy must be one of \[.*'right_first'\]; got 'x'"):
        _check_one("strategy", "x")


# ----------------------------------------------------------------------- surrogates
def test_register_surrogate_wraps_classifiers_with_its_options():
    register_surrogate("logistic", logistic, max_samples=500)
    s = make_surrogate("logistic", random_state=4)
    assert isinstance(s, SklearnSurrogate) and s.max_samples == 500 and s.random_state == 4
    assert isinstance(s.estimator, LogisticRegression)
    assert isinstance(make_estimator("logistic"), LogisticRegression)
    assert list(SURROGATES)[-1] == "logistic"


def test_register_surrogate_returning_a_surrogate_uses_it_as_is():
    mine = SklearnSurrogate(LogisticRegression(), max_samples=64)
    register_surrogate("ready", lambda: mine)
    s = make_surrogate("ready", random_state=9)
    assert s is mine and s.random_state == 9  # a fresh surrogate without a seed takes the run's

    class Constant:  # a Surrogate of the user's own, no scikit-learn in sight
        classes_ = np.array([int(FM)])

        def fit(self, X, y, sample_weight=None):
            return self

        def predict_proba(self, X):
            return np.ones((len(X), 1))

    register_surrogate("constant", Constant)
    assert isinstance(make_surrogate("constant"), Constant)
    mine = Constant()
    assert make_surrogate(mine) is mine  # passed by value: used as it is too


def test_surrogate_plugin_errors():
    with pytest.raises(TypeError, match=r"wrapper_options of surrogate 'bad' must be among "
                                        r"\['max_samples', 'min_weight', 'ignore_labels'\]"):
        register_surrogate("bad", logistic, max_sample=3)
    with pytest.raises(InputError, match="factory for surrogate 'bad' must be callable"):
        register_surrogate("bad", "LogisticRegression")
    register_surrogate("broken", lambda: 42)
    with pytest.raises(TypeError, match="what the factory of surrogate 'broken' returned must be a "
                                        "classifier.*lacks fit and predict_proba"):
        make_surrogate("broken")


# ----------------------------------------------------------------------- strategies
def test_register_strategy_matches_passing_the_function():
    register_strategy("right_first", right_first)
    X = np.random.default_rng(0).random((40, 2))
    y = np.where(X[:, 0] < 0.5, int(FM), int(SQ))
    s = make_surrogate("knn", random_state=0).fit(X, y)
    by_name = select_batch("right_first", 6, n_dims=2, surrogate=s, X_labeled=X, y=y, rng=3)
    by_value = select_batch(right_first, 6, n_dims=2, surrogate=s, X_labeled=X, y=y, rng=3)
    np.testing.assert_array_equal(by_name, by_value)
    assert np.all(by_name[:, 0] > 0.8)
    # "uncertainty" is entropy sampling, by registry entry rather than by alias
    np.testing.assert_array_equal(
        select_batch("uncertainty", 6, n_dims=2, surrogate=s, X_labeled=X, y=y, rng=3),
        select_batch("entropy", 6, n_dims=2, surrogate=s, X_labeled=X, y=y, rng=3))


def test_register_strategy_refuses_a_non_callable():
    with pytest.raises(TypeError, match=r"of strategy 'x' must be callable.*got 3 \(int\)"):
        register_strategy("x", 3)
    with pytest.raises(InputError, match="name must be a non-empty string; got ''"):
        register_strategy("", right_first)


# ----------------------------------------------------------------------- samplers
def test_register_sampler_is_seeded_and_checked():
    register_sampler("halton", halton)
    a, b = unit_sample(3, 10, "halton", seed=5), unit_sample(3, 10, "halton", seed=5)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (10, 3) and not np.array_equal(a, unit_sample(3, 10, "halton", seed=6))
    assert sample(SPACE, 4, "halton", seed=0).shape == (4, 2)
    register_sampler("short", lambda n_dims, n, rng, *, scramble: np.zeros((n - 1, n_dims)))
    with pytest.raises(InputError, match=r"sampler 'short' must return an array of shape \(4, 2\)"):
        unit_sample(2, 4, "short")
    register_sampler("outside", lambda n_dims, n, rng, *, scramble: np.full((n, n_dims), 2.0))
    with pytest.raises(InputError, match=r"sampler 'outside' must return points of the unit cube"):
        unit_sample(2, 4, "outside")


# ----------------------------------------------------------------------- unknown names
@pytest.mark.parametrize("call, parameter", [
    (lambda: make_surrogate("svm"), "surrogate"),
    (lambda: make_estimator("svm"), "surrogate"),
    (lambda: select_batch("svm", 2, n_dims=2), "strategy"),
    (lambda: check_strategy("svm"), "strategy"),
    (lambda: sample(SPACE, 4, "svm"), "method"),
    (lambda: unit_sample(2, 4, "svm"), "method"),
    (lambda: ActiveLearningExplorer(SPACE, strategy="svm", verbose=False), "strategy"),
    (lambda: ActiveLearningExplorer(SPACE, surrogate="svm", verbose=False), "surrogate"),
    (lambda: ActiveLearningExplorer(SPACE, verbose=False).run(
        1, 2, left_right, initial_method="svm", progress=False), "initial_method"),
])
def test_unknown_names_are_input_errors_that_list_every_name(call, parameter):
    _register_all()
    with pytest.raises(InputError) as info:
        call()
    message = str(info.value)
    assert message.startswith(f"{parameter} must be one of [")
    assert message.endswith("got 'svm'")
    registry = {"surrogate": SURROGATES, "strategy": STRATEGIES}.get(parameter, SAMPLERS)
    assert all(repr(name) in message for name in registry)  # the plugins' names included


# ----------------------------------------------------------------------- pickling, docs
@pytest.mark.parametrize("registry", [SURROGATES, STRATEGIES, SAMPLERS],
                         ids=["surrogates", "strategies", "samplers"])
def test_registries_pickle_with_their_plugins(registry):
    _register_all()
    back = pickle.loads(pickle.dumps(registry))
    assert isinstance(back, Registry) and back.kind == registry.kind
    assert list(back) == list(registry) and back == registry


def test_docstring_examples_of_the_registries():
    import spinexplore.samplers
    import spinexplore.strategies.registry
    import spinexplore.surrogates.registry

    for module in (spinexplore.surrogates.registry, spinexplore.samplers, spinexplore.strategies.registry):
        failed, tried = doctest.testmod(module)
        assert tried > 0 and failed == 0, module.__name__


# ---------------------------------------------------------------------------- one shape for the four kinds

def test_the_four_plugin_kinds_have_one_shape():
    """Each kind is a package with ``base.py`` (what a plugin is) and ``registry.py`` (its
    Registry, listed by ``names()``)."""
    import importlib

    from spinexplore.execution import BACKENDS

    for package, registry in (("execution", BACKENDS), ("surrogates", SURROGATES),
                              ("strategies", STRATEGIES), ("samplers", SAMPLERS)):
        importlib.import_module(f"spinexplore.{package}.base")
        module = importlib.import_module(f"spinexplore.{package}.registry")
        assert isinstance(registry, Registry) and registry.names() == list(registry) and registry.names()
        assert any(value is registry for value in vars(module).values()), package


def test_a_plugin_that_needs_a_missing_module_is_refused_with_the_install_line(monkeypatch):
    shapes = Registry("shape", {"circle": dict, "cloud": dict},
                      requires={"cloud": (("not_a_module_spinexplore",), "clouds")})
    shapes.register("sky", list, requires=["json"])
    assert shapes.check_available("circle") == "circle" and shapes.create("sky") == []
    assert shapes.missing("cloud") == ["not_a_module_spinexplore"] and shapes.missing("sky") == []
    with pytest.raises(ImportError, match=r"the 'cloud' shape needs not_a_module_spinexplore: "
                                          r"pip install spinexplore\[clouds\]"):
        shapes.create("cloud")
    with pytest.raises(InputError, match=r"shape must be one of \['circle', 'cloud', 'sky'\]; got 'hexagon'"):
        shapes.check_available("hexagon")
    with pytest.raises(TypeError, match="requires of shape 'box' must be a sequence of module names; got 'json'"):
        shapes.register("box", list, requires="json")
    back = pickle.loads(pickle.dumps(shapes))
    assert back.requires == shapes.requires and back.missing("cloud") == ["not_a_module_spinexplore"]
    shapes.register("cloud", dict)  # registered again without requirements
    assert shapes.missing("cloud") == [] and "cloud" not in shapes.requires
    shapes.pop("sky")
    assert "sky" not in shapes.requires


def test_the_command_line_reads_the_backends_optional_dependency_from_the_registry(monkeypatch):
    from spinexplore.cli._settings import CLIError, _check_backend
    from spinexplore.execution import BACKENDS, register_executor

    register_executor("cloudy", lambda n_jobs, **o: None, requires=("not_a_module_spinexplore",), extra="cloud")
    try:
        with pytest.raises(CLIError, match=r"--backend: the 'cloudy' backend needs not_a_module_spinexplore: "
                                           r"pip install spinexplore\[cloud\]"):
            _check_backend({"backend": "cloudy"}, {"backend": "--backend"})
    finally:
        del BACKENDS["cloudy"]
    assert "cloudy" not in BACKENDS.requires
    monkeypatch.setitem(__import__("sys").modules, "distributed", None)
    with pytest.raises(CLIError, match=r"the 'dask' backend needs distributed: pip install spinexplore\[dask\]"):
        _check_backend({"backend": "dask"}, {})
    _check_backend({"backend": None}, {})  # the default needs nothing
