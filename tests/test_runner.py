"""The runner behind ``explorer.run``: asynchronous schedule, goals, efficiency, signals, resume."""

from __future__ import annotations

import concurrent.futures as cf
import os
import signal
import subprocess
import sys
import textwrap
import time

import cloudpickle
import numpy as np
import pytest

from spinexplore import ActiveLearningExplorer, ParameterSpace, PhaseType, PointStatus
from spinexplore.execution import get_executor
from spinexplore.goals import any_goal, convergence_goal, make_goal, points_goal, time_goal
from spinexplore.learner import PhaseLearner

cloudpickle.register_pickle_by_value(sys.modules[__name__])
SPACE = ParameterSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)})


def disc(p):
    time.sleep(0.01)
    return PhaseType.SKYRMION if (p["x"] - 0.4) ** 2 + (p["y"] - 0.5) ** 2 < 0.09 else PhaseType.FERROMAGNET


def faulty(p):
    """Hangs in one corner, crashes in another, raises in a third, else a disc."""
    if p["x"] < 0.15 and p["y"] < 0.15:
        time.sleep(1e6)
    if p["x"] > 0.85 and p["y"] > 0.85:
        os._exit(1)
    if p["x"] < 0.15 and p["y"] > 0.85:
        raise ValueError("bad corner")
    return disc(p)


def _unique_rows(X):
    return len(np.unique(np.round(X, 12), axis=0))


@pytest.mark.parametrize("backend", ["process", "loky", "threads"])
def test_async_runs_the_budget_once_each_and_stores_every_point(tmp_path, backend):
    ex_arg = get_executor(2, cf.ThreadPoolExecutor(2)) if backend == "threads" else backend
    explorer = ActiveLearningExplorer(SPACE, seed=3, store=tmp_path / "e.h5", verbose=False)
    kwargs = {"executor": ex_arg} if backend == "threads" else {"n_jobs": 2, "backend": backend}
    explorer.run(3, 6, disc, n_initial=8, progress=False, schedule="async", **kwargs)
    assert explorer.n_points == 8 + 3 * 6
    assert (explorer.status == PointStatus.DONE).all()
    assert _unique_rows(explorer.X) == explorer.n_points  # nothing proposed twice
    stats = explorer.run_stats
    assert stats["schedule"] == "async" and stats["n_workers"] == 2 and stats["n_simulations"] == 26
    assert 0 < stats["efficiency"] <= 1.05
    explorer.close()
    back = ActiveLearningExplorer.load(tmp_path / "e.h5", read_only=True)
    assert (back.status == PointStatus.DONE).sum() == 26
    assert back.run_stats["n_simulations"] == 26
    assert set(back.iterations) == {0, 1, 2, 3}  # numbered as rounds of n_per_iteration
    back.store.close()


def test_async_is_the_default_with_several_workers_batch_with_one():
    explorer = ActiveLearningExplorer(SPACE, seed=0, verbose=False)
    explorer.run(1, 4, disc, n_initial=4, n_jobs=2, progress=False)
    assert explorer.run_stats["schedule"] == "async"
    explorer.run(2, 4, disc, n_jobs=1, progress=False)
    assert explorer.run_stats["schedule"] == "batch" and explorer.n_points == 12


def test_a_hung_or_crashing_simulation_does_not_stall_the_others():
    explorer = ActiveLearningExplorer(SPACE, seed=1, verbose=False)
    explorer.add_points([[0.05, 0.05], [0.95, 0.95], [0.05, 0.95]])  # hang, crash, raise
    explorer.run(2, 6, faulty, n_initial=6, n_jobs=2, timeout=2.0, progress=False, schedule="async")
    c = explorer.counts()
    assert c["TIMEOUT"] >= 1 and c["FAILED"] >= 2
    assert c["DONE"] >= explorer.n_points - 3 - 4  # proposals avoid failed corners, mostly
    assert not explorer.learner.pending_indices()
    failed = [r for r in explorer.records if r.status == PointStatus.FAILED]
    assert any("bad corner" in r.result.error for r in failed)
    assert any("worker died" in r.result.error for r in failed)


def test_goals_stop_the_run_and_say_which():
    explorer = ActiveLearningExplorer(SPACE, seed=2, verbose=False)
    explorer.run(1000, 4, disc, n_initial=4, n_jobs=2, progress=False, max_time=1.5)
    assert explorer.n_points < 1000 and "time_goal(1.5)" in explorer.run_stats["stopped_by"]
    explorer = ActiveLearningExplorer(SPACE, seed=2, verbose=False)
    explorer.run(1000, 4, disc, n_initial=4, n_jobs=1, progress=False, goal=lambda r: r.n_finished >= 9)
    assert 9 <= explorer.n_points <= 12  # batch schedule: checked between rounds of 4


def test_convergence_goal_stops_a_settled_diagram():
    def flat(p):  # 10 ms: instant points could all finish before the first background fit
        time.sleep(0.01)
        return PhaseType.FERROMAGNET

    explorer = ActiveLearningExplorer(SPACE, seed=0, verbose=False)
    explorer.run(200, 4, flat, n_initial=8, n_jobs=2, progress=False, converge=0.01, converge_window=8)
    assert explorer.n_points < 8 + 200 * 4
    assert explorer.learner.changed_since(8) < 0.01
    assert explorer.run_stats["stopped_by"].startswith("convergence_goal")


def test_goal_objects_and_bad_goal_arguments():
    g = any_goal(points_goal(10), time_goal(60))
    assert repr(g) == "any_goal(points_goal(10), time_goal(60.0))"
    assert make_goal() is None
    with pytest.raises(ValueError, match="max_time must be > 0"):
        make_goal(max_time=0)
    with pytest.raises(ValueError, match="converge must be <= 1"):
        convergence_goal(2.0)
    with pytest.raises(ValueError, match="converge_window=5 needs converge"):
        make_goal(converge_window=5)
    with pytest.raises(TypeError, match="goal must be callable"):
        make_goal(goal=3)
    explorer = ActiveLearningExplorer(SPACE, seed=0, verbose=False)
    with pytest.raises(ValueError, match="schedule must be one of"):
        explorer.run(1, 2, disc, schedule="eager")
    assert explorer.n_points == 0  # refused before any work


def test_the_seed_and_settings_are_in_the_store_before_any_simulation(tmp_path):
    explorer = ActiveLearningExplorer(SPACE, seed=None, store=tmp_path / "e.h5", verbose=False,
                                      settings={"model": "square-chiral", "lattice_size": 12})
    seed = explorer.seed
    os.kill(os.getpid(), 0)  # nothing ran; the process could die now
    back = ActiveLearningExplorer.load(tmp_path / "e.h5", read_only=True)
    assert back.seed == seed and back.settings == {"model": "square-chiral", "lattice_size": 12}
    back.store.close()
    explorer.close()
    with pytest.raises(ValueError, match="JSON-able"):
        ActiveLearningExplorer(SPACE, settings={"f": object()})


def test_learner_keeps_in_flight_points_out_of_proposals():
    learner = PhaseLearner(SPACE, seed=0)
    first = learner.add_initial_samples(6)
    more = learner.propose(6, refit=False)  # nothing finished: all 12 are pending
    X = learner.points(first + more)
    assert _unique_rows(X) == 12
    d = np.linalg.norm(X[:, None] - X[None], axis=-1) + np.eye(12)
    assert d.min() > 0.02


_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from spinexplore import ActiveLearningExplorer, ParameterSpace, PhaseType
    from spinexplore.errors import Interrupted

    CALLS = sys.argv[2]

    def slow(p):
        time.sleep(0.3)
        with open(CALLS, "a") as f:
            f.write(f"{p['x']!r} {p['y']!r}\\n")
        return PhaseType.FERROMAGNET if p["x"] > 0.5 else PhaseType.SINGLE_Q

    space = ParameterSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)})
    if sys.argv[3] == "new":
        ex = ActiveLearningExplorer(space, seed=0, store=sys.argv[1], verbose=False)
    else:
        ex = ActiveLearningExplorer.load(sys.argv[1], verbose=False)
    print("READY", flush=True)
    try:
        ex.run(2, 6, slow, n_initial=8, n_jobs=2, checkpoint_interval=2, progress=False, schedule="async")
    except Interrupted as exc:
        ex.close()
        print("INTERRUPTED", exc.signum, flush=True)
        sys.exit(exc.exit_code)
    ex.close()
    print("DONE", ex.n_points, flush=True)
    """
)


def _start(tmp_path, mode):
    script = tmp_path / "run.py"
    script.write_text(_SCRIPT)
    return subprocess.Popen([sys.executable, str(script), str(tmp_path / "e.h5"), str(tmp_path / "calls.txt"), mode],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _calls(tmp_path):
    path = tmp_path / "calls.txt"
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.parametrize("sig, code", [
    pytest.param(signal.SIGINT, 130, marks=pytest.mark.slow),
    (signal.SIGTERM, 143),  # what a batch scheduler sends at the wall-time limit
    pytest.param(signal.SIGKILL, -9, marks=pytest.mark.slow),
])
def test_async_stop_by_signal_keeps_finished_points_and_resume_finishes(tmp_path, sig, code):
    proc = _start(tmp_path, "new")
    assert proc.stdout.readline().strip() == "READY"
    deadline = time.monotonic() + 60
    while len(_calls(tmp_path)) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    if sig != signal.SIGKILL:
        assert f"INTERRUPTED {int(sig)}" in out
        assert "Traceback" not in err
    before = ActiveLearningExplorer.load(tmp_path / "e.h5", read_only=True)
    done_before = {tuple(r.params) for r in before.records if r.status == PointStatus.DONE}
    before.store.close()
    if sig != signal.SIGKILL:  # a graceful stop saves every result that finished
        assert len(done_before) >= len(_calls(tmp_path)) - 2  # calls still being written when killed
    else:  # kill -9: at most the results since the last checkpoint (every 2 results) are lost
        assert len(done_before) >= 2
    proc = _start(tmp_path, "resume")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "DONE 20" in out
    back = ActiveLearningExplorer.load(tmp_path / "e.h5", read_only=True)
    assert (back.status == PointStatus.DONE).sum() == 20 and _unique_rows(back.X) == 20
    assert done_before <= {tuple(r.params) for r in back.records}
    back.store.close()


@pytest.mark.slow
def test_async_runner_on_a_dask_local_cluster():
    pytest.importorskip("distributed")
    explorer = ActiveLearningExplorer(SPACE, seed=4, verbose=False)
    explorer.run(2, 4, disc, n_initial=4, n_jobs=2, backend="dask", progress=False, schedule="async")
    assert explorer.n_points == 12 and (explorer.status == PointStatus.DONE).all()
    assert _unique_rows(explorer.X) == 12 and explorer.run_stats["n_workers"] == 2


_MPI_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from spinexplore import ActiveLearningExplorer, ParameterSpace, PhaseType

    def sim(p):
        time.sleep(0.05)
        return PhaseType.SKYRMION if p["x"] > p["y"] else PhaseType.FERROMAGNET

    if __name__ == "__main__":  # the worker ranks import this module too
        space = ParameterSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)})
        ex = ActiveLearningExplorer(space, seed=0, store=sys.argv[-1], verbose=False)
        ex.run(2, 4, sim, n_initial=4, backend="mpi", n_jobs=2, progress=False, schedule="async")
        ex.close()
        print("RESULT", ex.n_points, ex.counts().get("DONE"), ex.run_stats["n_workers"], ex.run_stats["schedule"])
    """
)


@pytest.mark.slow
def test_async_runner_under_mpiexec(tmp_path):
    import shutil

    pytest.importorskip("mpi4py.futures")
    exe = shutil.which("mpiexec") or shutil.which("mpiexec", path=os.path.dirname(sys.executable))
    if exe is None:
        pytest.skip("mpiexec not found (pip install spinexplore[mpi])")
    script = tmp_path / "mpi_run.py"
    script.write_text(_MPI_SCRIPT)
    proc = subprocess.run([exe, "-n", "3", sys.executable, "-m", "mpi4py.futures", str(script), str(tmp_path / "e.h5")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "RESULT 12 12 2 async" in proc.stdout, proc.stdout[-2000:]


def test_docstring_examples_of_the_facade_and_the_goals():
    import doctest

    import spinexplore.explorer
    import spinexplore.goals

    for module in (spinexplore.explorer, spinexplore.goals):
        failed, tried = doctest.testmod(module)
        assert tried > 0 and failed == 0, module.__name__


# ---------------------------------------------------------------------------- issue 24: timeouts, signals

class ColdStart:
    """The built-in simulation's cold start, in small: unpickling costs ``load`` s (numba's
    import) and the first call ``warm`` s more (compiled kernels) unless ``warmup()`` ran.
    Points with x < ``slow_below`` take 0.6 s."""

    def __init__(self, load, warm, slow_below=-1.0):
        self.load, self.warm, self.slow_below, self.warmed = load, warm, slow_below, False

    def __getstate__(self):
        return {"load": self.load, "warm": self.warm, "slow_below": self.slow_below}

    def __setstate__(self, state):
        time.sleep(state["load"])
        self.__dict__.update(state)
        self.warmed = False

    def warmup(self):
        if not self.warmed:
            time.sleep(self.warm)
            self.warmed = True

    def __call__(self, p):
        self.warmup()
        if p["x"] < self.slow_below:
            time.sleep(0.6)
        return disc(p)


@pytest.mark.parametrize("schedule", ["async", pytest.param("batch", marks=pytest.mark.slow)])
def test_a_timeout_shorter_than_a_cold_start_finishes_every_point(schedule):
    """The probe of issue 24: ``--timeout 1`` with a 1.2 s worker warm-up turned every point
    into TIMEOUT. A timeout is for the simulation: warm-up and start-up are never timed."""
    explorer = ActiveLearningExplorer(SPACE, seed=5, verbose=False)
    explorer.run(1, 4, ColdStart(0.15, 0.15), n_initial=6, n_jobs=2, timeout=0.25, progress=False, schedule=schedule)
    assert explorer.counts().get("DONE") == 10, explorer.counts()
    assert explorer.run_stats["n_ok"] == 10


@pytest.mark.slow
def test_resume_with_a_larger_timeout_reruns_the_points_that_timed_out(tmp_path, caplog):
    sim = ColdStart(0.0, 0.0, slow_below=0.3)
    explorer = ActiveLearningExplorer(SPACE, seed=6, store=tmp_path / "e.h5", verbose=False)
    explorer.add_points([[0.1, 0.1], [0.2, 0.8]])  # slow: 0.6 s
    explorer.run(0, 2, sim, n_initial=2, n_jobs=1, timeout=0.3, progress=False)
    assert explorer.counts()["TIMEOUT"] == 2
    timed_out = {i for i, r in enumerate(explorer.records) if r.status == PointStatus.TIMEOUT}
    explorer.close()
    explorer = ActiveLearningExplorer.load(tmp_path / "e.h5", verbose=False)
    explorer.run(0, 2, sim, n_jobs=1, timeout=0.3, progress=False)  # the same timeout: nothing reruns
    assert {i for i, r in enumerate(explorer.records) if r.status == PointStatus.TIMEOUT} == timed_out
    with caplog.at_level("WARNING", logger="spinexplore"):
        explorer.run(0, 2, sim, n_jobs=2, timeout=5.0, progress=False)
    assert "2 point(s) that timed out at an earlier, shorter timeout rerun now (timeout=5 s)" in caplog.text
    assert all(explorer.records[i].status == PointStatus.DONE for i in timed_out)
    explorer.close()
    back = ActiveLearningExplorer.load(tmp_path / "e.h5", read_only=True)
    assert all(back.records[i].status == PointStatus.DONE for i in timed_out)
    back.store.close()


def _always_slow(p):
    time.sleep(5)


def test_a_run_where_every_point_timed_out_says_so(caplog):
    explorer = ActiveLearningExplorer(SPACE, seed=7, verbose=False)
    with caplog.at_level("WARNING", logger="spinexplore"):
        explorer.run(0, 2, _always_slow, n_initial=3, n_jobs=1, timeout=0.2, progress=False)
    assert "No result: all 3 simulations of this run timed out (timeout=0.2 s)" in caplog.text
    assert explorer.run_stats["efficiency"] is None
    from spinexplore.runner import format_stats

    assert "none succeeded: 3 TIMEOUT" in format_stats(explorer.run_stats)
    assert "efficiency n/a" in format_stats(explorer.run_stats)


_JOB_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from spinexplore import ActiveLearningExplorer, ParameterSpace, PhaseType
    from spinexplore.errors import Interrupted

    CALLS, SLEEP = sys.argv[2], float(sys.argv[4])

    def slow(p):
        with open(CALLS, "a") as f:
            f.write(f"{os.getpid()}\\n")
        time.sleep(SLEEP)
        return PhaseType.FERROMAGNET if p["x"] > 0.5 else PhaseType.SINGLE_Q

    space = ParameterSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)})
    if sys.argv[3] == "new":
        ex = ActiveLearningExplorer(space, seed=0, store=sys.argv[1], verbose=False)
    else:
        ex = ActiveLearningExplorer.load(sys.argv[1], verbose=False)
    try:
        ex.run(1, 2, slow, n_initial=6, n_jobs=2, checkpoint_interval=1, progress=False, schedule="async")
    except Interrupted as exc:
        ex.close()
        print("INTERRUPTED", exc.signum, flush=True)
        sys.exit(exc.exit_code)
    ex.close()
    print("DONE", ex.n_points, flush=True)
    """
)


@pytest.mark.slow
def test_sigterm_to_the_whole_job_cancels_the_points_of_the_workers_it_reached_first(tmp_path):
    """A batch scheduler's wall-time signal goes to every process of the job, the workers
    first here: their points must be CANCELLED (rerun on resume), never FAILED."""
    script = tmp_path / "job.py"
    script.write_text(_JOB_SCRIPT)
    calls = tmp_path / "calls.txt"

    def started():
        return [int(x) for x in calls.read_text().split()] if calls.exists() else []

    args = [sys.executable, str(script), str(tmp_path / "e.h5"), str(calls)]
    proc = subprocess.Popen(args + ["new", "3"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(set(started())) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    workers = sorted(set(started()))
    assert len(workers) == 2, proc.communicate(timeout=60)
    for pid in workers:
        os.kill(pid, signal.SIGTERM)
    # the main process notices the deaths and hands the next points to replacement workers
    while len(set(started()) - set(workers)) < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "INTERRUPTED 15" in out
    before = ActiveLearningExplorer.load(tmp_path / "e.h5", read_only=True)
    assert before.counts().get("FAILED", 0) == 0, [r.result.error for r in before.records if r.result]
    assert before.counts().get("CANCELLED", 0) >= 2
    before.store.close()
    proc = subprocess.run(args + ["resume", "0.05"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    back = ActiveLearningExplorer.load(tmp_path / "e.h5", read_only=True)
    assert (back.status == PointStatus.DONE).sum() == 8, back.counts()
    back.store.close()


# ---------------------------------------------------------------------------- issue 24: a stuck fit process

def _stop_the_fit_process_when_it_starts(monkeypatch):
    import threading

    from spinexplore.runner._background import FitProcess

    start = FitProcess.__init__

    def init(self):
        start(self)

        def stop():
            while not self._pool.worker_pids():
                time.sleep(0.002)
            os.kill(self._pool.worker_pids()[0], signal.SIGSTOP)

        threading.Thread(target=stop, daemon=True).start()

    monkeypatch.setattr(FitProcess, "__init__", init)


def test_a_stopped_fit_process_is_given_up_with_a_warning_and_learning_goes_on(monkeypatch, caplog):
    """A fit process SIGSTOPped at its start held every fit forever: the run finished with no
    fit and no word, and stopping it took 30 s."""
    _stop_the_fit_process_when_it_starts(monkeypatch)
    explorer = ActiveLearningExplorer(SPACE, seed=8, verbose=False)
    with caplog.at_level("WARNING", logger="spinexplore"):
        explorer.run(2, 6, disc, n_initial=8, n_jobs=2, progress=False, schedule="async")
    assert "The background fit process is given up (the fit process was stopped" in caplog.text
    assert explorer.n_points == 20 and explorer.learner.history  # fits ran, in this process


class _SlowSurrogate:
    """Fits for 30 s (long enough to be stopped in the middle)."""

    def fit(self, X, y, sample_weight=None):
        time.sleep(30)
        return self


@pytest.mark.slow
def test_a_fit_process_stopped_during_a_fit_is_killed_and_the_fit_fails_with_why():
    import threading

    from spinexplore.runner._background import FitProcess

    fp = FitProcess()
    try:
        assert fp._ready.wait(120) and fp.broken is None
        errors = []
        job = (cloudpickle.dumps(_SlowSurrogate()), np.zeros((3, 2)), np.zeros(3, int), np.ones(3), 2)
        thread = threading.Thread(target=lambda: errors.append(pytest.raises(RuntimeError, fp.fit, job)))
        thread.start()
        deadline = time.monotonic() + 30
        while not fp._lock.locked() and time.monotonic() < deadline:  # the fit was sent
            time.sleep(0.002)
        os.kill(fp._pool.worker_pids()[0], signal.SIGSTOP)
        thread.join(30)
        assert not thread.is_alive()
        assert "stopped (SIGSTOP?) during a fit" in str(errors[0].value)
        assert fp.broken and "stopped" in fp.broken
    finally:
        fp.close()
        assert not fp._pool.worker_pids()


class _SignalInDel:
    """SIGTERM to this process from inside ``__del__``: its exception is printed as "Exception
    ignored in" and swallowed, as in C code that ignores exceptions (scipy's Sobol tables)."""

    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # the handler runs here, and its exception is swallowed
            pass


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("schedule", ["async", "batch"])
def test_a_sigterm_whose_exception_is_swallowed_still_stops_the_run(tmp_path, schedule):
    """The stop-time probe of issue 24: a SIGTERM that landed in scipy's Sobol initialisation
    was swallowed and the run went on to exit 0."""
    from spinexplore.errors import Interrupted

    calls = []

    def goal(runner):
        calls.append(1)
        if len(calls) == 2:
            _SignalInDel()  # created and dropped at once
        return False

    explorer = ActiveLearningExplorer(SPACE, seed=9, store=tmp_path / "e.h5", verbose=False)
    with pytest.raises(Interrupted) as info:
        explorer.run(50, 2, disc, n_initial=4, n_jobs=2 if schedule == "async" else 1, progress=False,
                     schedule=schedule, goal=goal)
    assert info.value.signum == signal.SIGTERM and getattr(info.value, "saved", False)
    assert explorer.n_points < 4 + 50 * 2
    explorer.close()


# ---------------------------------------------------------------------------- issue 24: size limits

@pytest.mark.parametrize("call, n", [("add_initial_samples", 10**9), ("add_initial_samples", 2 * 10**7),
                                     ("propose", 5 * 10**6)])
def test_oversized_calls_are_refused_before_any_work(call, n):
    """``add_initial_samples(10**9)`` was killed by the kernel at 24 GB, ``2*10**7`` ran 90 s
    before a MemoryError, ``propose(5*10**6)`` ran for minutes."""
    from spinexplore._validation import MAX_POINTS, InputError

    learner = PhaseLearner(SPACE, seed=0)
    learner.add_initial_samples(10)
    with pytest.raises(InputError, match=rf"{call}: n must be between 1 and [0-9,]+ .*got {n}") as info:
        getattr(learner, call)(n)
    assert f"{MAX_POINTS - 10:,}" in str(info.value) or "GB of memory" in str(info.value)
    assert learner.n_points == 10  # nothing was added
    with pytest.raises(InputError, match="add_points: points must be between 1 and"):
        learner.add_points(np.full((MAX_POINTS, 2), 0.5))
    assert learner.n_points == 10


def test_async_run_records_its_convergence_history():
    """Issue 23 (2): after an asynchronous run the history was empty (no background fit landed)."""
    explorer = ActiveLearningExplorer(SPACE, seed=0, verbose=False)
    explorer.run(5, 4, disc, n_initial=8, executor=get_executor(2, cf.ThreadPoolExecutor(2)), progress=False,
                 schedule="async")
    assert explorer.iteration == 5
    last = explorer.history[-1]
    assert last["iteration"] == 5 and last["n_done"] == explorer.n_points == 28
    assert 0 <= last["mean_uncertainty"] <= 1


def bad_return(p):
    return {"energy": -1.0, "label": "FM"}  # no "phase": every point fails the same way


@pytest.mark.parametrize("schedule", ["batch", "async"])
def test_a_simulation_failing_the_same_way_every_time_stops_the_run(tmp_path, caplog, schedule):
    """Issue 23 (3): every point FAILED silently and the run went on to spend its whole budget."""
    from spinexplore.errors import SimulationFailingError
    from spinexplore.runner import FAIL_FAST_AFTER

    explorer = ActiveLearningExplorer(SPACE, seed=0, store=tmp_path / "e.h5", verbose=False)
    ex = get_executor(2, cf.ThreadPoolExecutor(2)) if schedule == "async" else None
    with caplog.at_level("WARNING", logger="spinexplore"):
        with pytest.raises(SimulationFailingError, match="mapping without a 'phase' key"):
            explorer.run(3, 10, bad_return, n_initial=20, executor=ex, progress=False, schedule=schedule)
    failed = explorer.counts(by="status")["FAILED"]
    assert FAIL_FAST_AFTER <= failed < 20  # stopped early, the budget was 50
    assert "Point" in caplog.text and "FAILED" in caplog.text and "'phase' key" in caplog.text  # as they happen
    explorer.close()
    back = ActiveLearningExplorer.load(tmp_path / "e.h5", read_only=True)  # the failures were saved
    assert back.counts(by="status")["FAILED"] == failed
    back.store.close()


def test_failures_with_different_errors_or_a_success_do_not_stop_the_run():
    def mixed(p):
        if p["x"] < 0.5:
            raise ValueError(f"bad x {p['x']:.6f}")  # a different message at every point
        return disc(p)

    explorer = ActiveLearningExplorer(SPACE, seed=0, verbose=False)
    explorer.run(1, 4, mixed, n_initial=10, n_jobs=1, progress=False)
    assert explorer.n_points == 14 and explorer.counts(by="status")["FAILED"] >= 1


def test_more_workers_than_usable_cores_is_warned_about(monkeypatch, caplog):
    """Issue 23 (6): --n-jobs 16 on 2 cores ran at 9 % efficiency without a word."""
    import spinexplore.runner as runner_mod

    monkeypatch.setattr(runner_mod, "usable_cores", lambda: 1)
    explorer = ActiveLearningExplorer(SPACE, seed=0, verbose=False)
    with caplog.at_level("WARNING", logger="spinexplore"):
        explorer.run(1, 2, disc, n_initial=2, n_jobs=2, progress=False)
    assert "n_jobs=2 starts 2 workers on 1 usable cores" in caplog.text and "n_jobs=-1" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="spinexplore"):  # a cluster's workers bring their own cores
        assert not runner_mod.warn_oversubscribed(64, "dask")
        explorer.run(2, 2, disc, executor=get_executor(2, cf.ThreadPoolExecutor(2)), progress=False)
    assert "usable cores" not in caplog.text
