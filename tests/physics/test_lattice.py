"""Lattice geometry checked against independent facts (reciprocal basis, FFT order, areas)."""

from __future__ import annotations

import numpy as np
import pytest

from spinexplore.physics.lattice import make_lattice

KINDS = ("triangular", "square")


@pytest.mark.parametrize("kind", KINDS)
def test_reciprocal_basis(kind):
    lat = make_lattice(kind, 12)
    np.testing.assert_allclose(lat.a @ lat.b.T, 2 * np.pi * np.eye(2), atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_neighbours_are_at_bond_distance(kind):
    lat = make_lattice(kind, 12)
    for shell, dist in zip((1, 2, 3), ((1, np.sqrt(3), 2) if kind == "triangular" else (1, np.sqrt(2), 2))):
        nb = lat.neighbors(shell)
        assert nb.shape == (lat.N, 3 if kind == "triangular" else 2)
        np.testing.assert_allclose(np.linalg.norm(lat.bond_vectors(shell), axis=1), dist)
        # minimum-image distance between i and its neighbour equals the bond length
        for b in range(nb.shape[1]):
            d = lat.positions[nb[:, b]] - lat.positions
            shifts = np.array([[i, j] for i in (-1, 0, 1) for j in (-1, 0, 1)]) @ (lat.L * lat.a)
            dmin = np.min(np.linalg.norm(d[:, None, :] + shifts[None], axis=2), axis=1)
            np.testing.assert_allclose(dmin, dist, atol=1e-9)


@pytest.mark.parametrize("kind", KINDS)
def test_all_neighbors_backward_consistency(kind):
    lat = make_lattice(kind, 8)
    full = lat.all_neighbors(1)
    z = full.shape[1] // 2
    for b in range(z):
        # j = i + delta  <=>  i = j - delta
        np.testing.assert_array_equal(full[full[:, b], z + b], np.arange(lat.N))


@pytest.mark.parametrize("kind", KINDS)
def test_q_vectors_match_fft_order(kind):
    lat = make_lattice(kind, 12)
    for k in (1, 7, 30, 100):
        q = lat.q_vectors[k]
        wave = np.exp(1j * lat.positions @ q)
        f = np.fft.fft2(wave.reshape(lat.L, lat.L))
        assert np.argmax(np.abs(f).ravel()) == k


@pytest.mark.parametrize("kind", KINDS)
def test_triangles_tile_the_torus_counterclockwise(kind):
    lat = make_lattice(kind, 8)
    tri = lat.triangles
    assert tri.shape == (2 * lat.N, 3)
    # unwrap each triangle around its first vertex, then check positive area summing to the cell
    p = lat.positions
    cell = lat.L * lat.a
    area = 0.0
    for t in tri:
        v = [p[t[0]]]
        for j in t[1:]:
            d = p[j] - p[t[0]]
            cands = [d + i * cell[0] + k * cell[1] for i in (-1, 0, 1) for k in (-1, 0, 1)]
            v.append(p[t[0]] + min(cands, key=np.linalg.norm))
        e1, e2 = v[1] - v[0], v[2] - v[0]
        a = 0.5 * (e1[0] * e2[1] - e1[1] * e2[0])
        assert a > 0
        area += a
    assert area == pytest.approx(abs(np.linalg.det(cell)))


@pytest.mark.parametrize(("kind", "L", "exc"), [("square", 7, ValueError), ("square", 0, ValueError),
                                                ("square", -4, ValueError), ("honeycomb", 12, ValueError),
                                                ("square", 12.0, TypeError)])
def test_bad_arguments(kind, L, exc):
    with pytest.raises(exc):
        make_lattice(kind, L)
