"""The explorer loop with cheap analytic simulations: API, bookkeeping, checkpoints, resume."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from spinexplore.execution import get_executor
from spinexplore import ActiveLearningExplorer, ParameterSpace, PhaseType, PointStatus, SimulationResult


def quadrant_phase(x: float, y: float) -> PhaseType:
    """A 4-phase diagram with curved boundaries on [0, 1]^2."""
    if y < 0.3 + 0.2 * x**2:
        return PhaseType.FERROMAGNET
    if x < 0.4:
        return PhaseType.SINGLE_Q
    if (x - 0.75) ** 2 + (y - 0.7) ** 2 < 0.04:
        return PhaseType.SKYRMION
    return PhaseType.TRIPLE_Q


def sim_quadrant(p):
    return SimulationResult(phase=quadrant_phase(p["x"], p["y"]), confidence=0.9, energy=-p["x"])


SPACE = ParameterSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)})


def test_run_end_to_end_learns_the_diagram():
    ex = ActiveLearningExplorer(SPACE, seed=3, verbose=False)
    ex.run(n_iterations=4, n_per_iteration=10, simulation=sim_quadrant, n_initial=30, progress=False)
    assert ex.n_points == 70
    assert (ex.status == PointStatus.DONE).all()
    assert [h["iteration"] for h in ex.history] == [0, 1, 2, 3, 4]
    assert all(0.0 <= h["mean_uncertainty"] <= 1.0 for h in ex.history)
    assert np.isnan(ex.history[0]["changed_fraction"])
    assert 0.0 <= ex.history[-1]["changed_fraction"] <= 1.0
    # points are unique and inside the box
    assert len(np.unique(np.round(ex.X, 12), axis=0)) == ex.n_points
    assert SPACE.contains(ex.X).all()
    # the surrogate recovers the analytic diagram on a test grid
    g = np.linspace(0.01, 0.99, 30)
    G = np.array([(a, b) for a in g for b in g])
    truth = np.array([int(quadrant_phase(a, b)) for a, b in G])
    pred, proba = ex.predict(G)
    assert proba.shape == (len(G), len(ex.classes_))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert (pred == truth).mean() > 0.85
    assert set(ex.classes_) <= {int(p) for p in PhaseType}


def test_compat_api_add_initial_then_classify():
    ex = ActiveLearningExplorer(SPACE, seed=0, verbose=False)
    X = ex.add_initial_samples(12, method="sobol")
    assert X.shape == (12, 2) and (ex.status == PointStatus.PENDING).all()
    done = ex.classify_pending_points(sim_quadrant)  # the old one-argument call
    assert len(done) == 12 and (ex.status == PointStatus.DONE).all()
    new = ex.propose(5, strategy="uncertainty")
    assert new.shape == (5, 2)
    assert (ex.status == PointStatus.PENDING).sum() == 5
    ex.classify_pending_points(sim_quadrant, n_jobs=1, checkpoint_interval=2, progress=False)
    assert (ex.status == PointStatus.DONE).sum() == 17


def test_every_kind_of_return_value():
    def sim(p):
        k = int(round(p["x"] * 10))
        if k == 0:
            return PhaseType.SKYRMION
        if k == 1:
            return {"phase": "SINGLE_Q", "confidence": 0.5, "energy": -2.0}
        if k == 2:
            return None  # the old tool's convention: TIMEOUT
        if k == 3:
            raise RuntimeError("solver diverged")
        if k == 4:
            return "   "  # garbage: an empty label (any other string is a label of the user's)
        if k == 5:
            return 12.5  # garbage
        return SimulationResult(phase=PhaseType.FERROMAGNET)

    ex = ActiveLearningExplorer(ParameterSpace({"x": (0.0, 1.0)}), seed=0, verbose=False)
    ex.add_points([[0.0], [0.1], [0.2], [0.3], [0.4], [0.5], [0.6]])
    ex.classify_pending_points(sim, progress=False)
    recs = ex.records
    assert recs[0].result.phase is PhaseType.SKYRMION
    assert recs[1].result.confidence == 0.5 and recs[1].result.energy == -2.0
    assert recs[2].status is PointStatus.TIMEOUT and recs[2].result.phase is PhaseType.TIMEOUT
    assert recs[3].status is PointStatus.FAILED and "solver diverged" in recs[3].result.error
    assert recs[4].status is PointStatus.FAILED and "non-empty string" in recs[4].result.error
    assert recs[5].status is PointStatus.FAILED and "expected a SimulationResult" in recs[5].result.error
    assert recs[6].status is PointStatus.DONE
    # failed points are remembered but not learned from
    phases, _ = ex.predict([[0.05]])
    assert phases[0] in (int(PhaseType.SKYRMION), int(PhaseType.SINGLE_Q), int(PhaseType.FERROMAGNET))


def test_single_phase_and_tell():
    ex = ActiveLearningExplorer(SPACE, seed=1, verbose=False)
    with pytest.raises(RuntimeError, match="no finished point"):
        ex.predict([[0.5, 0.5]])
    params = ex.ask(3)
    for p in params:
        ex.tell(p, PhaseType.FERROMAGNET)
    phases, proba = ex.predict([[0.1, 0.9], [0.9, 0.1]])
    assert (phases == int(PhaseType.FERROMAGNET)).all()
    np.testing.assert_allclose(proba, 1.0)
    ex.propose(4)  # a surrogate with one class still proposes
    assert ex.n_points == 7


@pytest.mark.parametrize("n_dims", [1, 3, 6])
def test_spaces_of_1_to_6_dimensions(n_dims):
    space = ParameterSpace({f"p{i}": (-1.0, 1.0) for i in range(n_dims)})

    def sim(p):
        return PhaseType.FERROMAGNET if sum(p.values()) > 0 else PhaseType.PARAMAGNET

    ex = ActiveLearningExplorer(space, seed=0, verbose=False)
    ex.run(2, 6, sim, n_initial=12, progress=False)
    assert ex.n_points == 24 and ex.X.shape == (24, n_dims)
    assert (ex.status == PointStatus.DONE).all()


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda ex: ex.classify_pending_points(sim_quadrant, n_jobs=0), ValueError, r"n_jobs must be .* got 0"),
        (lambda ex: ex.classify_pending_points(sim_quadrant, checkpoint_interval=0), ValueError,
         r"checkpoint_interval must be >= 1; got 0"),
        (lambda ex: ex.classify_pending_points(sim_quadrant, timeout=-1.0), ValueError, r"timeout must be > 0.0; got -1.0"),
        (lambda ex: ex.classify_pending_points("sim"), TypeError, r"simulation_func must be callable"),
        (lambda ex: ex.run(1, 2, "sim"), TypeError, r"^simulation must be callable"),  # its own name (issue 25)
        (lambda ex: ex.add_initial_samples(0), ValueError, r"n must be >= 1; got 0"),
        (lambda ex: ex.add_initial_samples(5, method="halton"), ValueError, r"method must be one of .*'lhs'.*got 'halton'"),
        (lambda ex: ex.propose(-2), ValueError, r"n must be >= 1; got -2"),
        (lambda ex: ex.propose(2, strategy="greedy"), ValueError, r"greedy"),
        (lambda ex: ex.run(-1, 5, sim_quadrant), ValueError, r"n_iterations must be >= 0; got -1"),
        (lambda ex: ex.run(1, 0, sim_quadrant), ValueError, r"n_per_iteration must be >= 1; got 0"),
        (lambda ex: ex.add_points([[2.0, 0.5]]), ValueError, r"outside the space"),
    ],
)
def test_bad_input_is_rejected_before_work(call, exc, match):
    ex = ActiveLearningExplorer(SPACE, seed=0, verbose=False)
    ex.add_points([[0.5, 0.5]])
    with pytest.raises(exc, match=match):
        call(ex)
    assert (ex.status == PointStatus.PENDING).sum() == 1  # nothing ran


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="balanced"):
        ActiveLearningExplorer(SPACE, strategy="nope")
    with pytest.raises(TypeError, match="space must be a ParameterSpace"):
        ActiveLearningExplorer({"x": (0, 1)})
    with pytest.raises(TypeError, match="seed must be"):
        ActiveLearningExplorer(SPACE, seed="abc")


def test_seed_makes_runs_reproducible():
    a = ActiveLearningExplorer(SPACE, seed=11, verbose=False).run(2, 5, sim_quadrant, n_initial=10, progress=False)
    b = ActiveLearningExplorer(SPACE, seed=11, verbose=False).run(2, 5, sim_quadrant, n_initial=10, progress=False)
    np.testing.assert_array_equal(a.X, b.X)
    c = ActiveLearningExplorer(SPACE, seed=12, verbose=False).run(2, 5, sim_quadrant, n_initial=10, progress=False)
    assert not np.allclose(a.X, c.X)


def test_hdf5_store_round_trip_and_resume_equivalence(tmp_path):
    full = ActiveLearningExplorer(SPACE, seed=5, store=tmp_path / "full.h5", verbose=False)
    full.run(3, 6, sim_quadrant, n_initial=12, progress=False)
    full.close()

    part = ActiveLearningExplorer(SPACE, seed=5, store=tmp_path / "part.h5", verbose=False)
    part.run(1, 6, sim_quadrant, n_initial=12, progress=False)
    part.close()
    resumed = ActiveLearningExplorer.load(tmp_path / "part.h5", verbose=False)
    assert resumed.n_points == 18 and resumed.iteration == 1
    resumed.run(3, 6, sim_quadrant, progress=False)
    resumed.close()
    np.testing.assert_array_equal(resumed.X, full.X)
    np.testing.assert_array_equal(resumed.phases, full.phases)

    again = ActiveLearningExplorer.load(tmp_path / "full.h5", read_only=True, verbose=False)
    np.testing.assert_array_equal(again.X, full.X)
    assert [h["iteration"] for h in again.history] == [0, 1, 2, 3]
    again.store.close()


def test_load_refuses_another_space(tmp_path):
    ex = ActiveLearningExplorer(SPACE, seed=0, store=tmp_path / "e.h5", verbose=False)
    ex.run(0, 2, sim_quadrant, n_initial=4, progress=False)
    ex.close()
    other = ParameterSpace({"x": (0.0, 2.0), "y": (0.0, 1.0)})
    with pytest.raises(ValueError, match="not the space passed to load"):
        ActiveLearningExplorer.load(tmp_path / "e.h5", space=other)


class _InterruptAfter:
    """Counts calls per point; presses Ctrl+C (SIGINT to this process) at the n-th call
    (in-process sequential backend)."""

    def __init__(self, n):
        self.n = n
        self.calls: list[tuple[float, float]] = []

    def __call__(self, p):
        if len(self.calls) == self.n:
            self.n = -1
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # the signal arrives first
        self.calls.append((p["x"], p["y"]))
        return sim_quadrant(p)


def test_interrupt_keeps_finished_work_and_resume_never_reruns_it(tmp_path):
    sim = _InterruptAfter(7)
    ex = ActiveLearningExplorer(SPACE, seed=2, store=tmp_path / "e.h5", verbose=False)
    ex.add_initial_samples(12)
    in_process = get_executor(1, "sequential", isolate=False)  # the interrupt is raised here
    with pytest.raises(KeyboardInterrupt):
        ex.classify_pending_points(sim, checkpoint_interval=100, progress=False, executor=in_process)
    ex.close()
    first = list(sim.calls)
    assert len(first) == 7
    back = ActiveLearningExplorer.load(tmp_path / "e.h5", verbose=False)
    assert (back.status == PointStatus.DONE).sum() == 7  # saved although the interval was not reached
    sim.calls.clear()
    back.classify_pending_points(sim, progress=False, executor=in_process)
    assert len(sim.calls) == 5
    assert not set(sim.calls) & set(first)
    assert (back.status == PointStatus.DONE).all()
    back.close()


def test_parallel_lambda_and_checkpoints(tmp_path, caplog):
    ex = ActiveLearningExplorer(SPACE, seed=0, store=tmp_path / "p.h5", verbose=True)
    ex.add_initial_samples(10)
    with caplog.at_level(logging.INFO, logger="spinexplore"):
        ex.classify_pending_points(
            lambda p: PhaseType.SKYRMION if p["x"] > 0.5 else PhaseType.FERROMAGNET,
            n_jobs=2, checkpoint_interval=4, progress=False,
        )
    out = caplog.text
    assert "Checkpoint saved (4/10 completed)" in out and "Checkpoint saved (8/10 completed)" in out
    assert "Point " in out and "(conf=1.00" in out
    assert (ex.status == PointStatus.DONE).all()
    workers = {r.worker for r in ex.records}
    assert all(workers)
    ex.close()


_SIGINT_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from spinexplore import ActiveLearningExplorer, ParameterSpace, PhaseType

    CALLS = sys.argv[2]

    def slow(p):
        time.sleep(0.4)
        with open(CALLS, "a") as f:
            f.write("x\\n")
        return PhaseType.FERROMAGNET if p["x"] > 0.5 else PhaseType.SINGLE_Q

    space = ParameterSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)})
    ex = ActiveLearningExplorer(space, seed=0, store=sys.argv[1], verbose=False)
    ex.add_initial_samples(40)
    print("READY", flush=True)
    try:
        ex.classify_pending_points(slow, n_jobs=2, checkpoint_interval=1000, progress=False)
    except KeyboardInterrupt:
        ex.close()
        print("INTERRUPTED", flush=True)
        sys.exit(130)
    """
)


def _children_of(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                out.append(int(d.name))
    return out


def test_ctrl_c_mid_run_keeps_results_and_leaves_no_process(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(_SIGINT_SCRIPT)
    store = tmp_path / "e.h5"
    calls = tmp_path / "calls.txt"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(store), str(calls)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "READY"
    deadline = time.monotonic() + 60  # wait for a few finished simulations, however busy the machine
    while (not calls.exists() or len(calls.read_text().split()) < 3) and time.monotonic() < deadline:
        time.sleep(0.05)
    children = _children_of(proc.pid)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert time.monotonic() - t0 < 8, "Ctrl+C took too long"
    assert proc.returncode == 130, err
    assert "INTERRUPTED" in out
    time.sleep(0.5)
    for pid in children:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text(), pid

    ex = ActiveLearningExplorer.load(store, verbose=False)
    n_done = int((ex.status == PointStatus.DONE).sum())
    assert 2 <= n_done < 40
    # the simulations the interrupt stopped are CANCELLED (and rerun below); the rest PENDING
    n_cancelled = int((ex.status == PointStatus.CANCELLED).sum())
    assert 1 <= n_cancelled <= 40 - n_done
    assert set(np.unique(ex.status)) <= {PointStatus.DONE, PointStatus.PENDING, PointStatus.CANCELLED}
    ex.classify_pending_points(
        lambda p: PhaseType.FERROMAGNET if p["x"] > 0.5 else PhaseType.SINGLE_Q, progress=False
    )
    assert (ex.status == PointStatus.DONE).all()
    ex.close()


def test_counts_separates_statuses_and_phases():
    """Issue 23 (4): counts() mixed statuses and phases in one dict (FAILED is both a status and a phase)."""
    ex = ActiveLearningExplorer(ParameterSpace({"x": (0.0, 1.0)}), seed=0, verbose=False)
    ex.tell({"x": 0.1}, PhaseType.SKYRMION)
    ex.tell({"x": 0.2}, PhaseType.SKYRMION)
    ex.tell({"x": 0.3}, PhaseType.FERROMAGNET)
    ex.tell({"x": 0.4}, {"phase": "FAILED", "error": "boom"})
    ex.add_initial_samples(2, method="random")
    assert ex.counts(by="status") == {"DONE": 3, "FAILED": 1, "PENDING": 2}
    assert ex.counts(by="phase") == {"SKYRMION": 2, "FERROMAGNET": 1}
    assert ex.counts() == {"DONE": 3, "FAILED": 1, "PENDING": 2, "SKYRMION": 2, "FERROMAGNET": 1}  # 0.1's dict
    assert "phases: FERROMAGNET=1, SKYRMION=2\n" in ex.summary() + "\n"
    with pytest.raises(ValueError, match="by must be 'status', 'phase' or None; got 'phases'"):
        ex.counts(by="phases")


def test_summary_writes_a_missing_number_as_n_a():
    """The first round has no earlier prediction to compare with: the summary said "changed=nan"."""
    ex = ActiveLearningExplorer(SPACE, seed=0, verbose=False)
    ex.run(0, 4, sim_quadrant, n_initial=10, progress=False, executor=get_executor(1, "sequential", isolate=False))
    line = next(ln for ln in ex.summary().splitlines() if ln.startswith("iteration 0:"))
    assert "changed=n/a" in line and "nan" not in line
