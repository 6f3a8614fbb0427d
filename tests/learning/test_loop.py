"""End-to-end active-learning loops on synthetic diagrams with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from spinexplore.results import PhaseType
from spinexplore.samplers import unit_sample
from spinexplore.strategies import convergence_metrics, select_batch
from spinexplore.surrogates import make_surrogate

FM, SQ, SK = int(PhaseType.FERROMAGNET), int(PhaseType.SINGLE_Q), int(PhaseType.SKYRMION)


def half_plane(X):
    return np.where(X[:, 0] + X[:, 1] < 1.0, SQ, FM)


def with_island(X, centre=(0.3, 0.78), area=0.01):
    lab = np.where(X[:, 1] < 0.42 + 0.1 * np.sin(2 * np.pi * X[:, 0]), SQ, FM)
    lab[np.sum((X - centre) ** 2, axis=1) < area / np.pi] = SK
    return lab


def run_loop(truth, n_dims, n_total, seed, strategy="balanced", surrogate=None, batch=10):
    rng = np.random.default_rng(seed)
    X = unit_sample(n_dims, batch, "lhs", rng)
    y = truth(X)
    history, labels = [], None
    model = None
    while True:
        model = make_surrogate(surrogate, random_state=seed).fit(X, y)
        metrics, labels = convergence_metrics(model, labels, n_dims=n_dims)
        history.append(metrics)
        if len(X) >= n_total:
            return X, y, model, history
        new = select_batch(strategy, min(batch, n_total - len(X)), n_dims=n_dims, surrogate=model,
                           X_labeled=X, y=y, rng=rng)
        X, y = np.vstack([X, new]), np.concatenate([y, truth(new)])


def accuracy(model, truth, n_dims, n=20000):
    E = np.random.default_rng(123).random((n, n_dims))
    return np.mean(model.predict(E) == truth(E))


def test_straight_boundary_is_learned_and_sampled_densely():
    X, y, model, history = run_loop(half_plane, 2, 60, seed=0)
    # 60 chosen points beat a regular 8 x 8 grid read by the same surrogate
    G = unit_sample(2, 64, "grid")
    grid_acc = accuracy(make_surrogate().fit(G, half_plane(G)), half_plane, 2)
    assert accuracy(model, half_plane, 2) > grid_acc + 0.01
    # the learner put more points near the boundary than uniform sampling would
    near = np.abs(X[:, 0] + X[:, 1] - 1.0) / np.sqrt(2) < 0.1
    assert near.mean() > 1.5 * 0.19  # 0.19 = area of the |dist| < 0.1 band
    # the stopping rule settles: the last changes are small
    assert history[-1]["changed_fraction"] < 0.1
    assert 0 <= history[-1]["mean_uncertainty"] < 0.2


@pytest.mark.slow
def test_island_of_one_percent_is_found_within_200_points():
    # When the island is first sampled depends on the seed, so the test asks for the median of
    # four seeds; the recorded seed-by-seed figures are benchmarks/active_learning.py's
    # (results/active_learning_default_old_vs_new.json, shown in the README).
    found = []
    for seed in range(4):
        _, y, _, _ = run_loop(with_island, 2, 300, seed=seed)
        hit = np.flatnonzero(y == SK)
        found.append(int(hit[0]) + 1 if hit.size else np.inf)
    assert np.median(found) <= 200 and max(found) <= 300


@pytest.mark.slow
def test_active_learning_beats_random_sampling_in_3d():
    def truth(X):
        lab = np.full(len(X), SQ)
        lab[np.sum((X - [0.35, 0.4, 0.3]) ** 2, axis=1) < 0.27**2] = SK
        lab[X[:, 2] > 0.62 + 0.12 * np.sin(2 * np.pi * X[:, 0])] = FM
        return lab

    accs_al, accs_rand = [], []
    for seed in range(3):
        _, _, model, _ = run_loop(truth, 3, 200, seed=seed)
        accs_al.append(accuracy(model, truth, 3))
        Xr = np.random.default_rng(seed).random((200, 3))
        accs_rand.append(accuracy(make_surrogate().fit(Xr, truth(Xr)), truth, 3))
    # same surrogate, same budget: chosen points beat uniform ones on every seed
    assert min(accs_al) > max(accs_rand)
