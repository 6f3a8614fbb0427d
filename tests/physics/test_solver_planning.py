"""The planned ground-state search (issue 20): batched relaxation, anneal checkpoints, cached
ansatz templates, fingerprints and the per-stage statistics."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from spinexplore.physics import _kernels, _lbfgs, _lbfgs_pairs
from spinexplore.physics._ansatz import make_candidates
from spinexplore.physics._sampling import anneal, rng_state
from spinexplore.physics._texture_id import fingerprint
from spinexplore.physics.energy import couplings
from spinexplore.physics.lattice import make_lattice
from spinexplore.physics.model import SpinModel
from spinexplore.physics.observables import ambiguous_triangles, topological_charge_density
from spinexplore.physics.solver import PRESET_BUDGETS, simulate
from spinexplore.physics.textures import random_spins, triple_q_skx


class _NoClock:
    def check(self, stage):
        pass


def test_relax_many_equals_one_relax_call_per_state():
    model = SpinModel.preset(h=0.3, K=0.2)
    lat = make_lattice("triangular", 12)
    nbr, mats = couplings(model, 12)
    rng = np.random.default_rng(1)
    stack = rng.normal(size=(4, lat.N, 3))
    stack /= np.linalg.norm(stack, axis=2, keepdims=True)
    caps = np.array([5, 50, 500, 5000], dtype=np.int64)
    e, t, it = np.empty(4), np.empty(4), np.empty(4, dtype=np.int64)
    exact = np.array([True, False, True, False])
    batch = stack.copy()
    _lbfgs_pairs.relax_many(batch, nbr, mats, model.K, model.h, 1e-3, caps, 10, exact, e, t, it)
    for c in range(4):
        s = stack[c].copy()
        e1, t1, it1 = _lbfgs.relax(s, nbr, mats, model.K, model.h, 1e-3, int(caps[c]), 10,
                                     bool(exact[c]), -np.inf)
        np.testing.assert_array_equal(batch[c], s)
        assert (e[c], t[c], it[c]) == (e1, t1, it1)
    assert it[0] == 5 and t[3] <= 1e-3


def test_relax_many_relaxes_exact_states_two_at_a_time_bit_for_bit():
    """The exact states go through ``relax_pairs`` (two slots, the next state taking the slot
    of one that ends): each gets exactly the result of its own ``relax`` call, whatever its
    cap, also one converged before it starts and one running past a memory reset (200
    iterations)."""
    model = SpinModel.preset(h=0.3, K=0.2)
    lat = make_lattice("triangular", 12)
    nbr, mats = couplings(model, 12)
    rng = np.random.default_rng(3)
    stack = rng.normal(size=(6, lat.N, 3))
    stack /= np.linalg.norm(stack, axis=2, keepdims=True)
    _lbfgs.relax(stack[2], nbr, mats, model.K, model.h, 1e-4, 5000, 10, True, -np.inf)
    caps = np.array([0, 7, 900, 40, 260, 3], dtype=np.int64)
    exact = np.array([True, True, True, False, True, True])
    e, t, it = np.empty(6), np.empty(6), np.empty(6, dtype=np.int64)
    batch = stack.copy()
    _lbfgs_pairs.relax_many(batch, nbr, mats, model.K, model.h, 1e-4, caps, 10, exact, e, t, it, 6)
    for c in range(6):
        s = stack[c].copy()
        e1, t1, it1 = _lbfgs.relax(s, nbr, mats, model.K, model.h, 1e-4, int(caps[c]),
                                     10 if exact[c] else 6, bool(exact[c]), -np.inf)
        np.testing.assert_array_equal(batch[c], s)
        assert (e[c], t[c], it[c]) == (e1, t1, it1)
    assert it[0] == 0 and it[2] == 0 and it[4] > 200


def test_relax_many_gives_the_fast_arithmetic_its_own_memory():
    """``memory_fast`` (the solver's 6 pairs) applies to the states without ``exact`` only."""
    model = SpinModel.preset(h=0.3, K=0.2)
    lat = make_lattice("triangular", 12)
    nbr, mats = couplings(model, 12)
    rng = np.random.default_rng(2)
    stack = rng.normal(size=(2, lat.N, 3))
    stack /= np.linalg.norm(stack, axis=2, keepdims=True)
    caps = np.array([400, 400], dtype=np.int64)
    exact = np.array([True, False])
    e, t, it = np.empty(2), np.empty(2), np.empty(2, dtype=np.int64)
    batch = stack.copy()
    _lbfgs_pairs.relax_many(batch, nbr, mats, model.K, model.h, 1e-6, caps, 10, exact, e, t, it, 6)
    for c, memory in ((0, 10), (1, 6)):
        s = stack[c].copy()
        e1, t1, it1 = _lbfgs.relax(s, nbr, mats, model.K, model.h, 1e-6, 400, memory,
                                     bool(exact[c]), -np.inf)
        np.testing.assert_array_equal(batch[c], s)
        assert (e[c], t[c], it[c]) == (e1, t1, it1)
    s = stack[1].copy()
    assert _lbfgs.relax(s, nbr, mats, model.K, model.h, 1e-6, 400, 10, False, -np.inf)[2] != it[1]


def test_anneal_checkpoints_change_nothing_unless_they_stop():
    model = SpinModel.preset(h=0.2)
    lat = make_lattice("triangular", 12)
    nbr, mats = couplings(model, 12)
    temps = np.geomspace(1.0, 0.01, 300)
    ss = np.random.SeedSequence(5)
    runs = []
    for kwargs in ({}, {"checkpoints": (0.2, 0.5), "stop": lambda s, n: False}):
        s = random_spins(lat, ss)
        sigma, done = anneal(s, nbr, mats, model, temps, 1, rng_state(ss), _NoClock(), **kwargs)
        runs.append((s, sigma, done))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1:] == runs[1][1:] and runs[0][2] == 300
    seen = []
    s = random_spins(lat, ss)
    _, done = anneal(s, nbr, mats, model, temps, 1, rng_state(ss), _NoClock(),
                     checkpoints=(0.2, 0.5), stop=lambda s, n: seen.append(n) or n >= 150)
    assert seen == [60, 150] and done == 150


def test_templates_are_shared_read_only_and_independent_of_h_and_K():
    lat = make_lattice("square", 24)
    budget = PRESET_BUDGETS["fast"].ansatz
    m0 = SpinModel.preset("square-chiral")
    a = make_candidates(m0.with_params({"h": 0.1, "K": 0.2}), lat, budget)
    b = make_candidates(m0.with_params({"h": 0.3, "K": 0.9}), lat, budget)
    assert [c.name for c in a if c.family != "cone" and not c.family.startswith("fm")] == \
        [c.name for c in b if c.family != "cone" and not c.family.startswith("fm")]
    shared = [(x, y) for x, y in zip(a, b) if x.family in ("helix", "single_q", "triple_q")]
    assert shared and all(x.spins is y.spins for x, y in shared)
    assert all(not c.spins.flags.writeable for c in a)
    cone_a = next(c for c in a if c.family == "cone")
    cone_b = next(c for c in b if c.family == "cone")
    assert not np.allclose(cone_a.spins, cone_b.spins)  # the cone axis follows h / 2K
    # the opposite field sign builds its own (reversed) states
    c = make_candidates(m0.with_params({"h": -0.1, "K": 0.2}), lat, budget)
    hel = next(x for x in c if x.family == "helix" and "off=0.5" in x.name)
    hel_a = next(x for x in a if x.name == hel.name)
    assert np.mean(hel.spins[:, 2]) == pytest.approx(-np.mean(hel_a.spins[:, 2]))


@pytest.mark.parametrize("kind", ["triangular", "square"])
def test_fingerprint_charge_matches_the_observables(kind):
    lat = make_lattice(kind, 12)
    q = [(2, 0), (0, 2), (-2, -2)] if kind == "triangular" else [(2, 0), (0, 2)]
    states = [random_spins(lat, np.random.SeedSequence(3))]
    if kind == "triangular":
        states.append(triple_q_skx(lat, q, offset=0.5))
        x, y = lat.coords[:, 0], lat.coords[:, 1]
        ang = 2 * np.pi / 3 * ((x + 2 * y) % 3)  # 120 degree state: ambiguous triangles
        states.append(np.stack([np.cos(ang), np.sin(ang), 0 * ang], axis=1))
    for s in states:
        fp = fingerprint(s, lat)
        if np.any(ambiguous_triangles(s, lat)):
            assert fp[3] is None
        else:
            assert fp[3] == int(round(float(topological_charge_density(s, lat).sum())))
    if kind == "triangular":
        assert fingerprint(states[2], lat)[3] is None


def test_stats_account_for_the_stages():
    gs = simulate(SpinModel.preset(h=0.3), 12, "fast", seed=4)
    st = gs.stats
    assert set(st["seconds"]) == {"coarse", "anneal", "refine", "classify"}
    assert all(v >= 0 for v in st["seconds"].values())
    assert st["candidates"] == len(gs.candidates)
    assert 1 <= st["refined"] <= st["candidates"]
    assert 0 < st["anneal_sweeps"] <= 2 * PRESET_BUDGETS["fast"].anneal_sweeps
    assert st["iterations"]["coarse"] > 0
    thermal = simulate(SpinModel.preset(h=0.3, T=1.0), 12, "screening", seed=4)
    assert thermal.stats == {}


@pytest.mark.parametrize("kind", ["triangular", "square"])
def test_solid_angle_charge_kernel_matches_the_observables(kind):
    lat = make_lattice(kind, 12)
    for seed in (1, 2):
        s = random_spins(lat, np.random.SeedSequence(seed))
        ambiguous, q = _kernels.solid_angle_charge(s, lat.triangles, 1e-9)
        assert not ambiguous
        assert q == pytest.approx(float(topological_charge_density(s, lat).sum()), abs=1e-9)
    fm = np.tile([0.0, 0.0, 1.0], (lat.N, 1))
    assert _kernels.solid_angle_charge(fm, lat.triangles, 1e-9) == (False, 0.0)


@njit
def _exp_decides(u, x):
    return u < np.exp(-x)


def test_metropolis_bounds_decide_as_exp_does():
    """The cheap bounds of the acceptance test give the decision ``u < exp(-x)`` itself,
    also next to ``exp(-x)`` (one ulp either side), at u = 0 and where exp underflows."""
    rng = np.random.default_rng(3)
    xs = np.concatenate([np.geomspace(1e-18, 1e3, 400), [36.0, 36.7, 37.0, 40.0, 745.0, 800.0]])
    checked = 0
    for x in xs:
        e = float(np.exp(-x))
        us = [0.0, e, np.nextafter(e, 0.0), np.nextafter(e, 1.0), 1.0 - x, 1.0 / (1.0 + x),
              *rng.random(20)]
        for u in us:
            if 0.0 <= u < 1.0:
                assert _kernels._metropolis(u, x) == _exp_decides(u, x), (u, x)
                checked += 1
    assert checked > 8000


@njit
def _mc_sweeps_reference(spins, nbr, mats, K, h, temps, sigma, rng, n_over, target):
    """The Metropolis sweeps as every release before issue 20 wrote them (generator state in
    ``rng`` throughout, ``exp`` at every uphill proposal)."""
    n = spins.shape[0]
    for t in range(temps.shape[0]):
        beta = 1.0 / temps[t]
        acc = 0
        for i in range(n):
            fx, fy, fz = _kernels._pair_field(spins, nbr, mats, i)
            fz += h
            while True:
                vx = 2.0 * _kernels._uniform(rng) - 1.0
                vy = 2.0 * _kernels._uniform(rng) - 1.0
                vz = 2.0 * _kernels._uniform(rng) - 1.0
                if vx * vx + vy * vy + vz * vz <= 1.0:
                    break
            ox, oy, oz = spins[i, 0], spins[i, 1], spins[i, 2]
            nx, ny, nz = ox + sigma * vx, oy + sigma * vy, oz + sigma * vz
            norm = np.sqrt(nx * nx + ny * ny + nz * nz)
            if norm < 1e-12:
                continue
            nx /= norm
            ny /= norm
            nz /= norm
            de = -((nx - ox) * fx + (ny - oy) * fy + (nz - oz) * fz) + K * (nz * nz - oz * oz)
            if de <= 0.0 or _kernels._uniform(rng) < np.exp(-beta * de):
                spins[i, 0], spins[i, 1], spins[i, 2] = nx, ny, nz
                acc += 1
        if target > 0.0:
            sigma = min(max(sigma * (1.0 + (acc / n - target)), 1e-4), 3.0)
        if K == 0.0:
            for _ in range(n_over):
                for i in range(n):
                    fx, fy, fz = _kernels._pair_field(spins, nbr, mats, i)
                    fz += h
                    f2 = fx * fx + fy * fy + fz * fz
                    if f2 < 1e-24:
                        continue
                    c = 2.0 * (spins[i, 0] * fx + spins[i, 1] * fy + spins[i, 2] * fz) / f2
                    nx = c * fx - spins[i, 0]
                    ny = c * fy - spins[i, 1]
                    nz = c * fz - spins[i, 2]
                    norm = np.sqrt(nx * nx + ny * ny + nz * nz)
                    spins[i, 0], spins[i, 1], spins[i, 2] = nx / norm, ny / norm, nz / norm
    return sigma


@pytest.mark.parametrize("kind,h,K", [("triangular-chiral", 0.2, 0.0),
                                      ("triangular-chiral", 0.5, 1.2),
                                      ("square-chiral", 0.2, 0.6)])
@pytest.mark.parametrize("target", [0.45, -1.0])
def test_mc_sweeps_repeat_the_reference_trajectory_bit_for_bit(kind, h, K, target):
    """Same random numbers, same decisions, same spins and generator state as the plain kernel,
    annealing (adaptive step) and sampling (frozen step), with and without over-relaxation."""
    model = SpinModel.preset(kind, h=h, K=K)
    lat = make_lattice(model.lattice, 12)
    nbr, mats = couplings(model, 12)
    temps = np.geomspace(2.0, 0.01, 120)
    ss = np.random.SeedSequence(11)
    s1 = random_spins(lat, ss)
    s2 = s1.copy()
    r1, r2 = rng_state(ss), rng_state(ss)
    sigma1, _ = _kernels.mc_sweeps(s1, nbr, mats, model.K, model.h, temps, 0.5, r1, 1, target)
    sigma2 = _mc_sweeps_reference(s2, nbr, mats, model.K, model.h, temps, 0.5, r2, 1, target)
    assert s1.tobytes() == s2.tobytes()
    assert r1.tobytes() == r2.tobytes() and sigma1 == sigma2



_COMPILES = """
import sys
from numba.core import event

compiled = []


class Recorder(event.Listener):
    def on_start(self, ev):
        pass

    def on_end(self, ev):
        compiled.append((ev.data["dispatcher"].py_func.__qualname__, str(ev.data["args"])))


event.register("numba:compile", Recorder())
sys.path.insert(0, sys.argv[1])
import warm_kernels

warm_kernels.warm()
for name, args in compiled:
    print(name, "|", args)
"""


@pytest.mark.slow
def test_a_fresh_cache_compiles_relax_once_and_no_error_message_formatting(tmp_path):
    """Compile cost of a fresh numba cache (every new venv, CI run and a user's first
    simulation): every caller of ``_lbfgs.relax`` (the search's stages, ``relax_many``,
    ``energy.relax``) passes ``exact`` as a run-time ``bool``, since a literal ``True``/``False``
    from compiled code or an omitted flag makes numba compile another full specialization (about
    5 s each); and no kernel assigns an array to a slice, whose shape-mismatch message compiles
    string formatting (about 10 s)."""
    import subprocess
    import sys
    from pathlib import Path

    helpers = Path(__file__).resolve().parents[1] / "helpers"
    env = {**__import__("os").environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", _COMPILES, str(helpers)], env=env, check=True,
                         capture_output=True, text=True).stdout.splitlines()
    names = [line.split(" | ")[0] for line in out]
    assert names.count("relax") == 1, [line for line in out if line.startswith("relax ")]
    assert not [n for n in names if "raise_with_shape_context" in n or "join" in n], names


def test_relax_ends_at_e_stop_and_a_quench_that_stops_early_changes_no_result(monkeypatch):
    """``e_stop``: the relaxation ends once the energy is at or below it; the anneal's
    checkpoint quenches that only the margin rule reads use it, and every result of the search
    (energy, spins, label, gaps) is bit for bit that of quenches run to the torque."""
    from spinexplore.physics import _search

    model = SpinModel.preset(h=0.3, K=0.2)
    nbr, mats = couplings(model, 12)
    s0 = random_spins(make_lattice("triangular", 12), np.random.default_rng(3))
    full = s0.copy()
    e_full, _, it_full = _lbfgs.relax(full, nbr, mats, model.K, model.h, 1e-3, 5000, 6, False,
                                      -np.inf)
    e_stop = e_full + 0.02 * 144
    part = s0.copy()
    e_part, _, it_part = _lbfgs.relax(part, nbr, mats, model.K, model.h, 1e-3, 5000, 6, False,
                                      e_stop)
    assert e_part <= e_stop < e_full + 0.03 * 144 and 0 < it_part < it_full

    points = [SpinModel.preset(h=h, K=K) for h, K in ((0.1, 0.0), (0.3, 0.2), (0.6, 0.5))]
    early = [simulate(m, 12, "fast", seed=2) for m in points]
    monkeypatch.setattr(_search, "next_mark", lambda marks, sweeps: np.inf)  # never early
    late = [simulate(m, 12, "fast", seed=2) for m in points]
    for a, b in zip(early, late):
        np.testing.assert_array_equal(a.spins, b.spins)
        assert (a.energy, a.label, a.gap, a.label_gap) == (b.energy, b.label, b.gap, b.label_gap)
    quench = [g.stats["iterations"]["anneal_quench"] for g in early + late]
    assert sum(quench[:3]) < sum(quench[3:])
