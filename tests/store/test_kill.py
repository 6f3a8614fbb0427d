"""kill -9 a process that is writing a store, at random moments, in journal appends and compactions.

After every kill the file must open, hold every checkpoint the writer reported as done
(``write`` returned) and nothing half-written, and a new process must be able to take the
lock and resume. The writer folds its journal every 5 checkpoints, so the kills land in
journal appends (most of the time) and inside compactions (``"tmp"``: while the new main
file is being written). The writer is ``_kill_child.py``; its records are a pure function of the
index, so each point is checked against an independent expectation.
"""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from spinexplore import PointStatus
from spinexplore.store import ExplorationStore

CHILD = Path(__file__).with_name("_kill_child.py")
EXPECT = runpy.run_path(str(CHILD))  # the child's pure functions, without running main()
BATCH = 10


def _launch(path: Path, spins: bool, n_total: int, wait: bool = True) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), str(path), str(n_total), str(BATCH), "1" if spins else "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    if not wait:
        return proc
    first = proc.stdout.readline()
    if first.strip() != "ready":
        proc.kill()
        pytest.fail(f"writer did not start: {first!r} {proc.stderr.read()}")
    return proc


def _last_commit(lines: list[str]) -> tuple[int, int] | None:
    commits = [line.split() for line in lines if line.startswith("committed")]
    return (int(commits[-1][1]), int(commits[-1][2])) if commits else None


def _kill(proc: subprocess.Popen, tmp: Path, mode: str, rng: np.random.Generator) -> list[str]:
    """SIGKILL the writer at a random moment (``"random"``) or while ``tmp`` exists (``"tmp"``)."""
    if mode == "early":  # during start-up: imports, taking the lock, cleaning, reading
        time.sleep(rng.uniform(0.0, 1.0))
    elif mode == "random":
        time.sleep(rng.uniform(0.0, 0.4))
    else:
        time.sleep(rng.uniform(0.0, 0.1))
        deadline = time.monotonic() + 10
        while not tmp.exists() and proc.poll() is None and time.monotonic() < deadline:
            pass
    proc.kill()  # SIGKILL
    proc.wait()
    return proc.stdout.read().splitlines()


def _verify(path: Path, spins: bool, known: int, last: tuple[int, int] | None, n_total: int) -> int:
    """Check the file against the expectation; return the number of checkpoints it holds.

    ``known`` is what the file held before this writer started, ``last`` the writer's last
    report: the file holds that report's checkpoint, or one more (killed after a write became
    durable, before it was reported); with no report, ``known`` or one more.
    """
    if not path.exists():  # killed before its creation was committed
        assert known == 0 and last is None
        return 0
    with ExplorationStore.open(path) as store:
        records, state = store.read(spins=spins)
    n, k = len(records), state["checkpoints"]
    assert state["n"] == n
    # durable: every checkpoint reported done is there; at most the one in flight is extra
    floor = last[0] if last else known
    assert k in (floor, floor + 1), f"file has {k} checkpoints, writer had reported {floor}"
    assert state["rng"] == EXPECT["expected_rng_state"](k)
    n_pending = sum(not r.status.is_finished for r in records)
    assert n_pending <= BATCH and all(r.status is PointStatus.PENDING for r in records[n - n_pending:])
    if state["final"]:
        assert n == n_total and n_pending == 0
    assert [r.index for r in records] == list(range(n))
    for r in records:
        np.testing.assert_array_equal(r.params, EXPECT["expected_params"](r.index))
        if r.status is PointStatus.PENDING:
            assert r.result is None
            continue
        want = EXPECT["expected_result"](r.index, spins)
        got = r.result
        assert (got.phase, got.confidence, got.energy, got.duration, got.error) == (
            want.phase, want.confidence, want.energy, want.duration, want.error)
        assert dict(got.observables) == dict(want.observables)
        if spins:
            np.testing.assert_allclose(got.spins, want.spins, rtol=0, atol=1e-7)
    return k


def _kill_cycles(tmp_path: Path, modes: list[str], spins: bool, seed: int) -> None:
    """Kill a writer once per mode, verifying after each kill, then let one finish."""
    n_total = 10**9  # never reached while killing
    path = tmp_path / "exploration.h5"
    tmp = tmp_path / "exploration.h5.tmp"
    rng = np.random.default_rng(seed)
    known = 0
    caught_in_write = 0
    for mode in modes:
        proc = _launch(path, spins, n_total, wait=mode != "early")
        lines = _kill(proc, tmp, mode, rng)
        caught_in_write += tmp.exists()
        commit = _last_commit(lines)
        known = _verify(path, spins, known, commit, n_total)
    if "tmp" in modes:  # the test really hit the inside of a checkpoint write
        assert caught_in_write >= 1
    with ExplorationStore.open(path) as store:
        n_total = store.n_points + 3 * BATCH  # the last writer finishes after three checkpoints
    proc = _launch(path, spins, n_total)  # finish without interruption
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert _verify(path, spins, known, _last_commit(out.splitlines()), n_total) >= 1
    with ExplorationStore.open(path) as store:
        records, state = store.read(spins=False)
    assert state["final"] and len(records) == n_total
    assert all(r.status is PointStatus.DONE for r in records)
    assert not tmp.exists() and not (tmp_path / "exploration.h5.lock").exists()
    assert not (tmp_path / "exploration.h5.journal").exists()  # folded on close


def test_kill_during_checkpoints_then_resume(tmp_path):
    _kill_cycles(tmp_path, ["random", "tmp", "early", "tmp"], spins=False, seed=1)


@pytest.mark.slow
def test_kills_in_a_long_series_of_small_checkpoints(tmp_path):
    """Batches of 10 written as fast as the disk allows, killed every 0-0.4 s, 30 times."""
    _kill_cycles(tmp_path, ["random"] * 30, spins=False, seed=11)


@pytest.mark.slow
def test_many_kills_then_resume(tmp_path):
    rng = np.random.default_rng(7)
    modes = list(rng.choice(["random", "tmp", "early"], size=40, p=[0.45, 0.45, 0.1]))
    _kill_cycles(tmp_path, modes, spins=False, seed=7)


@pytest.mark.slow
def test_many_kills_with_spins_then_resume(tmp_path):
    rng = np.random.default_rng(8)
    modes = list(rng.choice(["random", "tmp", "early"], size=20, p=[0.45, 0.45, 0.1]))
    _kill_cycles(tmp_path, modes, spins=True, seed=8)


EXPLORER_CHILD = Path(__file__).with_name("_kill_explorer_child.py")


def _calls(log: Path) -> set[tuple[float, float]]:
    """Parameters a writer simulated (a line cut by the kill is dropped)."""
    if not log.exists():
        return set()
    out = set()
    for line in log.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out.add((float(parts[0]), float(parts[1])))
            except ValueError:
                pass
    return out


@pytest.mark.slow
def test_kill_real_exploration_then_resume(tmp_path):
    from spinexplore.explorer import ActiveLearningExplorer

    child = runpy.run_path(str(EXPLORER_CHILD))
    phase_of = child["phase_of"]
    path, logs = tmp_path / "exploration.h5", tmp_path / "logs"
    logs.mkdir()
    rng = np.random.default_rng(3)
    finished: set[tuple[float, float]] = set()
    simulated: set[tuple[float, float]] = set()
    kills = 0
    for _ in range(6):
        proc = subprocess.Popen([sys.executable, str(EXPLORER_CHILD), str(path), str(logs)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        time.sleep(rng.uniform(0.0, 0.5))  # < 6 x 0.5 s: less than the whole run (120 x 30 ms)
        proc.kill()
        proc.wait()
        done = "finished" in proc.stdout.read()
        calls = _calls(logs / f"calls-{proc.pid}.log")
        assert not calls & finished, "a point finished before the kill was simulated again"
        simulated |= calls
        with ExplorationStore.open(path) as store:
            records, _ = store.read()
        for r in records:
            if r.status.is_finished:
                x, y = map(float, r.params)
                assert r.result.phase == phase_of(x, y) and (x, y) in simulated
        finished |= {tuple(map(float, r.params)) for r in records if r.status.is_finished}
        ActiveLearningExplorer.load(path, read_only=True, verbose=False).store.close()
        if done:
            break
        kills += 1
    assert kills >= 4, "the exploration finished before enough kills; make it longer"
    proc = subprocess.Popen([sys.executable, str(EXPLORER_CHILD), str(path), str(logs)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0 and "finished" in out, err
    assert not _calls(logs / f"calls-{proc.pid}.log") & finished
    with ExplorationStore.open(path) as store:
        records, _ = store.read()
    n_expected = child["N_INITIAL"] + child["N_ITERATIONS"] * child["N_PER_ITERATION"]
    assert len(records) == n_expected
    assert all(r.status.is_finished for r in records)
    assert all(r.result.phase == phase_of(*map(float, r.params)) for r in records)


def test_readers_see_complete_checkpoints_while_a_writer_runs(tmp_path):
    """Readers (fresh and long-lived) during appends and compactions: always one whole checkpoint."""
    path = tmp_path / "exploration.h5"
    proc = _launch(path, False, 10**9)
    follower = ExplorationStore.open(path)  # reads only the frames appended since its last read
    # read until the writer has gone through several compactions (the event the test waits for),
    # however slowly a loaded machine runs it; the deadline is only a safety net
    seen, deadline = [], time.monotonic() + 300

    def enough() -> bool:
        return len(set(seen)) > 5 and max(seen) > 3 * EXPECT["COMPACT_FRAMES"]

    try:
        while not (seen and enough()):
            assert time.monotonic() < deadline, f"the writer made no progress past checkpoint {max(seen, default=0)}"
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else "the writer died"
            for reader in (follower, ExplorationStore.open(path)):
                records, state = reader.read(spins=False)
                if not state:  # created, first checkpoint not written yet
                    assert records == []
                    continue
                k = state["checkpoints"]
                assert state["n"] == len(records) and state["rng"] == EXPECT["expected_rng_state"](k)
                assert [r.index for r in records] == list(range(len(records)))
                for r in records[-2 * BATCH:]:
                    if r.status is PointStatus.DONE:
                        assert r.result.energy == EXPECT["expected_result"](r.index, False).energy
                assert reader.counts()["n_points"] >= len(records)  # it may have moved on since
                seen.append(k)
    finally:
        proc.kill()
        proc.wait()
        follower.close()
    follower_seen = seen[::2]
    assert follower_seen == sorted(follower_seen)  # never goes back in time
    assert enough()  # saw compactions pass


SCALE_KILL = Path(__file__).resolve().parents[2] / "benchmarks" / "scale_kill.py"


def test_scale_kill_refuses_bad_sizes(tmp_path):
    kill_run = runpy.run_path(str(SCALE_KILL))["kill_run"]
    with pytest.raises(ValueError, match=r"n must be a multiple of 50 and at least 1000; got 1010"):
        kill_run(1010, 3, 0, tmp_path)
    with pytest.raises(ValueError, match=r"kills must be a non-negative integer; got -1"):
        kill_run(1000, -1, 0, tmp_path)
    assert not any(tmp_path.iterdir())  # refused before any work


@pytest.mark.slow
def test_kill_large_exploration_then_resume(tmp_path):
    """The 4-D synthetic exploration of benchmarks/scale.py (1.5 x 10^4 points, checkpoints every
    10 results), SIGKILLed 3 times at random moments (one in a resumed start-up) and resumed
    from the store: nothing reported finished is lost or simulated again
    (``benchmarks/scale_kill.py`` checks after every kill and raises on a violation)."""
    bench = runpy.run_path(str(SCALE_KILL))
    n = 15_000
    result = bench["kill_run"](n, 3, 4, tmp_path, log=lambda s: None)
    assert result["kills"] == 3 and result["final_points"] == n
    assert [life["mode"] for life in result["lives"]] == ["run", "run", "startup"]
    assert all(life["finished_in_store"] >= life["reported_durable"] for life in result["lives"])
    assert result["lives"][-1]["finished_in_store"] > 0  # the kills landed inside the run
    # independently of the benchmark's own checks: the final store, point by point
    with ExplorationStore.open(tmp_path / "exploration.h5", mode="r") as store:
        records, _ = store.read(spins=False)
    assert [r.index for r in records] == list(range(n))
    assert all(r.status is PointStatus.DONE for r in records)
    params = np.array([r.params for r in records])
    np.testing.assert_array_equal([int(r.result.phase) for r in records], bench["truth"](params))
    assert [r.result.observables["m"] for r in records] == [bench["observable"](x) for x in params]
    assert len({tuple(x) for x in params}) == n  # no point was added twice by a resume
