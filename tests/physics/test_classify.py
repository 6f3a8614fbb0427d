"""Phase classification of analytic and relaxed textures, and its invariances."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinexplore.physics import textures as T
from spinexplore.physics.classify import Classification, Thresholds, classify
from spinexplore.physics.lattice import make_lattice
from spinexplore.physics.observables import measure
from spinexplore.results import PhaseType

P = PhaseType


def _cases(kind: str, L: int):
    """(name, spins, expected phase) for a lattice; wavevectors scale with L / 12."""
    lat = make_lattice(kind, L)
    k = L // 12
    out = [
        ("helix a", T.helix(lat, (2 * k, k)), P.SINGLE_Q),
        ("helix b", T.helix(lat, (k, 3 * k), plane="bloch", chirality=-1), P.SINGLE_Q),
        ("helix c", T.helix(lat, (-k, 2 * k), plane="inplane", phase=0.4), P.SINGLE_Q),
        ("helix d", T.helix(lat, (3 * k, 0)), P.SINGLE_Q),
        ("cone", T.helix(lat, (2 * k, k), offset=0.6), P.SINGLE_Q),
        ("skx+", T.triple_q_skx(lat, T.hexagonal_triplet(lat, k)), P.SKYRMION),
        ("skx-", T.triple_q_skx(lat, T.hexagonal_triplet(lat, k), polarity=-1), P.SKYRMION),
        ("skx bloch", T.triple_q_skx(lat, T.hexagonal_triplet(lat, k), plane="bloch", offset=1.0), P.SKYRMION),
        ("fm", T.fm(lat), P.FERROMAGNET),
        ("fm tilted", T.fm(lat, (0.3, -0.2, 1.0)), P.FERROMAGNET),
        ("canted fm", T.canted_fm(lat, 0.4, azimuth=1.0), P.FERROMAGNET),
        ("random", T.random_spins(lat, L), P.PARAMAGNET),
        # in-plane spirals plus a small moment: vortex cores all point up, so no net charge
        ("double-q", T.multi_q(lat, [(2 * k, k), (-k, k)], plane="inplane", offset=0.2), P.DOUBLE_Q),
        ("triple-q", T.multi_q(lat, T.hexagonal_triplet(lat, k), plane="inplane", offset=0.2), P.TRIPLE_Q),
    ]
    if kind == "square":
        out.append(("max", T.meron_antimeron(lat, (k, k), (k, -k)), P.MERON_ANTIMERON))
        out.append(("max shifted", T.meron_antimeron(lat, (k, k), (k, -k), origin=(0.4, 0.7), chirality=-1),
                    P.MERON_ANTIMERON))
        out.append(("max axis", T.meron_antimeron(lat, (2 * k, 0), (0, 2 * k)), P.MERON_ANTIMERON))
    return lat, out


ALL = [(kind, L, name) for kind in ("triangular", "square") for L in (12, 24, 36)
       for name, _, _ in _cases(kind, 12)[1]]


@pytest.mark.parametrize("kind, L, name", ALL)
def test_analytic_texture_gets_its_label_with_high_confidence(kind, L, name):
    lat, cases = _cases(kind, L)
    spins, expected = next((s, e) for n, s, e in cases if n == name)
    result = classify(spins, lat)
    assert isinstance(result, Classification)
    phase, conf, evidence = result
    assert phase == expected, evidence
    assert conf > 0.8, evidence
    json.dumps(evidence)  # JSON-friendly


def test_fm_sub_labels_and_evidence():
    lat = make_lattice("triangular", 24)
    _, _, ev = classify(T.fm(lat), lat)
    assert ev["sub_label"] == "polarized" and ev["m_z"] == pytest.approx(1.0)
    _, _, ev = classify(T.canted_fm(lat, 0.5), lat)
    assert ev["sub_label"] == "canted" and ev["m_xy"] == pytest.approx(np.sqrt(0.75))


def test_skyrmion_evidence_counts_cells_and_charge():
    lat = make_lattice("triangular", 24)
    phase, _, ev = classify(T.triple_q_skx(lat), lat)
    assert phase == P.SKYRMION
    assert ev["n_cells"] == 3  # three skyrmions of 192 sites (physics.md 1.4)
    assert ev["Q_total"] == pytest.approx(-3.0) and ev["Q_per_cell"] == pytest.approx(-1.0)
    np.testing.assert_allclose(np.linalg.norm(ev["Q_vectors"], axis=1), np.pi / 6)
    assert len(ev["Q_weights"]) == 3


def test_meron_antimeron_is_not_decided_by_total_charge():
    # same Q pair, same net charge -1 per cell: out-of-plane dominated -> SKYRMION,
    # in-plane dominated with +-1/2 blobs -> MERON_ANTIMERON
    lat = make_lattice("square", 24)
    mac = T.meron_antimeron(lat)
    sq_skx = T.meron_antimeron(lat, inplane=0.5, out_of_plane=1.0, offset=1.0)
    p1, _, e1 = classify(mac, lat)
    p2, _, e2 = classify(sq_skx, lat)
    assert e1["Q_per_cell"] == pytest.approx(-1.0) and e2["Q_per_cell"] == pytest.approx(-1.0)
    assert p1 == P.MERON_ANTIMERON and p2 == P.SKYRMION


def test_unknown_when_no_rule_fits():
    lat = make_lattice("triangular", 24)
    four_q = T.multi_q(lat, [(2, 1), (-1, 1), (3, 0), (0, 3)], plane="inplane", offset=0.2)
    phase, conf, ev = classify(four_q, lat)
    assert phase == P.UNKNOWN and 0.0 <= conf <= 1.0 and ev["rule"]
    # one helix plus a second helix of 60 % weight: neither single-Q nor a closed triple
    mix = T.multi_q(lat, [(2, 1), (-1, 1)], amplitude_z=[1.0, 0.8], amplitude_e=[1.0, 0.8],
                    plane="inplane", offset=0.2)
    assert classify(mix, lat).phase == P.DOUBLE_Q


def test_energy_gap_lowers_confidence():
    lat = make_lattice("triangular", 24)
    s = T.triple_q_skx(lat)
    _, c_far, _ = classify(s, lat, energy_gap=1e-2)
    _, c_near, ev = classify(s, lat, energy_gap=1e-5)
    assert c_far > 0.99 and c_near < 0.2
    assert ev["energy_gap"] == pytest.approx(1e-5)


def test_thermal_state_without_bragg_weight_is_paramagnet():
    lat = make_lattice("square", 12)
    samples = np.stack([T.random_spins(lat, i) for i in range(4)])
    obs = measure(samples[-1], lat, samples)
    assert classify(samples[-1], lat, obs, temperature=2.0).phase == P.PARAMAGNET


def test_thresholds_are_used():
    lat = make_lattice("triangular", 24)
    s = T.helix(lat, (2, 1))  # S(Q) = S(-Q) = 1/2
    assert classify(s, lat).phase == P.SINGLE_Q
    assert classify(s, lat, thresholds=Thresholds(paramagnet_sq=0.6)).phase == P.PARAMAGNET


@pytest.mark.parametrize("kw, match", [({"temperature": -1.0}, "temperature must be"),
                                       ({"energy_gap": -1e-3}, "energy_gap must be")])
def test_bad_arguments(kw, match):
    lat = make_lattice("triangular", 12)
    with pytest.raises(ValueError, match=match):
        classify(T.fm(lat), lat, **kw)


# ----------------------------------------------------------------- invariances (hypothesis)

def _textures():
    tri, sq = make_lattice("triangular", 24), make_lattice("square", 24)
    return [
        (tri, T.helix(tri, (2, 1), offset=0.3)),
        (tri, T.triple_q_skx(tri, origin=(0.2, 0.4))),
        (tri, T.canted_fm(tri, 0.3)),
        (sq, T.triple_q_skx(sq, polarity=-1)),
        (sq, T.meron_antimeron(sq, origin=(0.3, 0.1))),
        (tri, T.multi_q(tri, [(2, 1), (-1, 1)], plane="inplane", offset=0.2)),
    ]


TEXTURES = _textures()


@settings(max_examples=30, deadline=None)
@given(which=st.integers(0, len(TEXTURES) - 1), dx=st.integers(0, 23), dy=st.integers(0, 23))
def test_label_is_invariant_under_lattice_translation(which, dx, dy):
    lat, s = TEXTURES[which]
    x, y = lat.coords[:, 0], lat.coords[:, 1]
    moved = s[lat.index(x - dx, y - dy)]
    assert classify(moved, lat).phase == classify(s, lat).phase


@settings(max_examples=30, deadline=None)
@given(which=st.integers(0, len(TEXTURES) - 1), angle=st.floats(0.0, 2 * np.pi))
def test_label_is_invariant_under_global_rotation_about_z(which, angle):
    lat, s = TEXTURES[which]
    c, sn = np.cos(angle), np.sin(angle)
    rot = np.array([[c, -sn, 0.0], [sn, c, 0.0], [0.0, 0.0, 1.0]])
    assert classify(s @ rot.T, lat).phase == classify(s, lat).phase


@pytest.fixture(scope="module")
def relaxed():
    """Relaxed states of the presets (the solver's L-BFGS), with their labels."""
    from spinexplore.physics.model import SpinModel
    from spinexplore.physics.solver import relax

    tri_m, sq_m = SpinModel.preset("triangular-chiral"), SpinModel.preset("square-chiral")
    ut, us = tri_m.natural_unit, sq_m.natural_unit
    tri, sq = make_lattice("triangular", 24), make_lattice("square", 24)
    jobs = [
        (tri, T.helix(tri, (2, 1)), tri_m.with_params({"h": 0.05 * ut}), P.SINGLE_Q),
        (tri, T.triple_q_skx(tri), tri_m.with_params({"h": 0.45 * ut}), P.SKYRMION),
        (tri, T.fm(tri), tri_m.with_params({"h": 1.0 * ut}), P.FERROMAGNET),
        (tri, T.canted_fm(tri, 0.2), tri_m.with_params({"h": 0.4 * ut, "K": 1.6 * ut}), P.FERROMAGNET),
        (sq, T.meron_antimeron(sq), sq_m.with_params({"h": 0.4 * us, "K": 1.2 * us}), P.MERON_ANTIMERON),
    ]
    out = []
    for lat, s, model, expected in jobs:
        r, _, _ = relax(s, model, lat)
        out.append((lat, r, expected))
    return out


def test_relaxed_states_keep_their_labels(relaxed):
    for lat, s, expected in relaxed:
        phase, conf, ev = classify(s, lat)
        assert phase == expected and conf > 0.8, ev


@settings(max_examples=25, deadline=None)
@given(which=st.integers(0, 4), seed=st.integers(0, 2**31 - 1), sigma=st.floats(0.0, 0.03))
def test_label_survives_small_noise_on_a_relaxed_texture(relaxed, which, seed, sigma):
    lat, s, expected = relaxed[which]
    noisy = s + sigma * np.random.default_rng(seed).normal(size=s.shape)
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    assert classify(noisy, lat).phase == expected
