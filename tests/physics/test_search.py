"""The named stages of the ground-state search (``physics/_search.py``, issue 25) against the
analytic checks of physics.md section 2 and the rules stated in the solver's docstring."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spinexplore.physics._search import (Candidate, Clock, Search, anneal_candidates,
                                         coarse_relaxation, pick_ground_state, pick_winner, refine)
from spinexplore.physics.energy import couplings
from spinexplore.physics.lattice import make_lattice
from spinexplore.physics.model import SpinModel
from spinexplore.physics.solver import PRESET_BUDGETS
from spinexplore.physics.textures import fm


def _search(model: SpinModel, L: int, mode: str) -> Search:
    lattice = make_lattice(model.lattice, L)
    return Search(model, lattice, PRESET_BUDGETS[mode], *couplings(model, L), Clock(None))


@pytest.mark.parametrize("preset, z_b", [("triangular-chiral", 3), ("square-chiral", 2)])
def test_the_stages_find_the_analytic_polarized_and_canted_fm(preset, z_b):
    # physics.md 2, checks 1 and 2: FM along z, E = -z_b J + K - h (h above saturation), and
    # the canted FM, E = -z_b J - h^2 / 4K, for easy-plane K with h < 2K
    for h, K, family, exact in ((6.0, 0.5, "fm_z", -z_b + 0.5 - 6.0),
                                (0.2, 1.5, "fm_canted", -z_b - 0.2 ** 2 / (4 * 1.5))):
        search = _search(SpinModel.preset(preset).with_params({"h": h, "K": K, "D": 0.0}), 12,
                         "screening")
        ansatz = coarse_relaxation(search)
        candidates = ansatz + anneal_candidates(search, [], ansatz)
        assert len(candidates) == len(ansatz)  # screening runs no anneal
        refine(search, candidates)
        verdict = pick_ground_state(search, candidates)
        winner = candidates[verdict.winner]
        assert winner.family == family
        assert winner.energy == pytest.approx(exact, abs=1e-9)
        assert verdict.label == "FERROMAGNET"
        assert [candidates[k].energy for k in verdict.order] == sorted(c.energy for c in candidates)
        assert set(search.stats.iterations) >= {"coarse", "refine"}


def test_pick_winner_breaks_ties_towards_the_simplest_family_among_converged_states():
    lat = make_lattice("square", 6)
    s = fm(lat)

    def cand(family, energy, torque=1e-8):
        return Candidate(family, f"{family}:x", s, energy, torque)

    # within 1e-9 J per spin: the same state, named by the simplest family
    cands = [cand("anneal", -2.0), cand("triple_q", -2.0 + 4e-10), cand("fm_z", -2.0 + 8e-10),
             cand("helix", -1.5)]
    order = sorted(range(len(cands)), key=lambda k: cands[k].energy)
    assert cands[pick_winner(cands, order)].family == "fm_z"
    # beyond the tie window the lower energy wins whatever its family
    cands[2] = cand("fm_z", -2.0 + 2e-9)
    assert cands[pick_winner(cands, order)].family == "triple_q"
    # a lower state that did not converge loses to a converged one; with none converged it wins
    cands = [cand("triple_q", -3.0, torque=1e-3), cand("helix", -2.0)]
    assert cands[pick_winner(cands, [0, 1])].family == "helix"
    cands[1] = cand("helix", -2.0, torque=1e-3)
    assert cands[pick_winner(cands, [0, 1])].family == "triple_q"


def test_copies_of_one_texture_give_an_infinite_texture_gap():
    model = SpinModel.preset("square-chiral").with_params({"h": 6.0, "K": 0.0, "D": 0.0})
    search = _search(model, 6, "screening")
    s = fm(search.lattice)
    e = -2.0 - 6.0
    cands = [Candidate("fm_z", "fm_z:+z", s.copy(), e, 0.0),
             Candidate("anneal", "anneal:0", s.copy(), e, 0.0)]
    verdict = pick_ground_state(search, cands)
    assert cands[verdict.winner].family == "fm_z"
    assert math.isinf(verdict.gap) and math.isinf(verdict.label_gap)
    assert np.array_equal(cands[verdict.winner].spins, s)
