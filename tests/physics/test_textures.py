"""Analytic texture builders: unit spins, the intended wavevectors, charges and magnetization."""

from __future__ import annotations

import numpy as np
import pytest

from spinexplore.physics import textures as T
from spinexplore.physics.lattice import make_lattice
from spinexplore.physics.observables import structure_factor, topological_charge

KINDS = ("triangular", "square")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("plane", T.PLANES)
@pytest.mark.parametrize("Q", [(2, 1), (1, 3), (-2, 5)])
def test_helix_neighbour_angle_is_q_dot_delta(kind, plane, Q):
    lat = make_lattice(kind, 24)
    s = T.helix(lat, Q, plane=plane)
    q = np.asarray(Q, dtype=float) @ lat.b / lat.L
    np.testing.assert_allclose(np.linalg.norm(s, axis=1), 1.0, atol=1e-14)
    for delta, nbr in zip(lat.bond_vectors(1), lat.neighbors(1).T):
        np.testing.assert_allclose(np.einsum("ij,ij->i", s, s[nbr]), np.cos(q @ delta), atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_helix_plane_and_chirality(kind):
    lat = make_lattice(kind, 24)
    q = np.array([2, 1]) @ lat.b / lat.L
    qhat = np.array([*q, 0.0]) / np.linalg.norm(q)
    neel = T.helix(lat, (2, 1), plane="neel")
    assert np.allclose(neel @ np.cross([0, 0, 1.0], qhat), 0.0)  # rotates in the (z, Q) plane
    bloch = T.helix(lat, (2, 1), plane="bloch")
    assert np.allclose(bloch @ qhat, 0.0)  # rotates in the plane normal to Q
    inplane = T.helix(lat, (2, 1), plane="inplane")
    assert np.allclose(inplane[:, 2], 0.0)
    # the two chiralities are mirror images: the vector chirality S_i x S_j flips
    left, right = T.helix(lat, (2, 1), chirality=1), T.helix(lat, (2, 1), chirality=-1)
    j = lat.neighbors(1)[:, 0]
    assert np.allclose(np.cross(left, left[j]), -np.cross(right, right[j]))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("polarity", [1, -1])
@pytest.mark.parametrize("n", [1, 2])
def test_triple_q_skx_has_one_unit_of_charge_per_magnetic_cell(kind, polarity, n):
    lat = make_lattice(kind, 24)
    Qs = T.hexagonal_triplet(lat, n)
    assert np.all(np.sum(Qs, axis=0) == 0)
    s = T.triple_q_skx(lat, Qs, polarity=polarity)
    n_cells = abs(Qs[0][0] * Qs[1][1] - Qs[0][1] * Qs[1][0])  # torus area / cell area
    assert topological_charge(s, lat) == pytest.approx(-polarity * n_cells, abs=1e-8)
    assert np.sign(s[:, 2].mean()) == polarity  # background along the polarity


def test_hexagonal_triplet_is_hexagonal_on_the_triangular_torus():
    lat = make_lattice("triangular", 24)
    q = np.array(T.hexagonal_triplet(lat, 1)) @ lat.b / lat.L
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), np.pi / 6)
    cos = q @ q.T / (np.pi / 6) ** 2
    np.testing.assert_allclose(cos[np.triu_indices(3, 1)], -0.5, atol=1e-12)


def test_meron_antimeron_crystal_has_minus_one_per_cell_and_in_plane_peaks():
    lat = make_lattice("square", 24)
    s = T.meron_antimeron(lat)  # (1,1), (1,-1): two magnetic cells
    assert topological_charge(s, lat) == pytest.approx(-2.0, abs=1e-8)
    sq_in, sq_z = structure_factor(s, lat)
    i11 = 1 + 24 * 1
    assert sq_in[i11] > 2 * sq_z[i11]
    assert 0 < s[:, 2].mean() < 0.5  # canted background
    with pytest.raises(ValueError, match="Q1 and Q2 must be given"):
        T.meron_antimeron(make_lattice("triangular", 24))


def test_fm_canted_and_random():
    lat = make_lattice("triangular", 12)
    np.testing.assert_allclose(T.fm(lat), np.tile([0, 0, 1.0], (lat.N, 1)))
    c = T.canted_fm(lat, 0.3, azimuth=0.7)
    np.testing.assert_allclose(c[:, 2], 0.3)
    np.testing.assert_allclose(np.hypot(c[:, 0], c[:, 1]), np.sqrt(1 - 0.09))
    r1, r2 = T.random_spins(lat, 5), T.random_spins(lat, 5)
    np.testing.assert_array_equal(r1, r2)
    np.testing.assert_allclose(np.linalg.norm(r1, axis=1), 1.0)
    assert T.random is T.random_spins


def test_offset_gives_a_net_moment_along_z():
    lat = make_lattice("triangular", 24)
    assert T.helix(lat, (2, 1), offset=0.5)[:, 2].mean() > 0.2
    assert abs(T.helix(lat, (2, 1))[:, 2].mean()) < 1e-12


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda lat: T.helix(lat, (0, 0)), "Q must be nonzero"),
        (lambda lat: T.helix(lat, (24, 48)), "Q must be nonzero"),
        (lambda lat: T.helix(lat, (1.5, 0)), "Q must be a pair of integers"),
        (lambda lat: T.helix(lat, (1, 0), plane="conical"), "plane must be one of"),
        (lambda lat: T.helix(lat, (1, 0), chirality=0), "chirality must be"),
        (lambda lat: T.triple_q_skx(lat, polarity=2), "polarity must be"),
        (lambda lat: T.multi_q(lat, []), "Qs must hold at least one"),
        (lambda lat: T.canted_fm(lat, 1.5), "m_z must be in"),
        (lambda lat: T.fm(lat, (0, 0, 0)), "direction must be"),
    ],
)
def test_bad_arguments_are_rejected(call, match):
    with pytest.raises(ValueError, match=match):
        call(make_lattice("triangular", 24))
