from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC
from sklearn.utils.estimator_checks import parametrize_with_checks

from spinexplore.results import PhaseType
from spinexplore.surrogates import (
    DEFAULT_SURROGATE,
    SURROGATES,
    KernelPhaseClassifier,
    ScaledPhaseClassifier,
    SklearnSurrogate,
    Surrogate,
    boundary_subsample,
    make_surrogate,
)

FM, SQ, SK = int(PhaseType.FERROMAGNET), int(PhaseType.SINGLE_Q), int(PhaseType.SKYRMION)
FAILED, TIMEOUT = int(PhaseType.FAILED), int(PhaseType.TIMEOUT)


def _halves(n=200, seed=0, d=2):
    X = np.random.default_rng(seed).random((n, d))
    return X, np.where(X[:, 0] < 0.5, FM, SQ)


def _expected_failures(estimator):
    # Weights are label *confidences* here (noise / w on the kernel diagonal), not
    # repetition counts, so fitting with weight 2 is by design not the same as a duplicate.
    # Models without sample_weight (GP, label spreading) get confidences by leaving out
    # low-weight points, which is not equivalent to repetition either.
    if isinstance(estimator, (KernelPhaseClassifier, ScaledPhaseClassifier)) or (
        isinstance(estimator, SklearnSurrogate)
        and (estimator.estimator is None or isinstance(estimator.estimator, str))
    ):
        why = "sample_weight is a label confidence, not a repetition count"
        return {"check_sample_weight_equivalence_on_dense_data": why}
    return {}


@parametrize_with_checks(
    [SklearnSurrogate(), SklearnSurrogate(LogisticRegression())],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_conformance(estimator, check):
    check(estimator)


@pytest.mark.slow
@parametrize_with_checks(
    [KernelPhaseClassifier(), ScaledPhaseClassifier(switch_at=20, max_samples=200),
     SklearnSurrogate("label_spreading"), SklearnSurrogate("gp")],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_conformance_of_other_models(estimator, check):
    check(estimator)


@pytest.mark.parametrize("name", SURROGATES)
def test_every_builtin_learns_two_halves(name):
    X, y = _halves(120)
    s = make_surrogate(name, random_state=0).fit(X, y)
    assert isinstance(s, Surrogate)
    Xt, yt = _halves(400, seed=1)
    proba = s.predict_proba(Xt)
    assert proba.shape == (400, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.mean(s.classes_[proba.argmax(1)] == yt) > 0.93
    assert list(s.classes_) == [FM, SQ]


@pytest.mark.parametrize("name", SURROGATES)
def test_one_observed_phase_gives_certainty(name):
    X = np.random.default_rng(0).random((7, 3))
    s = make_surrogate(name).fit(X, np.full(7, SK))
    assert list(s.classes_) == [SK]
    np.testing.assert_array_equal(s.predict_proba(np.random.default_rng(1).random((5, 3))),
                                  np.ones((5, 1)))


def test_failed_and_timeout_points_are_ignored_but_remembered():
    X, y = _halves(60)
    y = y.copy()
    y[:5] = FAILED
    y[5:8] = TIMEOUT
    s = make_surrogate("knn").fit(X, y)
    assert list(s.classes_) == [FM, SQ]
    np.testing.assert_array_equal(s.ignored_X_, X[:8])
    assert s.predict_proba(X).shape == (60, 2)


def test_all_points_failed():
    X = np.random.default_rng(0).random((4, 2))
    s = SklearnSurrogate().fit(X, [FAILED, TIMEOUT, FAILED, FAILED])
    assert s.classes_.size == 0
    assert s.predict_proba(X).shape == (4, 0)
    assert np.all(s.predict(X) == int(PhaseType.UNKNOWN))


def test_kernel_reverts_to_uniform_far_from_data():
    # The prior mean is 1/k for every phase: at distance >> length scale, p -> 1/k.
    X = np.array([[0.0, 0.0], [0.05, 0.0], [0.0, 0.05]])
    m = KernelPhaseClassifier(length_scale=0.05).fit(X, [FM, SQ, SK])
    np.testing.assert_allclose(m.predict_proba([[1.0, 1.0]]), [[1 / 3, 1 / 3, 1 / 3]], atol=1e-6)


def test_kernel_interpolates_labels_at_training_points():
    X, y = _halves(50)
    m = KernelPhaseClassifier(length_scale=0.1, noise=1e-4).fit(X, y)
    np.testing.assert_array_equal(m.predict(X), y)


def test_confidence_weights_lower_the_pull_of_a_doubtful_label():
    X, y = _halves(150)
    outlier = np.array([[0.2, 0.5]])  # deep inside the FM half, labelled SQ
    Xo, yo = np.vstack([X, outlier]), np.append(y, SQ)
    w = np.ones(len(yo))
    s_full = SklearnSurrogate(KernelPhaseClassifier(length_scale=0.05, noise=1e-3)).fit(Xo, yo, w)
    w[-1] = 1e-3
    s_weak = SklearnSurrogate(KernelPhaseClassifier(length_scale=0.05, noise=1e-3)).fit(Xo, yo, w)
    assert s_full.predict(outlier)[0] == SQ
    assert s_weak.predict(outlier)[0] == FM


def test_weights_for_estimator_without_sample_weight_drop_doubtful_points():
    X, y = _halves(80)
    Xo, yo = np.vstack([X, [[0.2, 0.5]]]), np.append(y, SQ)
    w = np.ones(len(yo))
    w[-1] = 0.1  # below min_weight=0.5 -> left out
    from sklearn.neighbors import KNeighborsClassifier

    s = SklearnSurrogate(KNeighborsClassifier(n_neighbors=1)).fit(Xo, yo, sample_weight=w)
    assert s.predict([[0.2, 0.5]])[0] == FM


def test_max_samples_caps_the_training_set_and_keeps_boundary_points():
    X, y = _halves(3000, d=3)
    s = SklearnSurrogate(KernelPhaseClassifier(), max_samples=300, random_state=0).fit(X, y)
    assert s.estimator_.X_fit_.shape[0] <= 300
    idx = boundary_subsample(X, y, 300, np.random.default_rng(0))
    assert idx.size == 300 and np.unique(idx).size == 300
    # points within 0.05 of the boundary x=0.5 are ~10 % of the data but get ~3/4 of the budget
    assert np.mean(np.abs(X[idx, 0] - 0.5) < 0.1) > 0.5


def test_unfitted_raises_not_fitted():
    with pytest.raises(NotFittedError):
        SklearnSurrogate().predict_proba([[0.1, 0.2]])


def test_make_surrogate_specs():
    assert isinstance(make_surrogate(), SklearnSurrogate)
    assert make_surrogate(None).estimator.__class__ is make_surrogate(DEFAULT_SURROGATE).estimator.__class__
    wrapped = make_surrogate(LogisticRegression(), random_state=3)
    assert isinstance(wrapped, SklearnSurrogate) and wrapped.random_state == 3
    mine = SklearnSurrogate()
    assert make_surrogate(mine) is mine


def test_unknown_name_lists_allowed():
    with pytest.raises(ValueError, match=r"surrogate must be one of \['kernel', 'gp'"):
        make_surrogate("xgboost")


def test_estimator_without_predict_proba_is_a_type_error():
    with pytest.raises(TypeError, match=r"must be a classifier with fit and predict_proba.*lacks predict_proba"):
        make_surrogate(SVC())
    with pytest.raises(TypeError, match="lacks fit and predict_proba"):
        make_surrogate(object())
    with pytest.raises(TypeError, match="lacks predict_proba"):
        SklearnSurrogate(SVC()).fit([[0.0], [1.0]], [0, 1])


def test_bad_max_samples():
    with pytest.raises(ValueError, match="max_samples must be an integer >= 2 or None; got 1"):
        SklearnSurrogate(max_samples=1).fit([[0.0], [1.0]], [0, 1])


def test_all_zero_weights_are_rejected():
    with pytest.raises(ValueError, match="sample_weight must contain at least one positive weight"):
        SklearnSurrogate().fit([[0.0], [1.0]], [0, 1], sample_weight=[0.0, 0.0])


@pytest.mark.parametrize("kw,msg", [({"length_scale": "big"}, "length_scale must be 'auto'"),
                                    ({"length_scale": -1.0}, "length_scale must be 'auto'"),
                                    ({"noise": 0.0}, "noise must be a number > 0"),
                                    ({"nu": 3.0}, "nu must be 0.5, 1.5, 2.5 or inf")])
def test_kernel_bad_parameters(kw, msg):
    with pytest.raises(ValueError, match=msg):
        KernelPhaseClassifier(**kw).fit([[0.0], [1.0]], [0, 1])


def test_auto_is_the_kernel_for_small_runs_and_trees_beyond():
    from sklearn.ensemble import ExtraTreesClassifier

    X, y = _halves(300, d=3)
    s = make_surrogate("auto", random_state=0).fit(X, y)
    assert DEFAULT_SURROGATE == "auto"
    assert isinstance(s.estimator_.estimator_, KernelPhaseClassifier)
    small = ScaledPhaseClassifier(switch_at=100, max_samples=150, random_state=0).fit(X, y)
    assert isinstance(small.estimator_, ExtraTreesClassifier)
    assert small.estimator_.n_estimators == 50
    Xt, yt = _halves(400, seed=1, d=3)
    assert np.mean(small.predict(Xt) == yt) > 0.93


def test_auto_keeps_a_class_the_subsample_lost():
    X, y = _halves(400)
    y = y.copy()
    y[0] = SK  # one lone point of a third phase, likely left out of a subsample of 20
    s = ScaledPhaseClassifier(switch_at=10, max_samples=20, random_state=1).fit(X, y)
    proba = s.predict_proba(X[:5])
    assert list(s.classes_) == sorted([FM, SQ, SK]) and proba.shape == (5, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


@pytest.mark.parametrize("kw,msg", [({"switch_at": 1}, "switch_at must be an integer >= 2"),
                                    ({"max_samples": 2.5}, "max_samples must be an integer")])
def test_auto_bad_parameters(kw, msg):
    with pytest.raises(ValueError, match=msg):
        ScaledPhaseClassifier(**kw).fit([[0.0], [1.0]], [0, 1])
