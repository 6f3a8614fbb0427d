"""The energy layer and the shared pieces under it: one normaliser, one lattice-of-spins
builder, one wavevector-orbit key, and the observables the texture fingerprint is built from."""

from __future__ import annotations

import numpy as np
import pytest

from spinexplore.physics import energy, solver, textures
from spinexplore.physics._ansatz import make_candidates
from spinexplore.physics._spins import normalize
from spinexplore.physics._texture_id import fingerprint
from spinexplore.physics.lattice import lattice_for_spins, make_lattice, orbit_key, rotations
from spinexplore.physics.model import SpinModel
from spinexplore.physics.observables import (
    ambiguous_triangles,
    structure_factor,
    topological_charge,
)

KINDS = ("triangular", "square")


def test_solver_reexports_the_energy_layer():
    for name in ("couplings", "energy_per_spin", "local_fields", "max_torque", "relax", "TORQUE_TOL"):
        assert getattr(solver, name) is getattr(energy, name)


def test_energy_scale_is_the_largest_bond_coupling():
    assert energy.energy_scale(SpinModel(lattice="square", J1=1.0, J3=-1.5, D=0.8)) == 1.5
    assert energy.energy_scale(SpinModel(lattice="square", J1=1e-4, D=0.0)) == 1e-3


def test_energy_checks_the_lattice_against_the_model():
    model = SpinModel.preset("square-chiral")
    s = textures.fm(make_lattice("triangular", 6))
    with pytest.raises(ValueError, match="lattice must be of the model's kind 'square'; got a triangular"):
        energy.energy_per_spin(s, model, make_lattice("triangular", 6))
    with pytest.raises(ValueError, match=r"must have L\*L rows; got 35 rows"):
        energy.energy_per_spin(np.ones((35, 3)), model)
    with pytest.raises(ValueError, match=r"spins must have shape \(N, 3\); got \(36, 2\)"):
        energy.local_fields(np.ones((36, 2)), model)
    # a kind string works like the default (L = sqrt(N))
    fm = textures.fm(make_lattice("square", 6))
    assert energy.energy_per_spin(fm, model, "square") == pytest.approx(-2.0)


def test_normalize_gives_unit_rows_and_plus_z_at_nodes():
    v = np.array([[3.0, 0.0, 4.0], [0.0, 0.0, 0.0], [1e-13, 0.0, 0.0], [0.0, -2.0, 0.0]])
    out = normalize(v)
    np.testing.assert_array_equal(out, [[0.6, 0.0, 0.8], [0, 0, 1], [0, 0, 1], [0, -1, 0]])
    assert out.flags.c_contiguous and v[1].tolist() == [0.0, 0.0, 0.0]  # input untouched


def test_relax_normalises_its_input_first():
    model = SpinModel.preset("triangular-chiral", h=2.0)
    lat = make_lattice("triangular", 6)
    s = 3.0 * textures.random_spins(lat, 1)
    s[0] = 0.0  # a node: becomes +z instead of NaN
    out, e, t = energy.relax(s, model, lat, tol=1e-8)
    assert np.all(np.isfinite(out)) and t <= 1e-8
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-12)
    assert e == pytest.approx(energy.energy_per_spin(out, model, lat), abs=1e-12)


def test_lattice_for_spins():
    lat = make_lattice("square", 8)
    assert lattice_for_spins(np.zeros((64, 3)), lat) is lat
    built = lattice_for_spins(np.zeros((36, 3)), "triangular")
    assert (built.kind, built.L) == ("triangular", 6)
    with pytest.raises(ValueError, match="lattice must be a Lattice with N=36 sites"):
        lattice_for_spins(np.zeros((36, 3)), lat)
    with pytest.raises(ValueError, match="lattice kind must be one of"):
        lattice_for_spins(np.zeros((36, 3)), "kagome")


@pytest.mark.parametrize("kind", KINDS)
def test_orbit_key_is_invariant_under_the_point_group_and_sign(kind):
    lat = make_lattice(kind, 12)
    rng = np.random.default_rng(0)
    qs = lat.q_vectors[rng.choice(np.arange(1, lat.N), size=3, replace=False)]
    key = orbit_key(kind, qs)
    for R in rotations(kind):
        assert orbit_key(kind, (qs @ R.T)[::-1] * np.array([[1], [-1], [1]])) == key
    assert len(rotations(kind)) == (6 if kind == "triangular" else 4)
    assert orbit_key(kind, qs * 1.5) != key


@pytest.mark.parametrize("kind", KINDS)
def test_wavevector_of_a_grid_label_is_the_grid_vector(kind):
    lat = make_lattice(kind, 24)
    for row in (1, 5, 30, 300, lat.N - 1):
        np.testing.assert_array_equal(textures.wavevector(lat, lat.q_integers[row]), lat.q_vectors[row])
    # a label outside the grid's range is the same wavevector modulo the reciprocal lattice
    q = textures.wavevector(lat, (25, 0))
    np.testing.assert_allclose(q - lat.b[0], textures.wavevector(lat, (1, 0)), atol=1e-12)


def test_rotation_plane_and_raw_superposition():
    lat = make_lattice("triangular", 12)
    e1, e2 = textures.rotation_plane(np.array([0.0, 2.0]), "bloch")
    np.testing.assert_allclose([e1, e2], [[0, 0, 1], [-1, 0, 0]])
    raw = textures.multi_q(lat, [(2, 1), (-1, 1)], offset=0.3, normalized=False)
    np.testing.assert_allclose(normalize(raw), textures.multi_q(lat, [(2, 1), (-1, 1)], offset=0.3))
    assert np.ptp(np.linalg.norm(raw, axis=1)) > 0.1  # really not normalised


def test_ambiguous_triangles():
    lat = make_lattice("triangular", 6)
    x = lat.coords[:, 0] - lat.coords[:, 1]  # sublattice index of the 120 degree state
    ang = 2 * np.pi * (x % 3) / 3
    afm = np.stack([np.cos(ang), np.sin(ang), np.zeros(lat.N)], axis=1)
    assert ambiguous_triangles(afm, lat).all()
    assert fingerprint(afm, lat)[3] is None
    assert not ambiguous_triangles(textures.fm(lat), lat).any()


@pytest.mark.parametrize("kind", KINDS)
def test_fingerprint_is_read_from_the_observables(kind):
    lat = make_lattice(kind, 24)
    s = textures.triple_q_skx(lat, offset=0.6)
    peaks, m_abs, m_z, charge = fingerprint(s, lat)
    sq = np.sum(structure_factor(s, lat), axis=0)
    sq[0] = 0.0
    lens = np.linalg.norm(lat.q_vectors, axis=1)
    assert peaks == tuple(sorted(np.round(lens[sq >= 0.25 * sq.max()], 4)))
    assert charge == round(topological_charge(s, lat)) and charge != 0
    assert m_abs == pytest.approx(np.linalg.norm(s.mean(axis=0))) and m_z == pytest.approx(s[:, 2].mean())


@pytest.mark.parametrize("dmi", ["interfacial", "bulk"])
def test_ansatz_states_are_the_texture_builders(dmi):
    """The helix and triple-Q ansatz states are textures.helix / triple_q_skx, bit for bit."""
    model = SpinModel(lattice="triangular", J1=1.0, D=0.5625, dmi=dmi, h=-0.3, K=0.2)
    lat = make_lattice("triangular", 12)
    budget = solver.PRESET_BUDGETS["fast"].ansatz
    plane = "neel" if dmi == "interfacial" else "bloch"
    seen = set()
    for cand in make_candidates(model, lat, budget):
        if cand.family not in ("helix", "triple_q"):
            continue
        labels = [tuple(int(x) for x in part.strip("()").split(",")) for part in
                  cand.detail.split(",chi=")[0].split(",m=")[0].split("+")]
        if cand.family == "helix":
            chi = int(cand.detail.split("chi=")[1].split(",")[0])
            off = float(cand.detail.split("off=")[1])
            want = textures.helix(lat, labels[0], plane=plane, chirality=-chi, offset=-off)
        else:
            m = float(cand.detail.split("m=")[1])
            chi0 = -1 if dmi == "interfacial" else 1  # the sense D > 0 favours here
            want = -textures.triple_q_skx(lat, labels, plane=plane, chirality=-chi0, offset=m)
            np.testing.assert_allclose(topological_charge(want, lat), round(topological_charge(want, lat)),
                                       atol=1e-8)
        np.testing.assert_array_equal(cand.spins, want)
        seen.add(cand.family)
    assert seen == {"helix", "triple_q"}
