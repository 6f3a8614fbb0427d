"""Fidelity ladders: the per-rung record, the promotion policy, both schedules, the store, the CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spinexplore import ActiveLearningExplorer, ParameterSpace, PhaseType, PointStatus, SimulationResult
from spinexplore.errors import InputError
from spinexplore.execution import SequentialExecutor
from spinexplore.fidelity import Ladder, fidelity_summary, merge_result, parse_ladder_spec, rung_of, rung_results
from spinexplore.promotion import PromotionPolicy
from spinexplore.results import PointRecord

SPACE = ParameterSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)})
CHEAP_COST, COSTLY_COST = 0.01, 0.3  # declared simulation times (no sleeping)


def truth(p) -> PhaseType:
    return PhaseType.FERROMAGNET if p["x"] > 0.45 + 0.2 * p["y"] else PhaseType.SINGLE_Q


def costly(p):
    return SimulationResult(phase=truth(p), confidence=1.0, energy=-1.0, duration=COSTLY_COST)


def cheap_wrong_in_a_band(p):
    """Right far from the boundary; flipped within 0.12 of it where y < 0.5."""
    label = truth(p)
    if p["y"] < 0.5 and abs(p["x"] - 0.45 - 0.2 * p["y"]) < 0.12:
        label = PhaseType.SINGLE_Q if label == PhaseType.FERROMAGNET else PhaseType.FERROMAGNET
    return SimulationResult(phase=label, confidence=0.8, energy=-0.9, duration=CHEAP_COST)


def cheap_right(p):
    return SimulationResult(phase=truth(p), confidence=0.8, energy=-0.9, duration=CHEAP_COST)


def inline(n_jobs: int = 1) -> dict:
    """Run options: in this process for one worker (no worker start-up in a fast test)."""
    return {"executor": SequentialExecutor(isolate=False)} if n_jobs == 1 else {"n_jobs": n_jobs}


def _accuracy(ex) -> float:
    g = np.linspace(0.01, 0.99, 25)
    G = np.array([(a, b) for a in g for b in g])
    pred, _ = ex.predict(G)
    return float((pred == np.array([int(truth({"x": a, "y": b})) for a, b in G])).mean())


# ------------------------------------------------------------------------------ the record
def test_merge_keeps_every_rung_and_the_best_label_on_top():
    cheap = SimulationResult(phase="SINGLE_Q", confidence=0.6, energy=-1.0, duration=0.1,
                             observables={"m_z": 0.2})
    first = merge_result(None, 0, cheap)
    assert rung_of(first) == 0 and first.phase == PhaseType.SINGLE_Q
    assert first.observables["m_z"] == 0.2
    best = merge_result(first, 1, SimulationResult(phase="SKYRMION", confidence=0.9, energy=-1.1, duration=3.0))
    assert best.phase == PhaseType.SKYRMION and best.energy == -1.1 and rung_of(best) == 1
    entries = rung_results(best)
    assert [e.phase for e in entries.values()] == [PhaseType.SINGLE_Q, PhaseType.SKYRMION]
    assert [e.cost for e in entries.values()] == [0.1, 3.0]
    assert entries[0].confidence == 0.6 and entries[1].energy == -1.1


def test_a_failed_promotion_keeps_the_cheap_label_and_records_the_attempt():
    first = merge_result(None, 0, SimulationResult(phase="SINGLE_Q", confidence=0.6, duration=0.1))
    after = merge_result(first, 1, SimulationResult(phase="TIMEOUT", confidence=0.0, duration=5.0,
                                                    error="timed out after 5 s"))
    assert after.phase == PhaseType.SINGLE_Q and rung_of(after) == 0
    assert rung_results(after)[1].phase == PhaseType.TIMEOUT and rung_results(after)[1].cost == 5.0
    assert "rung 1 TIMEOUT: timed out" in after.error


def test_a_result_without_the_record_is_one_rung_zero_entry():
    r = SimulationResult(phase="FERROMAGNET", confidence=0.7, energy=-2.0, duration=0.5)
    assert rung_results(r) == {0: (PhaseType.FERROMAGNET, 0.7, -2.0, 0.5)}


# ------------------------------------------------------------------------------ input checks
@pytest.mark.parametrize("spec, fragment", [
    ("screening,turbo", "'turbo' must be one of"),
    ("screening,accurate@7", "even integer"),
    ("screening,accurate@x", "even integer"),
    ("accurate,accurate", "must differ"),
    ("", "solver preset"),
])
def test_bad_ladder_specs_are_refused_with_the_rung(spec, fragment):
    with pytest.raises(InputError, match=fragment):
        parse_ladder_spec(spec)


def test_ladder_specs_parse():
    assert parse_ladder_spec("screening, fast,accurate@48") == [("screening", None), ("fast", None), ("accurate", 48)]


def test_bad_ladders_are_refused_before_any_work():
    with pytest.raises(InputError, match="2 to 8 simulations"):
        Ladder([costly])
    with pytest.raises(TypeError, match="rung 1 of the ladder must be a simulation"):
        Ladder([costly, 3])
    with pytest.raises(InputError, match="distinct non-empty names"):
        Ladder([cheap_right, costly], names=["a", "a"])
    with pytest.raises(TypeError, match="allowed options: calibration"):
        Ladder([cheap_right, costly], promotion={"calibrate": 3})
    with pytest.raises(ValueError, match="max_share"):
        Ladder([cheap_right, costly], promotion={"max_share": 2.0})


# ------------------------------------------------------------------------------ the policy
def _record(i, entries):
    result = None
    for rung, phase in entries:
        new = SimulationResult(phase=phase, confidence=0.8, duration=COSTLY_COST if rung else CHEAP_COST)
        result = merge_result(result, rung, new)
    return PointRecord(index=i, params=np.zeros(2), status=PointStatus.DONE, result=result)


def test_policy_learns_the_disagreement_rate_and_stops_when_the_rungs_agree():
    policy = PromotionPolicy(2, calibration=4, min_disagreement=0.15)
    rng = np.random.default_rng(0)
    for i in range(40):
        policy.observe(_record(i, [(0, "SINGLE_Q")]), rng.random(2))
    assert policy.active(0) and policy.disagreement(0) == 0.5  # nothing known yet
    for i in range(4):  # four promotions that agree
        policy.observe(_record(i, [(0, "SINGLE_Q"), (1, "SINGLE_Q")]), rng.random(2))
    assert policy.disagreement(0) == pytest.approx(0.5 / 5)
    assert not policy.active(0)  # stops paying for promotions
    assert policy.next_promotion(None, {}, budget_left=False) is None
    # a disagreement-heavy history keeps them on, with a larger time share
    other = PromotionPolicy(2, calibration=4)
    for i in range(40):
        other.observe(_record(i, [(0, "SINGLE_Q")] + ([(1, "SKYRMION")] if i < 6 else [])), rng.random(2))
    assert other.active(0) and other.share(0) == other.max_share
    assert other.cost(0) == pytest.approx(CHEAP_COST) and other.cost(1) == pytest.approx(COSTLY_COST)
    factors = other.weight_factors(np.array([0, 10]))
    # a promoted label counts fully; a cheap one whose label was overturned every time barely
    assert factors[0] == 1.0 and factors[1] == pytest.approx(other.min_weight**2)


def test_policy_promotes_where_the_cheap_rung_was_wrong_before():
    policy = PromotionPolicy(2, calibration=2, bandwidth=0.1)
    units = {0: [0.1, 0.1], 1: [0.9, 0.9], 2: [0.12, 0.1], 3: [0.88, 0.9], 4: [0.5, 0.5]}
    policy.observe(_record(0, [(0, "SINGLE_Q"), (1, "SKYRMION")]), units[0])  # wrong near (0.1, 0.1)
    policy.observe(_record(1, [(0, "SINGLE_Q"), (1, "SINGLE_Q")]), units[1])  # right near (0.9, 0.9)
    for i in (2, 3, 4):
        policy.observe(_record(i, [(0, "SINGLE_Q")]), units[i])
    for i in range(5, 60):  # cheap work done, so the time share allows a promotion
        policy.observe(_record(i, [(0, "SINGLE_Q")]), [0.5, 0.5 + i / 200])
    s = policy.scores(0, np.array([2, 3]), None)
    assert s[0] > 2.5 * s[1]


def test_calibration_is_paid_as_it_goes_and_ends_at_the_first_disagreement():
    policy = PromotionPolicy(2, calibration=4, calibration_share=0.2, start_after=10)
    rng = np.random.default_rng(1)
    for i in range(30):  # 0.3 s of cheap work: too little for a fifth of it to pay a promotion
        policy.observe(_record(i, [(0, "SINGLE_Q")]), rng.random(2))
    assert policy.calibrating(0) and policy.share(0) == 0.2
    assert policy.next_promotion(None, {}) is None
    for i in range(30, 200):  # 2 s: now one fits in a fifth of the time
        policy.observe(_record(i, [(0, "SINGLE_Q")]), rng.random(2))
    first = policy.next_promotion(None, {})
    assert first is not None and first[1] == 1
    policy.observe(_record(first[0], [(0, "SINGLE_Q"), (1, "SINGLE_Q")]), policy._unit[first[0]])  # agrees
    assert policy.calibrating(0)
    assert policy.next_promotion(None, {}) is None  # 0.3 s of 2.3: the next calibration waits for cheap work
    other = next(i for i in range(200) if i != first[0])
    policy.observe(_record(other, [(0, "SINGLE_Q"), (1, "SKYRMION")]), policy._unit[other])  # overturned
    # one overturned label ends the calibration: the share follows the disagreement at once
    assert not policy.calibrating(0) and policy.active(0)
    assert policy.share(0) == pytest.approx(min(policy.max_share, policy.gain * 1.5 / 3))
    assert policy.next_promotion(None, {}) is not None
    # four agreeing calibration pairs on another policy: stopped
    agree = PromotionPolicy(2, calibration=4)
    for i in range(200):
        agree.observe(_record(i, [(0, "SINGLE_Q")] + ([(1, "SINGLE_Q")] if i < 4 else [])), rng.random(2))
    assert not agree.calibrating(0) and not agree.active(0)


def test_a_settled_diagram_resumes_promotions_until_the_rungs_agree_for_good():
    rng = np.random.default_rng(2)
    policy = PromotionPolicy(2, calibration=4, min_disagreement=0.15)
    for i in range(400):  # 4 s of cheap work; four agreeing calibration pairs stopped the rung
        policy.observe(_record(i, [(0, "SINGLE_Q")] + ([(1, "SINGLE_Q")] if i < 4 else [])), rng.random(2))
    assert not policy.active(0) and policy.disagreement(0) == pytest.approx(0.1)
    policy._probe_at[0] = policy.n_labeled  # no probe due
    assert policy.next_promotion(None, {}) is None
    assert policy.next_promotion(None, {}, changed=0.2) is None  # the diagram still moves: cheap points
    nxt = policy.next_promotion(None, {}, changed=0.01)  # settled: promotions are the best use again
    assert nxt is not None and nxt[1] == 1
    assert policy.share(0, settled=True) == pytest.approx(min(policy.max_share, 4 * 0.1))
    # agreeing pairs lower p until p < min_disagreement / 4: then even a settled diagram stops them
    for i in range(4, 20):
        policy.observe(_record(i, [(0, "SINGLE_Q"), (1, "SINGLE_Q")]), policy._unit[i])
    assert policy.disagreement(0) < policy.min_disagreement / 4
    assert policy.next_promotion(None, {}, changed=0.0) is None


def test_cheap_labels_lose_weight_only_next_to_the_same_cheap_label_overturned():
    policy = PromotionPolicy(2, calibration=1, bandwidth=0.1)
    units = {0: [0.2, 0.2], 1: [0.22, 0.2], 2: [0.18, 0.22], 3: [0.8, 0.8], 4: [0.6, 0.6]}
    policy.observe(_record(0, [(0, "SINGLE_Q"), (1, "SKYRMION")]), units[0])  # cheap SINGLE_Q overturned
    policy.observe(_record(4, [(0, "SKYRMION"), (1, "SKYRMION")]), units[4])  # cheap SKYRMION confirmed
    for i, u in enumerate(([0.9, 0.1], [0.9, 0.3], [0.5, 0.95], [0.05, 0.9]), start=5):  # agreements far away
        policy.observe(_record(i, [(0, "SINGLE_Q"), (1, "SINGLE_Q")]), u)
    policy.observe(_record(1, [(0, "SINGLE_Q")]), units[1])  # next to the overturned label, same label
    policy.observe(_record(2, [(0, "SKYRMION")]), units[2])  # next to it, the other label
    policy.observe(_record(3, [(0, "SINGLE_Q")]), units[3])  # far away
    q = policy.local_disagreement(0, np.array([1, 2, 3]))
    assert q[0] > 2 * policy.disagreement(0) and q[1] == pytest.approx(policy.disagreement(0), abs=0.02)
    assert q[2] == pytest.approx(policy.disagreement(0), abs=0.01)
    w = policy.weight_factors(np.array([0, 1, 2, 3, 4]))
    assert w[0] == 1.0 and w[4] == 1.0  # costly labels count fully
    assert w[1] < 0.5 * w[2] and w[1] < 0.5 * w[3]  # the suspect cheap label pulls much less
    # and promotions go there first
    s = policy.scores(0, np.array([1, 2, 3]), None)
    assert s[0] > 2 * s[1] and s[0] > 2 * s[2]


# ------------------------------------------------------------------------------ runs
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_ladder_run_promotes_fixes_labels_and_keeps_every_rung(tmp_path, n_jobs):
    path = tmp_path / "exploration.h5"
    ex = ActiveLearningExplorer(SPACE, seed=2, store=path, verbose=False)
    # a short run (1 s of cheap work against 0.3 s a promotion): calibrate early to see promotions
    ladder = Ladder([cheap_wrong_in_a_band, costly], promotion={"calibration_share": 0.75})
    ex.run(8, 10, simulation=ladder, n_initial=20, progress=False, **inline(n_jobs))
    records = ex.records
    assert len(records) == 100 and all(r.status == PointStatus.DONE for r in records)
    promoted = [r for r in records if len(rung_results(r.result)) > 1]
    assert promoted, "no point was promoted although the cheap rung is wrong near the boundary"
    changed = [r for r in promoted if len({e.phase for e in rung_results(r.result).values()}) > 1]
    if n_jobs == 1:  # in-process the order of results, hence the policy's choices, is fixed; with two
        assert changed  # workers it follows their timing, and whether a promotion lands in the band varies
    for r in promoted:  # the best label is the costly one, and both rungs are recorded
        entries = rung_results(r.result)
        assert r.result.phase == entries[1].phase == truth(dict(zip(SPACE.names, r.params)))
        assert entries[0].cost == CHEAP_COST and entries[1].cost == COSTLY_COST
    stats = ex.run_stats["fidelity"]["rungs"]
    assert stats[0]["n_points"] == 100 and stats[1]["n_points"] == len(promoted)
    assert ex.run_stats["simulation_time"] == pytest.approx(100 * CHEAP_COST + len(promoted) * COSTLY_COST)
    # the record survives the store, and the views show it
    ex.close()
    back = ActiveLearningExplorer.load(path)
    for a, b in zip(records, back.records):
        assert rung_results(a.result) == rung_results(b.result)
    summary = fidelity_summary(back.records, ["cheap_wrong_in_a_band", "costly"])
    assert summary["n_promoted"] == len(promoted) and summary["pairs"][0]["n_disagree"] == len(changed)
    assert "cheap_wrong_in_a_band->costly disagreed on" in back.summary()
    pytest.importorskip("pandas")
    df = back.to_dataframe()
    assert (df["fidelity"] == 1).sum() == len(promoted)
    assert set(df["fidelity1_phase"].dropna()) <= {"FERROMAGNET", "SINGLE_Q"}
    pytest.importorskip("xarray")
    ds = back.to_xarray(resolution=8)
    assert ds["rung_phase"].shape == (100, 2) and int((ds["fidelity"] == 1).sum()) == len(promoted)
    assert int(ds["rung_phase"][:, 1].notnull().sum()) == len(promoted)


def test_promotions_stop_when_the_rungs_agree():
    ex = ActiveLearningExplorer(SPACE, seed=4, verbose=False)
    # 140 cheap points are 4.7 promotions' worth: let the calibration take 3/4 of the time to finish in it
    ladder = Ladder([cheap_right, costly], promotion={"calibration_share": 0.75})
    ex.run(12, 10, simulation=ladder, n_initial=20, progress=False, **inline())
    fid = ex.run_stats["fidelity"]["rungs"]
    # calibration (4) plus at most a few logarithmic probes, out of 140 points
    assert 4 <= fid[1]["n_points"] <= 6
    assert not ex.run_stats["fidelity"]["rungs"][0]["active"]


def test_the_ladder_beats_the_cheap_rung_alone_on_the_synthetic_pair():
    lad = ActiveLearningExplorer(SPACE, seed=5, verbose=False)
    ladder = Ladder([cheap_wrong_in_a_band, costly], promotion={"calibration_share": 0.75})  # a short run
    lad.run(8, 10, simulation=ladder, n_initial=20, progress=False, **inline())
    cheap_only = ActiveLearningExplorer(SPACE, seed=5, verbose=False)
    cheap_only.run(8, 10, simulation=cheap_wrong_in_a_band, n_initial=20, progress=False, **inline())
    assert _accuracy(lad) > _accuracy(cheap_only)


def test_a_user_function_ladder_resumes_and_reuses_every_rung(tmp_path):
    path = tmp_path / "exploration.h5"
    ex = ActiveLearningExplorer(SPACE, seed=6, store=path, verbose=False)
    ex.run(3, 10, simulation=[cheap_wrong_in_a_band, costly], n_initial=20, progress=False, **inline())
    before = {r.index: rung_results(r.result) for r in ex.records}
    ex.close()
    back = ActiveLearningExplorer.load(path)
    back.run(6, 10, simulation=[cheap_wrong_in_a_band, costly], progress=False, **inline())
    after = {r.index: rung_results(r.result) for r in back.records}
    for i, entries in before.items():  # nothing of any rung is lost or rerun
        for rung, e in entries.items():
            assert after[i][rung] == e
    assert back.n_points == 80


def test_cli_mode_ladder_parses_to_a_ladder():
    from spinexplore.cli._settings import _check_one, make_simulation

    assert _check_one("mode", "screening, accurate@48") == "screening,accurate@48"
    sim = make_simulation("square-chiral", 12, "screening,accurate@16")
    assert isinstance(sim, Ladder) and sim.names == ("screening", "accurate@16")
    assert [r.lattice_size for r in sim.rungs] == [12, 16] and sim.mode == "screening,accurate@16"
    back = Ladder.from_description(sim.describe())
    assert back.names == sim.names and [r.lattice_size for r in back.rungs] == [12, 16]
    single = make_simulation("square-chiral", 12, "accurate@16")
    assert not isinstance(single, Ladder) and single.lattice_size == 16
    assert math.isfinite(sim.memory_estimate)


# ------------------------------------------------------------------------------ kill -9
_KILL_CHILD = '''
import sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
import test_fidelity as t
from spinexplore import ActiveLearningExplorer

MARKS = Path({marks!r})

def slow_costly(p):
    with open(MARKS, "a") as f:
        f.write("start\\n")
    time.sleep(0.4)
    return t.costly(p)

ex = ActiveLearningExplorer(t.SPACE, seed=7, store={store!r}, verbose=False)
# 2.2 s of cheap work: calibrate within 3/4 of the time so that promotions run before the end
ladder = t.Ladder([t.cheap_wrong_in_a_band, slow_costly], promotion={{"calibration_share": 0.75}})
ex.run(40, 5, simulation=ladder, n_initial=20, progress=False, checkpoint_interval=1, **t.inline())
'''


def _snapshot(path) -> dict:
    from spinexplore.store import ExplorationStore

    with ExplorationStore.open(path, mode="r") as store:
        records, _ = store.read()
    return {r.index: rung_results(r.result) for r in records if r.result is not None}


@pytest.mark.slow
def test_kill_9_during_promotions_loses_no_result_of_any_rung(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    store, marks = tmp_path / "exploration.h5", tmp_path / "marks"
    script = tmp_path / "child.py"
    script.write_text(_KILL_CHILD.format(tests=str(Path(__file__).parent), marks=str(marks), store=str(store)))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        # wait until a promotion is on disk and another one is running
        while time.monotonic() < deadline and proc.poll() is None:
            n_started = len(marks.read_text().splitlines()) if marks.exists() else 0
            if n_started >= 3 and store.exists():
                try:
                    if any(len(e) > 1 for e in _snapshot(store).values()):
                        break
                except Exception:  # the first checkpoint is being written
                    pass
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    before = _snapshot(store)
    assert any(len(e) > 1 for e in before.values())
    back = ActiveLearningExplorer.load(store)
    back.run(40, 5, simulation=[cheap_wrong_in_a_band, costly], progress=False, **inline())
    after = {r.index: rung_results(r.result) for r in back.records}
    for i, entries in before.items():
        for rung, e in entries.items():
            assert after[i][rung] == e, (i, rung)
    assert back.n_points == 220 and all(r.status == PointStatus.DONE for r in back.records)
    back.close()
    assert _snapshot(store) == after


def test_the_benchmark_quick_mode_runs_and_renders(tmp_path):
    import runpy
    from pathlib import Path

    bench = runpy.run_path(str(Path(__file__).parents[1] / "benchmarks" / "multi_fidelity.py"))
    out = tmp_path / "mf.json"
    data = bench["main"](["--quick", "--n-costly", "12", "--triangular-time", "10", "--checkpoints", "3",
                          "--out", str(out)])
    assert out.exists() and set(data["targets"]) == {"square", "triangular"}
    for box in ("square", "triangular"):
        run = data["boxes"][box]["runs"][0]
        assert run["cheap_only"]["simulation_time"] >= run["ladder"]["simulation_time"] - 0.2
        assert 0.0 <= run["ladder"]["accuracy"] <= 1.0
        traj = run["ladder"]["trajectory"]  # accuracy along the run, ending with the final score
        assert len(traj) >= 2 and traj[-1]["accuracy"] == run["ladder"]["accuracy"]
        assert all(a["simulation_time"] <= b["simulation_time"] for a, b in zip(traj, traj[1:]))
    square = data["boxes"]["square"]["runs"][0]
    t = square["ladder"]["time_to_costly_accuracy"]
    assert t is None or t == bench["first_time_at"](square["ladder"]["trajectory"], square["costly_only"]["accuracy"])
    text = bench["render_readme"](data)
    assert "ladder `screening,accurate`" in text and "Square target 1" in text and "Triangular target" in text
    both = bench["main"](["--merge", str(out), str(out), "--out", str(tmp_path / "both.json")])  # two parts
    assert len(both["boxes"]["square"]["runs"]) == 2 and len(both["parts"]) == 2
    assert both["targets"]["square"]["costly_only_accuracy"] == data["targets"]["square"]["costly_only_accuracy"]


@pytest.mark.slow
def test_cli_runs_status_and_resumes_a_ladder_of_the_built_in_solver(tmp_path, capsys):
    from spinexplore.cli import main

    out = tmp_path / "run"
    args = ["run", "--model", "square-chiral", "--mode", "screening,fast@8", "--lattice-size", "6",
            "--n-initial", "6", "--n-iterations", "1", "--n-per-iteration", "2", "--output-dir", str(out),
            "--no-progress"]
    assert main(args) == 0
    assert main(["status", str(out)]) == 0
    text = capsys.readouterr().out
    assert "mode=screening,fast@8" in text and "Fidelities: screening 8 points" in text
    assert main(["resume", str(out), "--n-iterations", "2", "--no-progress"]) == 0
    back = ActiveLearningExplorer.load(out / "exploration.h5")
    assert back.n_points == 10 and back.simulation_description["simulation"] == "Ladder"
    assert [r["lattice_size"] for r in back.simulation_description["rungs"]] == [6, 8]
    assert all(rung_of(r.result) == 0 for r in back.records)  # no promotion before 50 labels


# ------------------------------------------------------------------------------ a user's own labels
def _named(p) -> str:
    return "q0" if p["x"] > 0.45 + 0.2 * p["y"] else "sqrt3 x sqrt3"


def costly_named(p):
    return SimulationResult(phase=_named(p), confidence=1.0, energy=-1.0, duration=COSTLY_COST)


def cheap_named_wrong_in_a_band(p):
    label = _named(p)
    if p["y"] < 0.5 and abs(p["x"] - 0.45 - 0.2 * p["y"]) < 0.12:
        label = "sqrt3 x sqrt3" if label == "q0" else "q0"
    return SimulationResult(phase=label, confidence=0.8, energy=-0.9, duration=CHEAP_COST)


def test_a_ladder_of_a_users_own_labels_keeps_their_names_on_every_rung(tmp_path):
    """Issues 21 + 22: the per-rung record stores label ids of the run's vocabulary (not
    PhaseType values), so a user's labels keep their names at every rung, through the store."""
    path = tmp_path / "exploration.h5"
    ex = ActiveLearningExplorer(SPACE, seed=2, store=path, verbose=False)
    ex.run(4, 10, simulation=[cheap_named_wrong_in_a_band, costly_named], n_initial=20, progress=False, **inline())
    promoted = [r for r in ex.records if len(rung_results(r.result, ex.vocabulary)) > 1]
    assert promoted
    for r in promoted:
        entries = rung_results(r.result, ex.vocabulary)
        assert {e.phase.name for e in entries.values()} <= {"q0", "sqrt3 x sqrt3"}
        assert r.result.phase == entries[1].phase == _named(dict(zip(SPACE.names, r.params)))
    ex.close()
    back = ActiveLearningExplorer.load(path)
    for a, b in zip(ex.records, back.records):
        assert rung_results(a.result, ex.vocabulary) == rung_results(b.result, back.vocabulary)
    pytest.importorskip("pandas")
    df = back.to_dataframe()
    assert set(df["fidelity0_phase"].dropna()) <= {"q0", "sqrt3 x sqrt3"}
    assert set(df["fidelity1_phase"].dropna()) <= {"q0", "sqrt3 x sqrt3"}


def test_a_rung_label_without_the_vocabulary_is_refused_or_named_by_its_id():
    from spinexplore.fidelity import decode_label, encode_label
    from spinexplore.labels import Vocabulary
    from spinexplore.results import Label

    vocab = Vocabulary(["q0"])
    assert encode_label(PhaseType.TIMEOUT) == 9.0 and decode_label(9.0) is PhaseType.TIMEOUT
    i = encode_label(Label("q0"), vocab)
    assert i >= 10 and decode_label(i, vocab) == "q0"
    assert decode_label(i) == f"label {int(i)}"
    with pytest.raises(ValueError, match="vocabulary"):
        encode_label(Label("q0"))
