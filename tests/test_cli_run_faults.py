"""Issue 12, inside a run: a KeyboardInterrupt raised by a simulation is that point's failure
(item 9), worker temp dirs left by kill -9 are removed at the next start (item 11), and the
benchmark times both sides warm (item 10)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from spinexplore import ActiveLearningExplorer, ParameterSpace, PhaseType, PointStatus
from spinexplore.execution import SequentialExecutor, get_executor
from spinexplore.execution import _worker


def interrupting_simulation(params):
    if params["x"] > 0.5:
        raise KeyboardInterrupt("the solver's own Ctrl+C handling went wrong")
    return PhaseType.FERROMAGNET


# ---------------------------------------------------------------- 9. KeyboardInterrupt inside a simulation
@pytest.mark.parametrize("backend, n_jobs", [
    ("process", 2), ("loky", 2), pytest.param("sequential", 1, marks=pytest.mark.slow),
])
def test_a_keyboard_interrupt_inside_a_simulation_fails_only_that_point(backend, n_jobs):
    ex = ActiveLearningExplorer(ParameterSpace({"x": (0.0, 1.0)}), seed=0, verbose=False)
    ex.add_points([[0.1], [0.9], [0.2], [0.8]])
    ex.classify_pending_points(interrupting_simulation, n_jobs=n_jobs, backend=backend, progress=False)
    status = [PointStatus(s) for s in ex.status]
    assert status == [PointStatus.DONE, PointStatus.FAILED, PointStatus.DONE, PointStatus.FAILED]
    for record in ex.records[1::2]:
        error = record.result.error
        assert error.startswith("KeyboardInterrupt: the solver's own Ctrl+C handling went wrong "
                                "(raised by the simulation itself")
        assert "worker died" not in error and "interrupting_simulation" in error


def test_a_keyboard_interrupt_in_process_is_a_failure_but_a_real_signal_stops():
    ex = SequentialExecutor(isolate=False)
    outcomes = list(ex.map_unordered(interrupting_simulation, [{"x": 0.9}, {"x": 0.1}]))
    assert [o.status.value for o in outcomes] == ["failed", "ok"]

    def pressed_ctrl_c(params):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)  # the signal arrives during the simulation

    with pytest.raises(KeyboardInterrupt):
        list(ex.map_unordered(pressed_ctrl_c, [{"x": 0.1}]))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    ex.shutdown()


# ---------------------------------------------------------------- 11. stale worker temp dirs
def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _fake_dir(root, pid, *, host=None, keep=0, owner=True):
    d = root / f"spinexplore_pid{pid}_{keep}{host or ''}{'o' if owner else 'x'}{len(list(root.iterdir()))}"
    d.mkdir()
    (d / "result.json").write_text("{}")
    if owner:
        (d / _worker.OWNER_FILE).write_text(f"{host or socket.gethostname()}\n{pid}\n{keep}\n")
    return d


def test_stale_temp_dirs_of_dead_workers_are_removed_at_the_next_start(tmp_path, monkeypatch):
    monkeypatch.delenv("SPINEXPLORE_KEEP_TMPDIRS", raising=False)
    dead = _dead_pid()
    stale = _fake_dir(tmp_path, dead)
    kept = _fake_dir(tmp_path, dead, keep=1)  # keep_tmpdirs=True: the user wants it
    other_host = _fake_dir(tmp_path, dead, host="elsewhere")  # a shared file system
    alive = _fake_dir(tmp_path, os.getpid())
    unknown = _fake_dir(tmp_path, dead, owner=False)  # no owner file: not ours to judge
    new = _worker.make_tmpdir(str(tmp_path))
    assert not stale.exists()
    assert kept.exists() and other_host.exists() and alive.exists() and unknown.exists() and new.is_dir()
    assert (new / _worker.OWNER_FILE).read_text().split("\n")[:3] == [socket.gethostname(), str(os.getpid()), "0"]


@pytest.mark.slow
def test_a_run_killed_with_sigkill_leaves_no_temp_dir_after_the_next_start(tmp_path):
    # the worker is inside a long simulation when its parent is killed: PR_SET_PDEATHSIG kills it
    # at once, so it cannot remove its temp dir itself (an idle worker would, on EOF)
    script = textwrap.dedent(f"""
        import glob, os, signal, threading, time
        from spinexplore.execution import ProcessExecutor
        ex = ProcessExecutor(1, tmp_root={str(tmp_path)!r})
        threading.Thread(target=lambda: list(ex.map_unordered(time.sleep, [60])), daemon=True).start()
        deadline = time.monotonic() + 60
        while not glob.glob(os.path.join({str(tmp_path)!r}, "spinexplore_pid*")) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # the item reaches the worker
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    subprocess.run([sys.executable, "-c", script], timeout=120)
    deadline = time.monotonic() + 10
    left = list(tmp_path.glob("spinexplore_pid*"))
    assert left, "the killed run should have left its worker's temp dir"
    while time.monotonic() < deadline:  # the worker dies with its parent (PR_SET_PDEATHSIG)
        pids = [int((d / _worker.OWNER_FILE).read_text().split("\n")[1]) for d in left]
        if not any(_worker._pid_alive(p) for p in pids):
            break
        time.sleep(0.1)
    with get_executor(2, "process", tmp_root=str(tmp_path)) as ex:
        list(ex.map_unordered(abs, [1, 2]))
        assert not any(d.exists() for d in left)


# ---------------------------------------------------------------- 10. bench: both timings warm
class _Sleepy:
    def __call__(self, item):
        time.sleep(0.05)
        return item


def test_bench_warm_up_reaches_every_worker():
    from spinexplore.cli._bench import _warm

    with get_executor(2, "process") as ex:
        assert _warm(ex, _Sleepy(), [{"x": 0.0}], 2) == 2


@pytest.mark.slow
def test_bench_efficiency_is_at_most_100_percent(tmp_path, capsys):
    from spinexplore.cli._bench import run_parallel_benchmark

    figures = run_parallel_benchmark(n_sims=4, n_jobs=2, mode="screening", lattice_size=6,
                                     output=tmp_path / "bench.json")
    assert figures["n_ok_sequential"] == figures["n_ok_parallel"] == 4
    assert figures["n_workers"] == 2
    # a cold sequential side once gave 2195 %; warm on both sides it cannot beat the worker count
    assert 0 < figures["efficiency"] <= 1.25, figures
    assert "Warming up every worker" in capsys.readouterr().out
    assert (tmp_path / "bench.json").is_file()
