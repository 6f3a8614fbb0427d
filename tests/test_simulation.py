"""SpinSimulation: validation, pickling, per-point seeds, and end-to-end cuts (slow)."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from spinexplore.physics.model import SpinModel
from spinexplore.results import PhaseType, SimulationResult
from spinexplore.simulation import SpinSimulation, format_point, point_seed

P = PhaseType


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"model": "kagome"}, ValueError, r"model must be one of \['triangular-chiral', 'square-chiral'\]"),
        ({"model": 3}, TypeError, "model must be a preset name"),
        ({"lattice_size": 7}, ValueError, "lattice_size must be an even integer >= 6; got 7"),
        ({"lattice_size": 4}, ValueError, "lattice_size must be >= 6"),
        ({"lattice_size": 24.0}, TypeError, "lattice_size must be an integer"),
        ({"mode": "slow"}, ValueError, r"mode must be one of \['screening', 'fast', 'accurate'\]; got 'slow'"),
        ({"seed": -1}, ValueError, "seed must be >= 0"),
        ({"timeout": 0}, ValueError, "timeout must be > 0"),
        ({"keep_spins": "yes"}, TypeError, "keep_spins must be True or False"),
    ],
)
def test_bad_settings_raise_before_any_work(kwargs, error, match):
    with pytest.raises(error, match=match):
        SpinSimulation(**kwargs)


def test_parameter_validation():
    sim = SpinSimulation()
    with pytest.raises(ValueError, match=r"unknown parameter name\(s\) \['hx'\].*allowed: \['J1'"):
        sim({"hx": 0.1})
    with pytest.raises(ValueError, match="parameter 'h' must be a finite real number; got nan"):
        sim({"h": float("nan")})
    with pytest.raises(TypeError, match="params must be a mapping"):
        sim([0.1, 0.2])
    with pytest.raises(ValueError, match="unknown parameter name"):
        sim.check_parameters(["h", "B"])
    sim.check_parameters(["h", "K"])


def test_pickles_cheaply_and_describes_itself():
    sim = SpinSimulation("square-chiral", lattice_size=12, mode="screening", seed=3)
    blob = pickle.dumps(sim)
    assert len(blob) < 2000
    clone = pickle.loads(blob)
    assert clone.describe() == sim.describe()
    d = sim.describe()
    assert (d["model"], d["lattice_size"], d["mode"], d["seed"]) == ("square-chiral", 12, "screening", 3)
    assert isinstance(sim.model, SpinModel) and sim.model.lattice == "square"
    custom = SpinSimulation(SpinModel.preset("triangular-chiral", D=0.3))
    assert custom.describe()["model"] == "custom" and custom.describe()["model_params"]["D"] == 0.3


def test_point_seed_is_a_deterministic_function_of_seed_and_point():
    a = point_seed(0, {"h": 0.1, "K": 0.2})
    assert a == point_seed(0, {"K": 0.2, "h": 0.1})  # key order does not matter
    assert a == point_seed(0, {"h": 0.1 + 1e-15, "K": 0.2})  # nor float noise below 12 digits
    assert a != point_seed(1, {"h": 0.1, "K": 0.2})
    assert a != point_seed(0, {"h": 0.1, "K": 0.3})
    assert 0 <= a < 2**53 and float(a) == a


def test_format_point_matches_the_console_line():
    r = SimulationResult(phase=P.MERON_ANTIMERON, confidence=0.95, energy=-0.82341)
    assert format_point(23, r) == "Point 23: MERON_ANTIMERON (conf=0.95, E=-0.8234)"
    t = SimulationResult(phase=P.TIMEOUT, confidence=0.0, error="took too long")
    assert format_point(7, t) == "Point 7: TIMEOUT (took too long)"
    f = SimulationResult(phase=P.FAILED, error="RuntimeError: boom\nTraceback (most recent call last):\n...")
    assert format_point(8, f, " [accurate]") == "Point 8: FAILED [accurate] (RuntimeError: boom)"
    assert format_point(9, SimulationResult(phase=P.FAILED, error="x" * 200)) == f"Point 9: FAILED ({'x' * 120})"


def test_a_screening_point_returns_a_full_result():
    sim = SpinSimulation("square-chiral", lattice_size=12, mode="screening", keep_spins=True)
    u = sim.model.natural_unit
    r = sim({"h": 1.5 * u, "K": 0.0})  # far above saturation: polarized FM
    assert r.phase == P.FERROMAGNET and r.confidence > 0.8
    assert r.energy == pytest.approx(-2.0 - 1.5 * u, abs=1e-9)  # physics.md 2, row 1
    assert r.spins.shape == (144, 3)
    obs = r.observables
    assert obs["sub_label"] == "polarized" and obs["m_z"] == pytest.approx(1.0)
    scalars = r.scalar_observables()
    assert {"m_z", "m_xy", "Q_total", "n_peaks", "energy_gap", "seed"} <= set(scalars)
    assert all(isinstance(v, float) for v in scalars.values())
    again = SpinSimulation("square-chiral", lattice_size=12, mode="screening")({"K": 0.0, "h": 1.5 * u})
    assert again.energy == r.energy and again.spins is None


def test_errors_are_input_errors_and_sizes_are_bounded():
    from spinexplore.errors import InputError, InputTypeError

    with pytest.raises(InputError, match="lattice_size must be <= 1024; got 100000"):
        SpinSimulation(lattice_size=100000)
    with pytest.raises(InputTypeError):
        SpinSimulation(lattice_size="24")
    sim = SpinSimulation(lattice_size=12, mode="screening")
    with pytest.raises(InputError, match=r"parameter 'h' must lie within \+-1000 \(units of J1\); got 1e\+300"):
        sim({"h": 1e300})
    assert sim.memory_estimate > 2_000 * 144


def test_lattice_size_is_checked_against_the_free_memory(monkeypatch):
    import spinexplore.simulation as mod

    monkeypatch.setattr(mod, "available_memory", lambda: 10**8)
    with pytest.raises(ValueError, match="lattice_size=512 needs about 0.6 GB per simulation but only 0.1 GB"):
        SpinSimulation(lattice_size=512)


def test_check_space_bounds_every_parameter_before_any_work():
    from spinexplore.space import ParameterSpace

    sim = SpinSimulation()
    sim.check_space(ParameterSpace({"h": (0.0, 1.0), "K": (-1.0, 1.0)}, fixed={"T": 0.0}))
    with pytest.raises(ValueError, match=r"parameter 'h' must lie within \+-1000 \(units of J1\); the space reaches 5000.0"):
        sim.check_space(ParameterSpace({"h": (0.0, 5000.0)}))
    with pytest.raises(ValueError, match="temperature T must be >= 0"):
        sim.check_space(ParameterSpace({"T": (-1.0, 1.0)}))
    with pytest.raises(ValueError, match=r"unknown parameter name\(s\) \['Bz'\]"):
        sim.check_space(ParameterSpace({"h": (0.0, 1.0)}, fixed={"Bz": 1.0}))


def test_a_non_finite_energy_is_a_failure_with_its_reason(monkeypatch):
    from types import SimpleNamespace

    import spinexplore.physics.solver as solver

    sim = SpinSimulation(lattice_size=12, mode="screening")
    monkeypatch.setattr(solver, "simulate", lambda *a, **k: SimpleNamespace(energy=float("nan")))
    r = sim({"h": 0.1})
    assert r.phase == P.FAILED and "non-finite energy (nan)" in r.error


@pytest.mark.parametrize("sim", [
    SpinSimulation("square-chiral", lattice_size=12, mode="screening", seed=3, timeout=5.0),
    SpinSimulation(SpinModel.preset("triangular-chiral", D=0.3, J2=-0.1), lattice_size=8, keep_spins=True),
])
def test_from_description_rebuilds_the_same_simulation(sim):
    clone = SpinSimulation.from_description(sim.describe())
    assert clone.describe() == sim.describe()
    with pytest.raises(ValueError, match="not the description of a SpinSimulation"):
        SpinSimulation.from_description({"simulation": "ExternalSimulation"})


def test_timeout_gives_a_timeout_result():
    sim = SpinSimulation(lattice_size=24, mode="accurate", timeout=1e-3)
    r = sim({"h": 0.1})
    assert r.phase == P.TIMEOUT and "timeout" in r.error


# ------------------------------------------------------------------- end to end (slow)

def _run(sim: SpinSimulation, points):
    return [sim(p) for p in points]


@pytest.mark.slow
def test_triangular_field_cut_at_k0_gives_helix_skyrmion_ferromagnet():
    sim = SpinSimulation("triangular-chiral", lattice_size=24, mode="fast")
    u = sim.model.natural_unit
    h_tilde = [0.1, 0.3, 0.45, 0.6, 0.9, 1.1]
    results = _run(sim, [{"h": h * u, "K": 0.0} for h in h_tilde])
    phases = [r.phase for r in results]
    assert phases == [P.SINGLE_Q, P.SKYRMION, P.SKYRMION, P.SKYRMION, P.FERROMAGNET, P.FERROMAGNET], [
        format_point(i, r) for i, r in enumerate(results)
    ]
    skx = results[2]
    assert skx.observables["Q_total"] == pytest.approx(-3.0, abs=1e-8)  # physics.md 2, row 8
    assert skx.observables["n_cells"] == 3
    assert all(r.confidence > 0.8 for r in results)
    assert results[-1].observables["sub_label"] == "polarized"


@pytest.mark.slow
def test_square_k_cut_crosses_skyrmion_meron_antimeron_and_cone():
    sim = SpinSimulation("square-chiral", lattice_size=24, mode="fast")
    u = sim.model.natural_unit
    k_tilde = [0.4, 1.15, 1.2, 1.4]
    results = _run(sim, [{"h": 0.4 * u, "K": k * u} for k in k_tilde])
    phases = [r.phase for r in results]
    assert phases == [P.SKYRMION, P.MERON_ANTIMERON, P.MERON_ANTIMERON, P.SINGLE_Q], [
        format_point(i, r) for i, r in enumerate(results)
    ]
    mac = results[2].observables
    # net charge -1 per cell, yet the label comes from the in-plane double-Q and the merons
    assert mac["Q_per_cell"] == pytest.approx(-1.0, abs=1e-8)
    assert mac["Q_inplane_ratio"] > 2.0 and mac["minority_fraction"] > 0.1  # a +1/2 blob per cell
    assert mac["n_vortices"] == mac["n_antivortices"] == 2 * mac["n_cells"]
    cone = results[-1].observables
    assert cone["m_xy"] > 0.5 and cone["Q_total"] == pytest.approx(0.0, abs=1e-8)
    assert results[2].confidence > 0.8


@pytest.mark.slow
def test_same_point_same_result_in_another_process():
    import concurrent.futures as cf
    import multiprocessing as mp

    sim = SpinSimulation("triangular-chiral", lattice_size=12, mode="fast", seed=5)
    u = sim.model.natural_unit
    point = {"h": 0.45 * u, "K": 0.2 * u}
    here = sim(point)
    with cf.ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        there = pool.submit(sim, point).result(timeout=300)
    assert there.phase == here.phase
    assert there.energy == here.energy and there.observables["seed"] == here.observables["seed"]
    assert math.isfinite(here.energy) and np.isfinite(here.confidence)


def test_thermal_averages_carry_standard_errors_that_match_independent_runs():
    """Issue 23: at T > 0 the built-in simulation's energy and magnetization are averages over
    Monte Carlo snapshots; it records their standard errors (``energy_err``, ``m_z_err``...). They
    must be real standard errors: about the spread of the same average over independent runs
    (different seeds). At T = 0 (a relaxed ground state, no average) there are none."""
    params = {"T": 0.3, "h": 0.3}
    runs = [SpinSimulation("triangular-chiral", lattice_size=6, mode="screening", seed=k)(params)
            for k in range(24)]
    for key, value in (("energy_err", "energy"), ("m_z_err", "m_z"), ("m_abs_err", "m_abs")):
        values = np.array([r.energy if value == "energy" else r.observables[value] for r in runs])
        errs = np.array([r.observables[key] for r in runs])
        assert np.all(np.isfinite(errs) & (errs > 0)), key
        ratio = np.std(values, ddof=1) / np.sqrt(np.mean(errs**2))
        assert 0.6 < ratio < 1.6, (key, ratio)
    cold = SpinSimulation("triangular-chiral", lattice_size=6, mode="screening", seed=0)({"h": 0.3})
    assert not any(k.endswith("_err") for k in cold.observables)
