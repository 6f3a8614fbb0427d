"""Solver: energies and fields against independent formulas, relaxation, determinism, errors.

Analytic values are from physics.md section 2 (check numbers in the comments).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from spinexplore.physics._ansatz import continuum_q0, helix_energy
from spinexplore.physics.lattice import make_lattice
from spinexplore.physics.model import SpinModel
from spinexplore.physics.solver import MODES, energy_per_spin, local_fields, max_torque, relax, simulate

KINDS = ("triangular", "square")


def random_spins(n, seed=0):
    s = np.random.default_rng(seed).normal(size=(n, 3))
    return s / np.linalg.norm(s, axis=1, keepdims=True)


def naive_energy(spins, model, lattice):
    """Direct bond sum of the Hamiltonian of physics.md 1.1 (independent of the kernels)."""
    e = 0.0
    for shell, J in ((1, model.J1), (2, model.J2), (3, model.J3)):
        nb = lattice.neighbors(shell)
        for b, delta in enumerate(lattice.bond_vectors(shell)):
            dh = delta / np.linalg.norm(delta)
            d = np.array([-dh[1], dh[0], 0.0]) if model.dmi == "interfacial" else np.array([dh[0], dh[1], 0.0])
            sj = spins[nb[:, b]]
            e -= J * np.sum(spins * sj)
            if shell == 1:
                e += model.D * np.sum(np.cross(spins, sj) @ d)
    e += model.K * np.sum(spins[:, 2] ** 2) - model.h * np.sum(spins[:, 2])
    return e / lattice.N


def helix_state(lattice, q, dmi, chi):
    """Flat spiral at wavevector q whose rotation-plane normal follows physics.md 2 row 3."""
    delta = lattice.bond_vectors(1)
    v = np.sin(delta @ q) @ (delta / np.linalg.norm(delta, axis=1)[:, None])
    v3 = np.array([v[0], v[1], 0.0])
    n = v3 if dmi == "bulk" else np.cross([0.0, 0.0, 1.0], v3)
    n /= np.linalg.norm(n)
    e1 = np.array([0.0, 0.0, 1.0]) if abs(n[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    e1 -= (e1 @ n) * n
    e1 /= np.linalg.norm(e1)
    e2 = chi * np.cross(n, e1)
    ph = lattice.positions @ q
    return np.cos(ph)[:, None] * e1 + np.sin(ph)[:, None] * e2


def formula_helix(lattice, q, J, D):
    """E(q) = -J sum cos(q.delta) - |D| |sum delta_hat sin(q.delta)| (physics.md 2, row 3)."""
    delta = lattice.bond_vectors(1)
    v = np.sin(delta @ q) @ (delta / np.linalg.norm(delta, axis=1)[:, None])
    return -J * np.cos(delta @ q).sum() - abs(D) * np.linalg.norm(v)


# ------------------------------------------------------------------------ energies ----------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dmi", ["interfacial", "bulk"])
def test_energy_matches_direct_bond_sum(kind, dmi):
    model = SpinModel(lattice=kind, J1=1.0, J2=-0.2, J3=0.15, D=0.7, dmi=dmi, K=0.3, h=-0.4)
    lat = make_lattice(kind, 8)
    s = random_spins(lat.N, 1)
    assert energy_per_spin(s, model) == pytest.approx(naive_energy(s, model, lat), abs=1e-12)


def test_local_fields_are_minus_gradient():
    model = SpinModel(lattice="triangular", J1=1.0, J3=-0.3, D=0.5, K=0.4, h=0.3)
    lat = make_lattice("triangular", 6)
    s = random_spins(lat.N, 2)
    f = local_fields(s, model)
    eps = 1e-6
    for i in (0, 7, 20):
        for c in range(3):
            sp, sm = s.copy(), s.copy()
            sp[i, c] += eps
            sm[i, c] -= eps
            grad = (naive_energy(sp, model, lat) - naive_energy(sm, model, lat)) * lat.N / (2 * eps)
            assert -grad == pytest.approx(f[i, c], abs=1e-6)


@pytest.mark.parametrize(("kind", "zb"), [("triangular", 3), ("square", 2)])
def test_fm_energy(kind, zb):
    # check 1: E = -z_b J + K - h
    model = SpinModel(lattice=kind, D=0.6, K=0.3, h=0.25)
    s = np.tile([0.0, 0.0, 1.0], (36, 1))
    assert energy_per_spin(s, model) == pytest.approx(-zb + 0.3 - 0.25, abs=1e-13)
    assert max_torque(s, model) < 1e-13


@pytest.mark.parametrize(("kind", "zb"), [("triangular", 3), ("square", 2)])
def test_canted_fm_energy(kind, zb):
    # check 2: cos(theta) = h / 2K, E = -z_b J - h^2 / 4K
    K, h = 0.5, 0.4
    model = SpinModel(lattice=kind, D=0.3, K=K, h=h)
    c = h / (2 * K)
    s = np.tile([math.sqrt(1 - c * c), 0.0, c], (64, 1))
    assert energy_per_spin(s, model) == pytest.approx(-zb - h * h / (4 * K), abs=1e-13)
    assert max_torque(s, model) < 1e-13


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dmi", ["interfacial", "bulk"])
def test_helix_energy_formula(kind, dmi):
    # check 3 at several commensurate wavevectors of a 24 x 24 torus
    lat = make_lattice(kind, 24)
    model = SpinModel(lattice=kind, D=0.7, dmi=dmi)
    for k in (1, 2, 26, 50, 75):
        q = lat.q_vectors[k]
        e = min(energy_per_spin(helix_state(lat, q, dmi, chi), model) for chi in (1, -1))
        assert e == pytest.approx(formula_helix(lat, q, 1.0, 0.7), abs=1e-12)
        assert helix_energy(model, lat, q) == pytest.approx(e, abs=1e-12)


def test_square_optimum_is_diagonal():
    # check 4: D = 0.8165 = sqrt(2) tan(pi/6): q = (pi/6, pi/6), E = -2 sqrt(J^2 + D^2/2)
    D = math.sqrt(2) * math.tan(math.pi / 6)
    lat = make_lattice("square", 24)
    model = SpinModel(lattice="square", D=D)
    q = np.array([math.pi / 6, math.pi / 6])
    e = min(energy_per_spin(helix_state(lat, q, "interfacial", chi), model) for chi in (1, -1))
    assert e == pytest.approx(-2 * math.sqrt(1 + D * D / 2), abs=1e-12)
    assert continuum_q0(model, lat) == pytest.approx(math.hypot(math.pi / 6, math.pi / 6), abs=1e-4)
    # the axis spiral of the 1D chain (tan q = D) is higher: D = 1 -> -2.414 vs -2.449
    m1 = SpinModel(lattice="square", D=1.0)
    axis = helix_energy(m1, lat, np.array([math.atan(1.0), 0.0]))
    assert axis == pytest.approx(-1 - math.sqrt(2), abs=1e-12)
    assert -2 * math.sqrt(1.5) < axis


@pytest.mark.parametrize(("D", "q", "E"), [(0.3, 0.2935, -3.066399), (0.5, 0.4719, -3.179465),
                                           (1.0, 0.8256, -3.646249)])
def test_triangular_optimum(D, q, E):
    # check 5
    lat = make_lattice("triangular", 24)
    model = SpinModel(lattice="triangular", D=D)
    q0 = continuum_q0(model, lat)
    assert q0 == pytest.approx(q, abs=2e-4)
    assert float(helix_energy(model, lat, np.array([q0, 0.0]))) == pytest.approx(E, abs=2e-6)


def test_j1_j3_wavevector():
    # check 13: Sunny J1 = -1 (FM), J3 = 1/3  ->  here J1 = 1, J3 = -1/3; Q = 0.8481, E = -2.085022
    lat = make_lattice("triangular", 24)
    model = SpinModel(lattice="triangular", J1=1.0, J3=-1 / 3)
    q0 = continuum_q0(model, lat)
    c = (1 + math.sqrt(1 + 2 * 3)) / 4  # cos(Q/2) = [1 + sqrt(1 - 2 J1/J3)] / 4, Sunny signs
    assert q0 == pytest.approx(2 * math.acos(c), abs=2e-4)
    assert q0 == pytest.approx(0.8481, abs=2e-4)
    assert float(helix_energy(model, lat, np.array([q0, 0.0]))) == pytest.approx(-2.085022, abs=2e-6)


def test_120_degree_state():
    # check 12: H = +J sum S.S (J1 = -1 here): E = -1.5 J per spin
    lat = make_lattice("triangular", 12)
    x, y = lat.coords[:, 0], lat.coords[:, 1]
    ang = 2 * np.pi / 3 * ((x + 2 * y) % 3)
    s = np.stack([np.cos(ang), np.sin(ang), 0 * ang], axis=1)
    model = SpinModel(lattice="triangular", J1=-1.0)
    assert energy_per_spin(s, model) == pytest.approx(-1.5, abs=1e-13)
    gs = simulate(model, 12, "screening", seed=0)
    assert gs.energy == pytest.approx(-1.5, abs=1e-9)


@pytest.mark.parametrize("kind", KINDS)
def test_bulk_interfacial_and_inversion_equivalence(kind):
    # check 7: E_int[S] = E_bulk[R_z(-pi/2) S];  E(D, S(r)) = E(-D, S(-r))
    lat = make_lattice(kind, 8)
    s = random_spins(lat.N, 3)
    kw = dict(lattice=kind, J1=1.0, D=0.6, K=0.2, h=0.3)
    r_minus = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # R_z(-pi/2): (x, y) -> (y, -x)
    rot = s @ r_minus.T
    assert energy_per_spin(s, SpinModel(dmi="interfacial", **kw)) == pytest.approx(
        energy_per_spin(rot, SpinModel(dmi="bulk", **kw)), abs=1e-13)
    inv = s[lat.index(-lat.coords[:, 0], -lat.coords[:, 1])]
    kw_neg = {**kw, "D": -0.6}
    assert energy_per_spin(s, SpinModel(**kw)) == pytest.approx(energy_per_spin(inv, SpinModel(**kw_neg)), abs=1e-13)


@pytest.mark.parametrize("kind", KINDS)
def test_translation_invariance(kind):
    lat = make_lattice(kind, 12)
    model = SpinModel(lattice=kind, J1=1.0, J2=0.1, D=0.5, K=0.2, h=0.1)
    s = random_spins(lat.N, 4)
    e = energy_per_spin(s, model)
    for shift in ((1, 0), (0, 1), (5, 7)):
        moved = np.roll(s.reshape(12, 12, 3), shift, axis=(1, 0)).reshape(-1, 3)
        assert energy_per_spin(moved, model) == pytest.approx(e, abs=1e-13)


# ------------------------------------------------------------------------ relaxation --------


@pytest.mark.parametrize("kind", KINDS)
def test_relax_reaches_zero_torque(kind):
    lat = make_lattice(kind, 12)
    model = SpinModel(lattice=kind, D=0.6, K=0.3, h=0.2)
    s0 = random_spins(lat.N, 5)
    s, e, torque = relax(s0, model)
    assert torque <= 1e-6
    assert max_torque(s, model) <= 1e-6
    np.testing.assert_allclose(np.linalg.norm(s, axis=1), 1.0, atol=1e-12)
    assert e < energy_per_spin(s0, model)
    assert e == pytest.approx(energy_per_spin(s, model), abs=1e-12)


def test_ground_state_at_zero_field_is_the_analytic_helix():
    # L = 24 triangular, D = 0.5625: the helix of period 12 (q = pi/6 along a bond) fits the torus
    model = SpinModel.preset()
    gs = simulate(model, 24, "fast", seed=11)
    lat = make_lattice("triangular", 24)
    expected = formula_helix(lat, np.array([math.pi / 6, 0.0]), 1.0, 0.5625)
    assert gs.energy == pytest.approx(expected, abs=1e-6)
    assert gs.max_torque <= 1e-6
    assert gs.best == "helix"


def test_result_fields():
    gs = simulate(SpinModel.preset(h=0.2), 12, "screening", seed=3)
    assert gs.spins.shape == (144, 3) and gs.samples is None and gs.T == 0.0
    energies = [e for _, e in gs.candidates]
    assert energies == sorted(energies)
    assert gs.energy == pytest.approx(energies[0], abs=1e-8)
    assert gs.gap >= 0 and gs.mode == "screening" and gs.seed == 3
    assert gs.best in {name.split(":")[0] for name, _ in gs.candidates}


# ------------------------------------------------------------------------ seeding -----------


def test_deterministic_for_a_seed():
    model = SpinModel.preset(h=0.3)
    a = simulate(model, 12, "fast", seed=42)
    b = simulate(model, 12, "fast", seed=42)
    np.testing.assert_array_equal(a.spins, b.spins)
    assert a.candidates == b.candidates


def test_seedsequence_seed_reproduces():
    model = SpinModel.preset(h=0.3)
    a = simulate(model, 12, "fast", seed=np.random.SeedSequence(7))
    b = simulate(model, 12, "fast", seed=a.seed)
    np.testing.assert_array_equal(a.spins, b.spins)


# ------------------------------------------------------------------------ finite T ----------


def test_high_temperature_energy():
    # high-T expansion: a bond energy -S_i.A S_j has <.> = -beta |A|_F^2 / 9 to first order,
    # |A|_F^2 = 3 J^2 + 2 D^2, so E/N = -z_b beta (3 J^2 + 2 D^2) / 9 (-0.121 at T = 10).
    T = 10.0
    model = SpinModel.preset(T=T)
    gs = simulate(model, 24, "fast", seed=1)
    assert gs.samples.shape == (10, 576, 3)
    np.testing.assert_allclose(np.linalg.norm(gs.samples, axis=2), 1.0, atol=1e-12)
    assert gs.best == "thermal" and gs.T == T
    assert gs.energy == pytest.approx(-3 * (3 + 2 * 0.5625**2) / (9 * T), abs=0.03)
    assert np.linalg.norm(gs.samples.mean(axis=1), axis=1).mean() < 0.15


# ------------------------------------------------------------------------ errors ------------


@pytest.mark.parametrize(
    ("kwargs", "exc", "pattern"),
    [
        ({"lattice_size": 7}, ValueError, "lattice_size must be an even integer"),
        ({"lattice_size": 0}, ValueError, "lattice_size"),
        ({"lattice_size": -24}, ValueError, "lattice_size"),
        ({"mode": "exact"}, ValueError, "mode must be one of"),
        ({"seed": -1}, ValueError, "seed must be a non-negative"),
        ({"seed": 1.5}, TypeError, "seed must be"),
        ({"timeout": 0.0}, ValueError, "timeout must be > 0"),
    ],
)
def test_bad_arguments(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        simulate(SpinModel.preset(), **kwargs)


def test_bad_model():
    with pytest.raises(TypeError, match="model must be a SpinModel"):
        simulate({"h": 0.1})
    with pytest.raises(ValueError, match="finite"):
        simulate(SpinModel.preset().with_params({"K": math.nan}))


def test_timeout():
    with pytest.raises(TimeoutError, match="timeout"):
        simulate(SpinModel.preset(h=0.2), 24, "accurate", seed=0, timeout=1e-3)


def test_modes():
    assert MODES == ("screening", "fast", "accurate")


# ------------------------------------------------------------------------ invariants --------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=8, deadline=None)
@given(
    kind=st.sampled_from(KINDS),
    dmi=st.sampled_from(["interfacial", "bulk"]),
    D=st.floats(0.3, 1.0),
    K=st.floats(-0.3, 1.5),
    h=st.floats(-0.8, 0.8),
    seed=st.integers(0, 2**32),
)
def test_search_invariants(kind, dmi, D, K, h, seed):
    model = SpinModel(lattice=kind, D=D, dmi=dmi, K=K, h=h)
    gs = simulate(model, 12, "screening", seed=seed)
    zb = 3 if kind == "triangular" else 2
    # zero torque, unit spins, the energy is that of the returned spins
    assert gs.max_torque <= 1e-6
    np.testing.assert_allclose(np.linalg.norm(gs.spins, axis=1), 1.0, atol=1e-12)
    assert energy_per_spin(gs.spins, model) == pytest.approx(gs.energy, abs=1e-12)
    # never above the uniform states (check 1 and the in-plane FM)
    assert gs.energy <= -zb + K - abs(h) + 1e-12
    assert gs.energy <= -zb + 1e-12
    assert gs.gap >= 0
    # translation invariance of the returned state
    moved = np.roll(gs.spins.reshape(12, 12, 3), (2, 1), axis=(0, 1)).reshape(-1, 3)
    assert energy_per_spin(moved, model) == pytest.approx(gs.energy, abs=1e-12)
