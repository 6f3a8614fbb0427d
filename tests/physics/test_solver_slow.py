"""End-to-end ground-state searches at L = 24 (marked slow; CI runs them with -m slow).

Expected phases come from physics.md 1.3-1.6 (literature and the reference notes), the energies
from the analytic formulas of physics.md 2.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from spinexplore.physics.lattice import make_lattice
from spinexplore.physics.model import SpinModel
from spinexplore.physics.solver import energy_per_spin, max_torque, simulate

pytestmark = pytest.mark.slow


def classify_phase(gs):
    from spinexplore.physics.classify import classify
    return classify(gs.spins, gs.lattice, energy_gap=gs.gap)


@pytest.mark.parametrize(
    ("preset", "h", "K"),
    [("triangular-chiral", 0.3, 0.0), ("triangular-chiral", 0.7, 0.0), ("square-chiral", 0.5, 1.2)],
)
def test_larger_budget_never_returns_a_higher_energy(preset, h, K):
    m0 = SpinModel.preset(preset)
    model = m0.with_params({"h": h * m0.natural_unit, "K": K * m0.natural_unit})
    energies = [simulate(model, 24, mode, seed=9).energy for mode in ("screening", "fast", "accurate")]
    # up to the 1e-9 tolerance within which equal-energy candidates are tie-broken by family
    assert energies[2] <= energies[1] + 2e-9
    assert energies[1] <= energies[0] + 2e-9


@pytest.mark.parametrize(
    ("h_over_u", "phase", "charge"),
    [(0.1, "SINGLE_Q", 0), (0.45, "SKYRMION", -3), (1.0, "FERROMAGNET", 0)],
)
def test_triangular_field_cut(h_over_u, phase, charge):
    # physics.md 1.5/1.6: helix -> skyrmion crystal (Q = -3 on L = 24) -> polarized FM at K = 0
    m0 = SpinModel.preset()
    gs = simulate(m0.with_params({"h": h_over_u * m0.natural_unit}), 24, "fast", seed=2)
    assert gs.max_torque <= 1e-6
    np.testing.assert_allclose(np.linalg.norm(gs.spins, axis=1), 1.0, atol=1e-12)
    result = classify_phase(gs)
    assert result.phase.name == phase
    assert round(result.evidence["Q_total"]) == charge


def test_polarized_fm_energy_at_high_field():
    # check 1 through the full search: h = 1.0 u > SkX window, E = -3 J + K - h
    m0 = SpinModel.preset()
    h = 1.0 * m0.natural_unit
    gs = simulate(m0.with_params({"h": h}), 24, "fast", seed=4)
    assert gs.energy == pytest.approx(-3.0 - h, abs=1e-9)


@pytest.mark.parametrize(
    ("K_over_u", "phase"),
    [(0.5, "SKYRMION"), (1.2, "MERON_ANTIMERON"), (1.6, "SINGLE_Q"), (2.5, "FERROMAGNET")],
)
def test_square_anisotropy_cut(K_over_u, phase):
    # physics.md 1.4-1.5: at h ~ 0.5 u, easy-plane K takes the square-chiral model from a
    # skyrmion state to the square meron-antimeron crystal (diagonal pair (1,1),(1,-1) 2 pi/24,
    # Q = -1 per cell, 2 cells), to a cone about an in-plane axis, to a canted FM.
    m0 = SpinModel.preset("square-chiral")
    u = m0.natural_unit
    gs = simulate(m0.with_params({"h": 0.5 * u, "K": K_over_u * u}), 24, "fast", seed=2)
    result = classify_phase(gs)
    assert result.phase.name == phase
    if phase == "MERON_ANTIMERON":
        lat = gs.lattice
        f = np.fft.fft2(gs.spins.reshape(24, 24, 3), axes=(0, 1))
        sq = (np.abs(f) ** 2).sum(axis=2).ravel() / lat.N**2
        sq[0] = 0.0
        top = {tuple(abs(v) for v in lat.q_integers[k]) for k in np.argsort(sq)[-4:]}
        assert top == {(1, 1)}
        assert round(result.evidence["Q_total"]) == -2


def test_120_degree_state_at_l24():
    # check 12: triangular AFM (J1 < 0 here), E = -1.5 J per spin
    gs = simulate(SpinModel(lattice="triangular", J1=-1.0), 24, "fast", seed=0)
    assert gs.energy == pytest.approx(-1.5, abs=1e-9)
    assert gs.max_torque <= 1e-6


@pytest.mark.parametrize("dmi", ["interfacial", "bulk"])
def test_bulk_and_interfacial_give_the_same_ground_state_energy(dmi):
    # check 7 through the whole search
    m0 = SpinModel.preset()
    model = m0.with_params({"h": 0.4 * m0.natural_unit})
    e_int = simulate(model, 24, "fast", seed=1).energy
    e_other = simulate(SpinModel.preset(dmi=dmi, h=model.h), 24, "fast", seed=1).energy
    assert e_other == pytest.approx(e_int, abs=1e-8)


def test_accurate_is_deterministic_and_translation_invariant():
    m0 = SpinModel.preset()
    model = m0.with_params({"h": 0.6 * m0.natural_unit, "K": 0.5 * m0.natural_unit})
    a = simulate(model, 24, "accurate", seed=123)
    b = simulate(model, 24, "accurate", seed=123)
    np.testing.assert_array_equal(a.spins, b.spins)
    assert a.max_torque <= 1e-6 and max_torque(a.spins, model) <= 1e-6
    moved = np.roll(a.spins.reshape(24, 24, 3), (5, 3), axis=(0, 1)).reshape(-1, 3)
    assert energy_per_spin(moved, model) == pytest.approx(a.energy, abs=1e-12)
    assert energy_per_spin(a.spins, model, make_lattice("triangular", 24)) == pytest.approx(a.energy, abs=1e-12)
    assert math.isfinite(a.gap) and a.gap >= 0


def test_accurate_keeps_the_square_meron_state_at_the_audit_edge():
    # benchmarks/ground_state_audit.py, square preset, h/u = 1.2, K/u = 1.375: its independent
    # pool finds a meron-antimeron state at -2.1799342 J per spin; the accurate preset reaches
    # -2.1799160 from the helix (-2,1), chi = -1, off = 1 (as at eae91a8). With the reassociated
    # dot products of the L-BFGS that helix relaxed into another minimum and the search stopped
    # at -2.1798867 (issue 20): the helices keep the exact arithmetic.
    m0 = SpinModel.preset("square-chiral")
    u = m0.natural_unit
    gs = simulate(m0.with_params({"h": 1.2 * u, "K": 1.375 * u}), 24, "accurate", seed=0)
    assert gs.label == "MERON_ANTIMERON"
    assert gs.energy <= -2.1799160 + 1e-7
    assert gs.energy >= -2.1799342 - 1e-7  # not below the audit's best (a check of the energy)


@pytest.mark.parametrize(("h_over_u", "K_over_u", "energy"),
                         [(0.96, 0.75, -2.2679175796318), (0.24, 0.75, -2.0931363127967)])
def test_fast_anneal_is_not_judged_frozen_while_it_can_still_heal(h_over_u, K_over_u, energy):
    # benchmarks/ground_state_audit.py, square preset, `fast` with the audit's seeds: an anneal
    # heals late into the skyrmion state below every ansatz state (the audit's best known energy
    # at 0.96 / 0.75, the one eae91a8 reached at 0.24 / 0.75), after quenches at successive
    # checkpoints agreed within 2e-5, which the frozen rule used to stop (at 30 % and 60 %).
    from spinexplore.simulation import point_seed

    m0 = SpinModel.preset("square-chiral")
    u = m0.natural_unit
    params = {"h": h_over_u * u, "K": K_over_u * u}
    gs = simulate(m0.with_params(params), 24, "fast", seed=point_seed(0, params))
    assert gs.label == "SKYRMION"
    assert gs.energy == pytest.approx(energy, abs=1e-9)
