"""Fast checks of the equilibrium sampler (the exact-result checks are in test_thermal_slow.py)."""

from __future__ import annotations

import numpy as np
import pytest

from spinexplore.physics.model import SpinModel
from spinexplore.physics.solver import energy_per_spin
from spinexplore.physics.thermal import binned_error, blocked_error, thermal_run


def test_series_shapes_and_the_last_energy_is_that_of_the_spins():
    model = SpinModel.preset(h=0.2, K=0.1)
    run = thermal_run(model, 12, 0.5, n_measure=50, every=2, n_equilibrate=50, n_anneal=50, seed=4)
    assert run.energies.shape == (50,) and run.magnetizations.shape == (50, 3)
    np.testing.assert_allclose(np.linalg.norm(run.spins, axis=1), 1.0, atol=1e-12)
    assert run.energies[-1] == pytest.approx(energy_per_spin(run.spins, model), abs=1e-12)
    np.testing.assert_allclose(run.magnetizations[-1], run.spins.mean(axis=0), atol=1e-12)
    assert run.specific_heat > 0 and 0 <= run.m_z_abs <= run.m_abs <= 1
    again = thermal_run(model, 12, 0.5, n_measure=50, every=2, n_equilibrate=50, n_anneal=50, seed=4)
    np.testing.assert_array_equal(run.energies, again.energies)


def test_reflections_flip_an_easy_axis_magnet_that_small_steps_cannot():
    # |K| = 200 >> T: without reflections the sign of every S_z is frozen at its start
    model = SpinModel(lattice="square", D=0.0, K=-200.0)
    start = np.tile([0.0, 0.0, 1.0], (64, 1))
    stuck = thermal_run(model, 8, 8.0, n_measure=100, every=1, n_equilibrate=20, n_anneal=0,
                        reflections=False, start=start, seed=1)
    free = thermal_run(model, 8, 8.0, n_measure=100, every=1, n_equilibrate=20, n_anneal=0,
                       start=start, seed=1)
    assert stuck.magnetizations[:, 2].min() > 0.9
    assert abs(free.magnetizations[:, 2].mean()) < 0.5  # T = 8 >> Tc(Ising) = 2.27


def test_binder_limits_and_blocked_error():
    model = SpinModel(lattice="square", D=0.0, K=-100.0)
    cold = thermal_run(model, 8, 0.5, n_measure=100, every=1, n_equilibrate=100, seed=2)
    assert cold.binder("z") == pytest.approx(2 / 3, abs=1e-3)
    with pytest.raises(ValueError, match="axis must be"):
        cold.binder("x")
    assert blocked_error(np.ones(100)) == 0.0
    assert blocked_error(np.ones(5)) == np.inf


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [({"T": 0.0}, ValueError, "T must be > 0"), ({"T": None}, ValueError, "T must be > 0"),
     ({"T": 1.0, "n_measure": 0}, ValueError, "n_measure must be >= 1"),
     ({"T": 1.0, "every": 1.5}, TypeError, "every must be an integer"),
     ({"T": 1.0, "reflections": "yes"}, TypeError, "reflections must be"),
     ({"T": 1.0, "start": np.zeros((3, 3))}, ValueError, "start must be"),
     ({"T": 1.0, "lattice_size": 7}, ValueError, "lattice_size")],
)
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        thermal_run(SpinModel.preset(), **kwargs)
    with pytest.raises(TypeError, match="model must be a SpinModel"):
        thermal_run({"T": 1.0}, 12, 1.0)


def test_binned_error_is_the_standard_error_of_independent_values():
    """Issue 23: Monte Carlo averages get error bars; the error must be the standard error of the
    mean. Independent N(0, sigma^2) values: E[err^2] = sigma^2 / n exactly (ddof=1)."""
    rng = np.random.default_rng(0)
    sigma, n = 2.0, 10
    errs = np.array([binned_error(rng.normal(0.0, sigma, n)) for _ in range(20000)])
    assert np.mean(errs**2) == pytest.approx(sigma**2 / n, rel=0.03)
    assert np.isnan(binned_error(np.ones(1))) and binned_error(np.full(8, 3.0)) == 0.0


def test_binned_error_of_a_correlated_series_reaches_the_analytic_value():
    """AR(1), x_t = rho x_{t-1} + e_t with unit-variance noise: var(x) = 1 / (1 - rho^2) and, for a
    long series, var(mean) = var(x) (1 + rho) / ((1 - rho) n); the naive error is 3x too small
    at rho = 0.8, the binned one is not."""
    from scipy.signal import lfilter

    rho, n = 0.8, 2**15
    rng = np.random.default_rng(1)
    true = np.sqrt(1 / (1 - rho**2) * (1 + rho) / (1 - rho) / n)
    binned, naive = [], []
    for _ in range(40):
        e = rng.normal(size=n + 1000)
        x = lfilter([1.0], [1.0, -rho], e)[1000:]  # stationary after 1000 steps
        binned.append(binned_error(x))
        naive.append(x.std(ddof=1) / np.sqrt(n))
    assert np.sqrt(np.mean(np.square(binned))) == pytest.approx(true, rel=0.1)
    assert np.mean(naive) < 0.4 * true
