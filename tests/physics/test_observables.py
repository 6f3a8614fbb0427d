"""Observables against analytic facts: sum rules, integer charge, planted skyrmions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinexplore.physics.lattice import make_lattice
from spinexplore.physics.observables import (
    find_peaks,
    inplane_winding,
    magnetization,
    measure,
    reduce_q,
    structure_factor,
    topological_charge,
    topological_charge_density,
)

KINDS = ("triangular", "square")


def _random_spins(n: int, seed: int, bias: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, 3))
    v[:, 2] += bias
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _planted_skyrmion(lattice, radius: float, *, polarity: int = 1, vorticity: int = 1,
                      helicity: float = 0.0) -> np.ndarray:
    """theta(r) = pi (1 - r/R) inside R, background along polarity * z (built here, not by textures)."""
    centre = (lattice.L / 2 + 0.37) * lattice.a[0] + (lattice.L / 2 + 0.21) * lattice.a[1]
    d = lattice.positions - centre
    r = np.hypot(d[:, 0], d[:, 1])
    theta = np.where(r < radius, np.pi * (1.0 - r / radius), 0.0)
    phi = vorticity * np.arctan2(d[:, 1], d[:, 0]) + helicity
    s = np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], axis=1)
    s[:, 2] *= polarity
    return s


@settings(max_examples=25, deadline=None)
@given(kind=st.sampled_from(KINDS), L=st.sampled_from([6, 8, 12, 18, 24]),
       seed=st.integers(0, 2**31 - 1), bias=st.floats(-2.0, 2.0))
def test_charge_is_an_integer_for_any_configuration(kind, L, seed, bias):
    lat = make_lattice(kind, L)
    s = _random_spins(lat.N, seed, bias)
    q = topological_charge(s, lat)
    assert abs(q - round(q)) < 1e-8
    rho = topological_charge_density(s, lat)
    assert rho.shape == (2 * lat.N,)
    assert np.all(np.abs(rho) <= 0.5 + 1e-12)  # |Omega| <= 2 pi per triangle


@settings(max_examples=25, deadline=None)
@given(kind=st.sampled_from(KINDS), L=st.sampled_from([6, 10, 12, 24]),
       seed=st.integers(0, 2**31 - 1), bias=st.floats(-3.0, 3.0))
def test_structure_factor_sum_rule_and_q0(kind, L, seed, bias):
    lat = make_lattice(kind, L)
    s = _random_spins(lat.N, seed, bias)
    sq_in, sq_z = structure_factor(s, lat)
    assert np.all(sq_in >= 0) and np.all(sq_z >= 0)
    assert abs((sq_in + sq_z).sum() - 1.0) < 1e-12  # Parseval for unit spins
    m = magnetization(s)
    assert sq_in[0] + sq_z[0] == pytest.approx(m @ m, abs=1e-14)
    assert sq_z[0] == pytest.approx(m[2] ** 2, abs=1e-14)


@pytest.mark.parametrize("kind", KINDS)
def test_structure_factor_matches_the_direct_sum(kind):
    lat = make_lattice(kind, 8)
    s = _random_spins(lat.N, 3)
    sq_in, sq_z = structure_factor(s, lat)
    q = lat.q_vectors
    phase = np.exp(-1j * q @ lat.positions.T)  # (n_q, N)
    amp = phase @ s / lat.N
    direct = np.abs(amp) ** 2
    np.testing.assert_allclose(sq_in, direct[:, 0] + direct[:, 1], atol=1e-14)
    np.testing.assert_allclose(sq_z, direct[:, 2], atol=1e-14)


@pytest.mark.parametrize("kind", KINDS)
def test_cycloid_puts_all_weight_on_plus_minus_q(kind):
    lat = make_lattice(kind, 24)
    q = np.array([2, 1]) @ lat.b / lat.L
    ph = lat.positions @ q
    qhat = np.array([q[0], q[1], 0.0]) / np.linalg.norm(q)
    s = np.cos(ph)[:, None] * np.array([0.0, 0.0, 1.0]) + np.sin(ph)[:, None] * qhat
    sq_in, sq_z = structure_factor(s, lat)
    i_plus = 2 + 24 * 1
    i_minus = (24 - 2) + 24 * (24 - 1)
    # cos and sin parts each carry |1/2|^2 at +Q and at -Q
    assert sq_z[i_plus] == pytest.approx(0.25) and sq_z[i_minus] == pytest.approx(0.25)
    assert sq_in[i_plus] == pytest.approx(0.25) and sq_in[i_minus] == pytest.approx(0.25)
    peaks = find_peaks(sq_in, sq_z, lat)
    assert len(peaks) == 1 and peaks[0]["weight"] == pytest.approx(1.0)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("polarity", [1, -1])
@pytest.mark.parametrize("vorticity", [1, -1])
@pytest.mark.parametrize("helicity", [0.0, np.pi / 2])
def test_planted_skyrmion_has_unit_charge(kind, polarity, vorticity, helicity):
    lat = make_lattice(kind, 24)
    s = _planted_skyrmion(lat, 7.0, polarity=polarity, vorticity=vorticity, helicity=helicity)
    # core antiparallel to the background: Q = -polarity * vorticity
    assert topological_charge(s, lat) == pytest.approx(-polarity * vorticity, abs=1e-8)


@pytest.mark.parametrize("kind", KINDS)
def test_measure_on_a_planted_skyrmion(kind):
    lat = make_lattice(kind, 24)
    s = _planted_skyrmion(lat, 6.0)
    obs = measure(s, lat)
    assert obs["Q_total"] == pytest.approx(-1.0, abs=1e-8)
    assert obs["Q_plus"] >= 0 >= obs["Q_minus"]
    assert obs["Q_plus"] + obs["Q_minus"] == pytest.approx(obs["Q_total"])
    m = s.mean(axis=0)
    assert obs["m_z"] == pytest.approx(m[2]) and obs["m_abs"] == pytest.approx(np.linalg.norm(m))
    assert obs["sq_inplane"].shape == (lat.N,) and obs["charge_density"].shape == (2 * lat.N,)
    assert isinstance(obs["n_peaks"], int)


def test_charge_density_is_translation_invariant():
    lat = make_lattice("triangular", 12)
    s = _planted_skyrmion(lat, 4.0)
    x, y = lat.coords[:, 0], lat.coords[:, 1]
    shifted = s[lat.index(x - 3, y - 5)]
    assert topological_charge(shifted, lat) == pytest.approx(topological_charge(s, lat))
    a, b = structure_factor(s, lat), structure_factor(shifted, lat)
    np.testing.assert_allclose(a[0], b[0], atol=1e-14)


@settings(max_examples=20, deadline=None)
@given(kind=st.sampled_from(KINDS), seed=st.integers(0, 2**31 - 1))
def test_windings_are_integers_that_cancel_on_the_torus(kind, seed):
    lat = make_lattice(kind, 12)
    w = inplane_winding(_random_spins(lat.N, seed), lat)
    assert w.shape == (lat.plaquettes.shape[0],)
    assert set(np.unique(w)) <= {-1, 0, 1}
    assert w.sum() == 0


def test_square_vortex_lattice_has_two_vortices_and_two_antivortices_per_cell():
    # in-plane field (sin A, sin B): zeros at (0,0), (pi,pi) (vortices), (pi,0), (0,pi) (antivortices)
    lat = make_lattice("square", 24)
    r = lat.positions + np.array([0.31, 0.17])  # keep the zeros off the sites and edges
    A, B = r @ np.array([2 * np.pi / 12, 0.0]), r @ np.array([0.0, 2 * np.pi / 12])
    s = np.stack([np.sin(A), np.sin(B), 0.3 * np.ones_like(A)], axis=1)
    s /= np.linalg.norm(s, axis=1, keepdims=True)
    w = inplane_winding(s, lat)
    n_cells = 4  # (24 / 12)^2
    assert (w == 1).sum() == 2 * n_cells and (w == -1).sum() == 2 * n_cells


def test_cycloid_nodal_lines_are_not_vortices():
    lat = make_lattice("triangular", 24)
    q = np.array([2, 1]) @ lat.b / lat.L
    ph = lat.positions @ q
    s = np.stack([np.sin(ph), 0 * ph, np.cos(ph)], axis=1)
    assert np.all(inplane_winding(s, lat) == 0)


def test_reduce_q_returns_the_shortest_equivalent_vector():
    lat = make_lattice("triangular", 24)
    n, q, norm = reduce_q((22, 23), lat)  # = (-2, -1) modulo 24
    assert list(n) == [-2, -1] and norm == pytest.approx(np.pi / 6)


@pytest.mark.parametrize("bad", [np.zeros((10, 3)), np.zeros((36, 2)), np.full((36, 3), np.nan)])
def test_bad_spins_are_rejected(bad):
    lat = make_lattice("square", 6)
    with pytest.raises(ValueError, match="spins must"):
        measure(bad, lat)


def test_samples_average_the_structure_factor():
    lat = make_lattice("square", 8)
    a, b = _random_spins(lat.N, 1), _random_spins(lat.N, 2)
    avg_in, avg_z = structure_factor(a, lat, samples=np.stack([a, b]))
    sa, sb = structure_factor(a, lat), structure_factor(b, lat)
    np.testing.assert_allclose(avg_in, (sa[0] + sb[0]) / 2, atol=1e-15)
    np.testing.assert_allclose(avg_z, (sa[1] + sb[1]) / 2, atol=1e-15)
    with pytest.raises(ValueError, match="samples must have shape"):
        structure_factor(a, lat, samples=a)
