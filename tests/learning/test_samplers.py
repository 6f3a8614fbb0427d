from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinexplore.samplers import SAMPLERS, grid, lhs, random_uniform, sample, sobol, unit_sample
from spinexplore.space import ParameterSpace


def _space(n_dims: int, log_first: bool = False) -> ParameterSpace:
    dims = {f"x{i}": (-1.0 - i, 2.0 + 0.5 * i) for i in range(n_dims)}
    if log_first:
        dims["x0"] = (0.01, 10.0, "log")
    return ParameterSpace(dims, fixed={"T": 0.0})


@settings(max_examples=40, deadline=None)
@given(n_dims=st.integers(1, 6), n=st.integers(1, 200), method=st.sampled_from(SAMPLERS),
       seed=st.integers(0, 2**31 - 1), log_first=st.booleans())
def test_points_inside_bounds_with_right_count(n_dims, n, method, seed, log_first):
    space = _space(n_dims, log_first)
    X = sample(space, n, method, seed=seed)
    assert X.shape == (n, n_dims)
    assert np.all(space.contains(X))


@settings(max_examples=25, deadline=None)
@given(n_dims=st.integers(1, 6), n=st.integers(1, 100), method=st.sampled_from(SAMPLERS),
       seed=st.integers(0, 2**31 - 1))
def test_same_seed_same_points(n_dims, n, method, seed):
    space = _space(n_dims)
    np.testing.assert_array_equal(sample(space, n, method, seed), sample(space, n, method, seed))


@pytest.mark.parametrize("method", ["lhs", "sobol", "random"])
def test_different_seeds_differ(method):
    space = _space(2)
    assert not np.allclose(sample(space, 16, method, 1), sample(space, 16, method, 2))


@settings(max_examples=25, deadline=None)
@given(n_dims=st.integers(1, 6), n=st.integers(2, 150), seed=st.integers(0, 10**6),
       scramble=st.booleans())
def test_lhs_has_one_point_per_stratum(n_dims, n, seed, scramble):
    U = unit_sample(n_dims, n, "lhs", seed, scramble=scramble)
    strata = np.floor(U * n).astype(int)
    for axis in range(n_dims):
        assert sorted(strata[:, axis]) == list(range(n))


def test_lhs_unscrambled_points_are_stratum_centres():
    U = unit_sample(3, 10, "lhs", 0, scramble=False)
    np.testing.assert_allclose(np.sort(U, axis=0), np.tile((np.arange(10) + 0.5)[:, None] / 10, 3))


def test_sobol_power_of_two_is_balanced_and_prefix_allowed():
    # A (scrambled) Sobol set of 2^m points puts exactly 2^m / 2^k points in every dyadic
    # interval of length 2^-k along each axis (a (0, m, 1)-net property per coordinate).
    U = unit_sample(2, 64, "sobol", 3)
    for axis in range(2):
        counts = np.bincount(np.floor(U[:, axis] * 8).astype(int), minlength=8)
        assert np.all(counts == 8)
    assert unit_sample(2, 50, "sobol", 3).shape == (50, 2)
    np.testing.assert_array_equal(unit_sample(2, 50, "sobol", 3), U[:50])


def test_unscrambled_sobol_is_deterministic_and_starts_at_origin():
    U = unit_sample(3, 8, "sobol", None, scramble=False)
    np.testing.assert_array_equal(U[0], np.zeros(3))
    np.testing.assert_array_equal(U, unit_sample(3, 8, "sobol", 123, scramble=False))


@pytest.mark.parametrize("n_dims,k", [(1, 7), (2, 5), (3, 4), (6, 2)])
def test_grid_with_k_power_d_points_is_the_full_cell_centred_grid(n_dims, k):
    U = unit_sample(n_dims, k**n_dims, "grid")
    centres = (np.arange(k) + 0.5) / k
    for axis in range(n_dims):
        values, counts = np.unique(U[:, axis], return_counts=True)
        np.testing.assert_allclose(values, centres)
        assert np.all(counts == k ** (n_dims - 1))
    assert np.unique(U, axis=0).shape[0] == k**n_dims


@pytest.mark.parametrize("n", [2, 10, 26, 99])
def test_grid_with_other_n_is_trimmed_deterministically(n):
    U = unit_sample(2, n, "grid")
    assert U.shape == (n, 2)
    assert np.unique(U, axis=0).shape[0] == n
    np.testing.assert_array_equal(U, unit_sample(2, n, "grid", seed=5))


def test_wrappers_match_sample():
    space = _space(2, log_first=True)
    np.testing.assert_array_equal(lhs(space, 9, 1), sample(space, 9, "lhs", 1))
    np.testing.assert_array_equal(sobol(space, 9, 1), sample(space, 9, "sobol", 1))
    np.testing.assert_array_equal(grid(space, 9), sample(space, 9, "grid"))
    np.testing.assert_array_equal(random_uniform(space, 9, 1), sample(space, 9, "random", 1))


def test_log_axis_is_uniform_in_log():
    space = ParameterSpace({"T": (0.01, 100.0, "log")})
    X = sample(space, 1000, "lhs", 0)
    # one point per decade-quarter stratum in log10 space: median at the geometric centre
    assert abs(np.median(np.log10(X[:, 0]))) < 0.02


def test_generator_seed_accepted():
    rng = np.random.default_rng(0)
    X = sample(_space(2), 5, "lhs", rng)
    assert X.shape == (5, 2)


@pytest.mark.parametrize("bad", ["halton", "LHS", None, 3])
def test_unknown_method_lists_allowed(bad):
    with pytest.raises(ValueError, match=r"method must be one of \['lhs', 'sobol', 'grid', 'random'\]"):
        sample(_space(2), 4, bad)


@pytest.mark.parametrize("n", [0, -3])
def test_non_positive_n(n):
    with pytest.raises(ValueError, match=rf"n must be >= 1; got {n}"):
        sample(_space(2), n)


def test_bad_types():
    with pytest.raises(TypeError, match="n must be an integer"):
        sample(_space(2), 2.5)
    with pytest.raises(TypeError, match="space must be a spinexplore.ParameterSpace"):
        sample({"h": (0, 1)}, 4)
    with pytest.raises(TypeError, match="seed must be"):
        sample(_space(2), 4, "lhs", seed="abc")
