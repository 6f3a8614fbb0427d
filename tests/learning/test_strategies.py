from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist, pdist
from scipy.special import expit

from spinexplore.results import PhaseType
from spinexplore.strategies import (
    DEFAULT_STRATEGY,
    STRATEGIES,
    check_strategy,
    convergence_metrics,
    entropy,
    least_confidence,
    margin,
    reference_points,
    select_batch,
)
from spinexplore.strategies.balanced import ball_radius
from spinexplore.surrogates import make_surrogate

FM, SQ = int(PhaseType.FERROMAGNET), int(PhaseType.SINGLE_Q)


class StepSurrogate:
    """Analytic surrogate: P(SQ) = sigmoid((x0 - edge) / width)."""

    def __init__(self, edge=0.3, width=0.02):
        self.edge, self.width = edge, width
        self.classes_ = np.array([FM, SQ])

    def fit(self, X, y, sample_weight=None):
        return self

    def predict_proba(self, X):
        p = expit((np.asarray(X)[:, 0] - self.edge) / self.width)
        return np.column_stack([1 - p, p])


def _labeled(m, d, seed=0, edge=0.5):
    X = np.random.default_rng(seed).random((m, d))
    return X, np.where(X[:, 0] < edge, FM, SQ)


def _check_batch(B, n, d, *known):
    assert B.shape == (n, d)
    assert np.all((B >= 0) & (B <= 1))
    if n > 1:
        assert pdist(B).min() >= 1e-6
    for K in known:
        if len(K):
            assert cdist(B, K).min() >= 1e-6


@settings(max_examples=20, deadline=None)
@given(strategy=st.sampled_from(STRATEGIES), d=st.integers(1, 6), n=st.integers(1, 12),
       m=st.integers(0, 40), p=st.integers(0, 10), f=st.integers(0, 5),
       seed=st.integers(0, 1000), fitted=st.booleans())
def test_batches_are_valid_for_every_strategy(strategy, d, n, m, p, f, seed, fitted):
    rng = np.random.default_rng(seed)
    X, y = _labeled(m, d, seed)
    Xp, Xf = rng.random((p, d)), rng.random((f, d))
    sur = make_surrogate("knn").fit(X, y) if fitted and m > 0 else None
    B = select_batch(strategy, n, n_dims=d, surrogate=sur, X_labeled=X, y=y, X_pending=Xp,
                     X_failed=Xf, rng=rng)
    _check_batch(B, n, d, X, Xp, Xf)


def test_pending_and_finished_points_are_never_reproposed_even_when_dense():
    # a 6-D cloud of 3000 finished points and 500 pending ones: still valid, new points
    X, y = _labeled(3000, 6, 1)
    Xp = np.random.default_rng(2).random((500, 6))
    sur = make_surrogate("knn").fit(X, y)
    for strategy in ("balanced", "uncertainty", "boundary", "exploration"):
        B = select_batch(strategy, 20, n_dims=6, surrogate=sur, X_labeled=X, y=y, X_pending=Xp,
                         rng=0)
        _check_batch(B, 20, 6, X, Xp)


def test_candidate_pool_does_not_grow_like_a_grid():
    from spinexplore.strategies.batch import local_candidates, sobol_pool

    rng = np.random.default_rng(0)
    assert sobol_pool(6, rng).shape == (4096, 6)
    X, y = _labeled(2000, 6)
    assert local_candidates(X, y, rng)[0].shape[0] <= 2048


@pytest.mark.parametrize("strategy", ["uncertainty", "entropy", "margin", "least_confidence",
                                      "balanced"])
def test_uncertainty_strategies_sample_where_the_surrogate_is_unsure(strategy):
    X, y = _labeled(60, 2, edge=0.3)
    B = select_batch(strategy, 10, n_dims=2, surrogate=StepSurrogate(0.3, 0.02), X_labeled=X,
                     y=y, rng=0, explore_fraction=0.0)
    # |p - 1/2| > 0.45 beyond 0.06 from the edge: every chosen point lies within it
    assert np.all(np.abs(B[:, 0] - 0.3) < 0.07)
    # ... and the batch spreads along the edge instead of piling up
    assert np.ptp(B[:, 1]) > 0.5


def test_boundary_strategy_bisects_between_different_labels():
    X, y = _labeled(80, 2, edge=0.6)
    B = select_batch("boundary", 8, n_dims=2, surrogate=StepSurrogate(0.6), X_labeled=X, y=y,
                     rng=0)
    # a midpoint of a discordant pair of k-nearest neighbours lies within one neighbour
    # distance (< 0.25 for 80 points) of the edge
    assert np.all(np.abs(B[:, 0] - 0.6) < 0.25)
    assert np.mean(np.abs(B[:, 0] - 0.6) < 0.1) >= 0.75


def test_exploration_fills_the_empty_half():
    g = (np.arange(10) + 0.5) / 10
    X = np.array([(a * 0.5, b) for a in g for b in g])  # left half covered
    y = np.full(len(X), FM)
    B = select_batch("exploration", 6, n_dims=2, surrogate=None, X_labeled=X, y=y, rng=0)
    assert np.all(B[:, 0] > 0.5)
    # greedy maximin: the batch keeps a distance comparable to the empty half's size
    assert pdist(B).min() > 0.15


def test_without_surrogate_every_strategy_explores():
    X = np.array([[0.1, 0.1], [0.15, 0.12]])
    for strategy in STRATEGIES:
        if strategy == "random":
            continue
        B = select_batch(strategy, 3, n_dims=2, surrogate=None, X_labeled=X, y=[FM, FM], rng=0)
        assert cdist(B, X).min() > 0.3


def test_balanced_explores_while_an_island_could_hide():
    # one observed boundary; the rest of the box empty: half the batch goes far away
    X, y = _labeled(30, 2, edge=0.3)
    X = X * [1.0, 0.3]  # all labeled points in the bottom strip
    B = select_batch("balanced", 10, n_dims=2, surrogate=StepSurrogate(0.3, 0.01), X_labeled=X,
                     y=y, rng=0)
    far = cdist(B, X).min(axis=1) > ball_radius(0.01, 2)
    assert far.sum() >= 4


def test_random_strategy_is_uniform():
    B = select_batch("random", 2000, n_dims=2, rng=0)
    counts = np.histogram2d(B[:, 0], B[:, 1], bins=4, range=[[0, 1], [0, 1]])[0]
    # 125 expected per cell; 5 sigma of a binomial count is ~54
    assert np.all(np.abs(counts - 125) < 54)


def test_same_rng_same_batch():
    X, y = _labeled(40, 3)
    sur = make_surrogate("knn").fit(X, y)
    a = select_batch("balanced", 7, n_dims=3, surrogate=sur, X_labeled=X, y=y, rng=5)
    b = select_batch("balanced", 7, n_dims=3, surrogate=sur, X_labeled=X, y=y, rng=5)
    np.testing.assert_array_equal(a, b)


def test_custom_strategy_scores_and_indices():
    X, y = _labeled(40, 2, edge=0.3)
    sur = StepSurrogate(0.3)

    def prefer_right(candidates, proba, *, n, rng):
        assert proba.shape == (len(candidates), 2)
        return candidates[:, 0]

    B = select_batch(prefer_right, 5, n_dims=2, surrogate=sur, X_labeled=X, y=y, rng=0)
    assert np.all(B[:, 0] > 0.8)

    def first_three(candidates, proba, *, n, rng):
        return np.array([0, 1, 2])

    B = select_batch(first_three, 5, n_dims=2, surrogate=sur, X_labeled=X, y=y, rng=0)
    _check_batch(B, 5, 2, X)
    assert check_strategy(prefer_right) is prefer_right


def test_custom_strategy_bad_output():
    X, y = _labeled(40, 2)
    with pytest.raises(ValueError, match="custom strategy must return"):
        select_batch(lambda c, p, *, n, rng: np.ones(3), 2, n_dims=2,
                     surrogate=StepSurrogate(), X_labeled=X, y=y, rng=0)


@pytest.mark.parametrize("bad", ["greedy", "", None, 3])
def test_unknown_strategy_lists_allowed(bad):
    with pytest.raises(ValueError, match=r"strategy must be one of \['balanced', 'uncertainty'"):
        select_batch(bad, 3, n_dims=2)


@pytest.mark.parametrize("n", [0, -1])
def test_n_must_be_positive(n):
    with pytest.raises(ValueError, match=rf"n must be >= 1; got {n}"):
        select_batch("balanced", n, n_dims=2)


def test_zero_dimensions_and_bad_shapes():
    with pytest.raises(ValueError, match="n_dims must be >= 1; got 0"):
        select_batch("balanced", 3, n_dims=0)
    with pytest.raises(ValueError, match=r"X_labeled must have shape \(n_points, 2\)"):
        select_batch("balanced", 3, n_dims=2, X_labeled=np.zeros((4, 3)), y=np.zeros(4))
    with pytest.raises(ValueError, match="y must have one label per row of X_labeled"):
        select_batch("balanced", 3, n_dims=2, X_labeled=np.zeros((4, 2)), y=np.zeros(3))


def test_default_is_balanced():
    assert DEFAULT_STRATEGY == "balanced" and check_strategy("balanced") == "balanced"


def test_uncertainty_measures_known_values():
    p = np.array([[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0.0]])
    np.testing.assert_allclose(entropy(p), [0.0, 1.0, math.log(2) / math.log(3)])
    np.testing.assert_allclose(margin(p), [0.0, 1.0, 1.0])
    np.testing.assert_allclose(least_confidence(p), [0.0, 1.0, 0.75])
    assert np.all(entropy(np.ones((3, 1))) == 0)


def test_ball_radius_matches_known_volumes():
    assert ball_radius(0.01, 2) == pytest.approx(math.sqrt(0.01 / math.pi))
    assert ball_radius(0.01, 3) == pytest.approx((0.03 / (4 * math.pi)) ** (1 / 3))


# ----------------------------------------------------------------------- convergence
def test_convergence_first_call_then_changed_fraction_of_a_moving_edge():
    m, labels = convergence_metrics(StepSurrogate(0.3, 1e-4), None, n_dims=2)
    assert math.isnan(m["changed_fraction"])
    m2, labels2 = convergence_metrics(StepSurrogate(0.5, 1e-4), labels, n_dims=2)
    # the edge moved from x=0.3 to x=0.5: 20 % of the box changed phase
    assert m2["changed_fraction"] == pytest.approx(0.2, abs=0.01)
    m3, _ = convergence_metrics(StepSurrogate(0.5, 1e-4), labels2, n_dims=2)
    assert m3["changed_fraction"] == 0.0


def test_mean_uncertainty_is_the_expected_error_fraction():
    class Flat:
        classes_ = np.array([FM, SQ])

        def predict_proba(self, X):
            return np.tile([0.7, 0.3], (len(X), 1))

    m, labels = convergence_metrics(Flat(), None, n_dims=3)
    assert m["mean_uncertainty"] == pytest.approx(0.3)
    assert np.all(labels == FM)
    one = make_surrogate("knn").fit(np.random.default_rng(0).random((5, 3)), np.full(5, SQ))
    assert convergence_metrics(one, labels, n_dims=3)[0] == {"changed_fraction": 1.0,
                                                              "mean_uncertainty": 0.0}


def test_reference_set_is_fixed_and_read_only():
    a, b = reference_points(4), reference_points(4)
    assert a.shape == (4096, 4) and np.array_equal(a, b) and not a.flags.writeable
    with pytest.raises(ValueError, match="previous_labels must have shape"):
        convergence_metrics(StepSurrogate(), np.zeros(3), n_dims=2)


def test_failed_labels_in_y_are_avoided_not_learned():
    X, y = _labeled(30, 2)
    y = y.copy()
    y[:10] = int(PhaseType.FAILED)
    B = select_batch("boundary", 5, n_dims=2, surrogate=StepSurrogate(0.5), X_labeled=X, y=y,
                     rng=0)
    _check_batch(B, 5, 2, X)


@pytest.mark.parametrize("kw,msg", [({"explore_fraction": 1.5}, "explore_fraction must be <= 1"),
                                    ({"island_volume": 0.0}, "island_volume must be > 0")])
def test_bad_balance_options(kw, msg):
    with pytest.raises(ValueError, match=msg):
        select_batch("balanced", 2, n_dims=2, **kw)
