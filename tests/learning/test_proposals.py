"""Proposals at scale: the cached proposal context, lazy selection and their invariants."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist, pdist
from sklearn.base import clone

from spinexplore.results import PhaseType
from spinexplore.strategies import prepare, select_batch
from spinexplore.strategies._context import ProposalContext, context_for
from spinexplore.strategies._select import Distances, fill_distance, lazy_farthest, lazy_spread
from spinexplore.strategies.base import R_BATCH, R_KNOWN
from spinexplore.strategies.batch import (
    MIN_SEPARATION,
    farthest_points,
    greedy_spread,
    nearest_distance,
    spacing,
)
from spinexplore.surrogates import SklearnSurrogate, boundary_subsample, make_surrogate

FM, SQ, SK = int(PhaseType.FERROMAGNET), int(PhaseType.SINGLE_Q), int(PhaseType.SKYRMION)
FAILED = int(PhaseType.FAILED)


def _truth(X):
    lab = np.where(X[:, 0] + 0.2 * np.sin(5 * X[:, -1]) < 0.5, FM, SQ)
    lab[np.sum((X - 0.7) ** 2, axis=1) < 0.03] = SK
    return lab


def _data(m, d, seed=0):
    X = np.random.default_rng(seed).random((m, d))
    return X, _truth(X)


class Plain:
    """A user's surrogate that does not remember its training set (no caching)."""

    def __init__(self, inner):
        self.inner = inner
        self.classes_ = inner.classes_

    def fit(self, X, y, sample_weight=None):
        return self

    def predict_proba(self, X):
        return self.inner.predict_proba(X)


def _assert_valid(B, n, d, known, r=MIN_SEPARATION):
    assert B.shape == (n, d)
    assert np.all((B >= 0.0) & (B <= 1.0))
    if n > 1:
        assert pdist(B).min() >= MIN_SEPARATION
    if len(known):
        assert cdist(B, known).min() >= r


@settings(max_examples=25, deadline=None)
@given(d=st.integers(1, 4), m=st.integers(12, 300), n_new=st.integers(0, 20),
       p=st.integers(0, 60), f=st.integers(0, 5), n=st.integers(1, 8),
       strategy=st.sampled_from(["balanced", "uncertainty", "margin", "boundary",
                                 "exploration", "random"]),
       insert=st.booleans(), seed=st.integers(0, 10_000))
def test_async_calls_keep_every_invariant(d, m, n_new, p, f, n, strategy, insert, seed):
    # the surrogate was fitted on m points; since then n_new more finished (appended, or
    # inserted near the end as out-of-order completions), p are in flight, f failed
    rng = np.random.default_rng(seed)
    X, y = _data(m + n_new, d, seed)
    sur = make_surrogate("knn", random_state=0).fit(X[:m], y[:m])
    order = np.arange(m + n_new)
    if insert and n_new:
        order = np.concatenate([order[: m - 3], order[m:], order[m - 3: m]])
    Xl, yl = X[order], y[order]
    Xp, Xf = rng.random((p, d)), rng.random((f, d))
    B = select_batch(strategy, n, n_dims=d, surrogate=sur, X_labeled=Xl, y=yl, X_pending=Xp,
                     X_failed=Xf, rng=seed)
    # the exclusion radius of the scored strategies; random points only avoid duplicates
    h = spacing(len(Xl) + p + f + n, d)
    _assert_valid(B, n, d, np.vstack([Xl, Xp, Xf]),
                  MIN_SEPARATION if strategy == "random" else R_KNOWN * h)
    again = select_batch(strategy, n, n_dims=d, surrogate=sur, X_labeled=Xl, y=yl,
                         X_pending=Xp, X_failed=Xf, rng=seed)
    np.testing.assert_array_equal(B, again)


def test_a_stream_of_single_proposals_never_repeats_and_keeps_its_distance():
    # the asynchronous runner: one point per completion, everything in flight pending
    d = 2
    X, y = _data(250, d)
    sur = make_surrogate("kernel", random_state=0).fit(X, y)
    pending = np.empty((0, d))
    rng = np.random.default_rng(1)
    for _ in range(100):
        B = select_batch("balanced", 1, n_dims=d, surrogate=sur, X_labeled=X, y=y,
                         X_pending=pending, rng=rng)
        h = spacing(len(X) + len(pending) + 1, d)
        _assert_valid(B, 1, d, np.vstack([X, pending]), R_KNOWN * h)
        pending = np.vstack([pending, B])
    # points in flight count as members of the batch: one-at-a-time proposals keep the
    # batch spacing between them, as one batch of 100 would
    assert pdist(pending).min() >= R_BATCH * spacing(len(X) + len(pending), d)


def test_the_cache_changes_nothing():
    # the context of a surrogate that remembers its data is the one built from the call
    X, y = _data(500, 3)
    sur = make_surrogate("knn", random_state=0).fit(X, y)
    Xp = np.random.default_rng(3).random((40, 3))
    for strategy in ("balanced", "margin", "boundary", "exploration"):
        a = select_batch(strategy, 6, n_dims=3, surrogate=sur, X_labeled=X, y=y, X_pending=Xp,
                         rng=7)
        b = select_batch(strategy, 6, n_dims=3, surrogate=Plain(sur), X_labeled=X, y=y,
                         X_pending=Xp, rng=7)
        np.testing.assert_array_equal(a, b)


def test_same_rng_same_batch_whatever_was_asked_before():
    X, y = _data(300, 2)
    sur = make_surrogate("knn").fit(X, y)
    first = select_batch("balanced", 5, n_dims=2, surrogate=sur, X_labeled=X, y=y, rng=11)
    select_batch("balanced", 3, n_dims=2, surrogate=sur, X_labeled=X, y=y, rng=2)
    again = select_batch("balanced", 5, n_dims=2, surrogate=sur, X_labeled=X, y=y, rng=11)
    np.testing.assert_array_equal(first, again)
    refit = clone(sur).fit(X, y)  # a fresh fit on the same data: the same proposals
    np.testing.assert_array_equal(
        first, select_batch("balanced", 5, n_dims=2, surrogate=refit, X_labeled=X, y=y, rng=11))


def test_points_labelled_since_the_fit_are_found_in_any_order():
    X, y = _data(200, 2)
    ctx = ProposalContext(None, X[:150], y[:150], X[:0], 2)
    np.testing.assert_array_equal(ctx.new_labelled(X), X[150:])
    late = np.concatenate([np.arange(140), np.arange(150, 200), np.arange(140, 150)])
    np.testing.assert_array_equal(ctx.new_labelled(X[late]), X[150:])
    shuffled = np.random.default_rng(0).permutation(200)
    got = ctx.new_labelled(X[shuffled])
    assert sorted(map(tuple, got)) == sorted(map(tuple, X[150:]))
    assert ctx.new_labelled(X[:150]).shape == (0, 2)


@settings(max_examples=20, deadline=None)
@given(m=st.integers(5, 400), p=st.integers(0, 300), n=st.integers(1, 12),
       d=st.integers(1, 4), seed=st.integers(0, 10_000))
def test_lazy_selection_equals_the_full_computation(m, p, n, d, seed):
    rng = np.random.default_rng(seed)
    X, y = _data(m, d, seed)
    sur = make_surrogate("knn").fit(X, y)
    ctx = ProposalContext(sur, X, y, X[:0], d)
    delta = rng.random((p, d))
    dist = Distances(ctx, delta)
    known = np.vstack([X, delta])
    d_full = nearest_distance(ctx.cand, known)
    np.testing.assert_array_equal(dist.of(np.arange(len(ctx.cand))), d_full)
    h = spacing(len(known) + n, d)
    if ctx.proba is not None:
        u = ctx.measure("margin")
        full_scores = u + 0.05 * np.minimum(d_full / h, 1.0)
        want = greedy_spread(ctx.cand, full_scores, n, known, R_KNOWN * h, R_BATCH * h)
        got = lazy_spread(Distances(ctx, delta), np.arange(len(ctx.cand)), u, h, n,
                          R_KNOWN * h, R_BATCH * h, [])
        # equal scores may be taken in another order; the scores taken are the same
        np.testing.assert_allclose(np.sort(full_scores[got]), np.sort(full_scores[want]))
    pool = ctx.cand[: ctx.n_pool]
    np.testing.assert_array_equal(lazy_farthest(Distances(ctx, delta), n, [], R_KNOWN * h),
                                  farthest_points(pool, n, known, R_KNOWN * h))
    assert fill_distance(Distances(ctx, delta)) == np.max(nearest_distance(pool, known))


def test_failed_points_of_the_fit_are_kept_away_from():
    X, y = _data(200, 2)
    y = y.copy()
    y[:20] = FAILED
    sur = make_surrogate("knn").fit(X, y)
    assert prepare(sur)
    B = select_batch("exploration", 30, n_dims=2, surrogate=sur, X_labeled=X[20:], y=y[20:],
                     rng=0)
    assert cdist(B, X[:20]).min() >= R_KNOWN * spacing(200, 2)


def test_prepare_caches_per_fit_and_refuses_a_plain_surrogate():
    X, y = _data(300, 2)
    sur = make_surrogate("knn").fit(X, y)
    assert prepare(sur)
    ctx = context_for(sur, 2, X, y)
    assert context_for(sur, 2, X, y) is ctx
    sur.fit(X[:200], y[:200])  # refitted in place: a new context
    assert context_for(sur, 2, X, y) is not ctx
    assert not prepare(Plain(sur))


def test_a_clone_fits_in_a_thread_while_the_other_instance_proposes():
    X, y = _data(400, 3)
    live = make_surrogate("kernel", random_state=0).fit(X[:250], y[:250])
    expected = select_batch("balanced", 4, n_dims=3, surrogate=live, X_labeled=X[:250],
                            y=y[:250], rng=0)
    fresh = clone(live)
    assert not hasattr(fresh, "fit_id_") and repr(fresh) == repr(live)
    errors: list[BaseException] = []

    def refit():
        try:
            fresh.fit(X, y)
            prepare(fresh)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    worker = threading.Thread(target=refit)
    worker.start()
    for _ in range(20):  # proposals while (at least at first) the clone is being fitted
        got = select_batch("balanced", 4, n_dims=3, surrogate=live, X_labeled=X[:250],
                           y=y[:250], rng=0)
        np.testing.assert_array_equal(got, expected)
    worker.join()
    assert not errors
    assert fresh.fit_id_ != live.fit_id_ and fresh.X_seen_.shape == (400, 3)


def test_fit_remembers_its_data_and_numbers_each_fit():
    X, y = _data(50, 2)
    s = SklearnSurrogate("knn").fit(X, y)
    first = s.fit_id_
    np.testing.assert_array_equal(s.X_seen_, X)
    np.testing.assert_array_equal(s.y_seen_, y)
    assert s.fit(X, y).fit_id_ != first


def test_boundary_subsample_with_bounded_queries_still_favours_boundaries():
    X, y = _data(20_000, 3)
    idx = boundary_subsample(X, y, 500, np.random.default_rng(0), max_queries=4000)
    assert idx.size == 500 and np.unique(idx).size == 500
    k = 2 * 3 + 2
    from scipy.spatial import cKDTree

    _, nbr = cKDTree(X).query(X[idx], k=k)
    near = np.any(y[nbr] != y[idx][:, None], axis=1)
    assert near.mean() > 0.6  # 3/4 of the budget goes to boundary points
    with pytest.raises(ValueError, match="max_queries must be an integer >= 1 or None; got 0"):
        boundary_subsample(X, y, 500, np.random.default_rng(0), max_queries=0)


def test_a_context_travels_with_its_surrogate_to_another_process():
    # what a fit process does: fit, prepare, send surrogate and context back (pickled)
    import pickle

    from spinexplore.strategies import cached_context, install_context

    X, y = _data(300, 2)
    fitted = make_surrogate("knn", random_state=0).fit(X, y)
    assert cached_context(fitted) is None and prepare(fitted)
    sur, ctx = pickle.loads(pickle.dumps((fitted, cached_context(fitted))))
    assert cached_context(sur) is None and install_context(sur, ctx)
    assert context_for(sur, 2, X, y) is ctx
    want = select_batch("balanced", 4, n_dims=2, surrogate=fitted, X_labeled=X, y=y, rng=3)
    np.testing.assert_array_equal(
        select_batch("balanced", 4, n_dims=2, surrogate=sur, X_labeled=X, y=y, rng=3), want)
    other = clone(fitted).fit(X, y)  # another fit: the context is refused
    assert not install_context(other, ctx) and not install_context(sur, None)
