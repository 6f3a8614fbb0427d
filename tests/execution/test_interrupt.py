"""Ctrl+C: SIGINT to a parent process that is mapping; it must stop within seconds, keep every
finished result and leave no worker behind. The parent is a small script run in a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from spinexplore.execution import get_executor

    backend, pid_dir = sys.argv[1], sys.argv[2]

    def task(seconds):
        open(os.path.join(pid_dir, str(os.getpid())), "w").close()  # workers report themselves
        time.sleep(seconds)
        return seconds

    if __name__ == "__main__":
        n_jobs = 1 if backend == "sequential" else 2
        ex = get_executor(n_jobs, backend)
        items = [0.05] * 4 + [60.0] * 6
        kept = []
        t0 = None
        try:
            for o in ex.map_unordered(task, items):
                kept.append(o.index)
                print("DONE", o.index, o.status.value, flush=True)
        except KeyboardInterrupt:
            print("INTERRUPTED", sorted(kept), flush=True)
            t0 = time.monotonic()
            ex.shutdown()
            print("SHUTDOWN %.2f" % (time.monotonic() - t0), flush=True)
            sys.exit(130)
        print("FINISHED", flush=True)
    """
)

BACKENDS = ["sequential", "process", "loky", pytest.param("dask", marks=pytest.mark.slow)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_sigint_stops_quickly_keeps_results_and_leaves_no_worker(backend, tmp_path, h):
    if backend == "dask":
        pytest.importorskip("distributed")
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    proc = subprocess.Popen([sys.executable, str(script), backend, str(pid_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = []
    deadline = time.monotonic() + 60
    while len(done) < 4 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("DONE"):
            done.append(int(line.split()[1]))
    assert sorted(done) == [0, 1, 2, 3], proc.stderr.read() if proc.poll() is not None else done
    time.sleep(0.3)  # let the long tasks start
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"{backend}: parent still running 15 s after SIGINT\n{err}")
    elapsed = time.monotonic() - t0
    assert proc.returncode == 130, err
    assert "INTERRUPTED [0, 1, 2, 3]" in out
    assert elapsed < (12.0 if backend == "dask" else 5.0), (elapsed, out)
    worker_pids = {int(p) for p in os.listdir(pid_dir)}
    assert worker_pids and proc.pid not in worker_pids
    assert not h.wait_gone(worker_pids, 5.0), f"{backend}: workers left behind"
