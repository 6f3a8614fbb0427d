"""How long a run takes to stop after SIGTERM (a batch scheduler's wall-time signal), by state.

A child process runs a real exploration (``ActiveLearningExplorer.run`` with an HDF5 store, two
``process`` workers and the background fit process, the asynchronous schedule) of a small
synthetic diagram. The driver sends SIGTERM at a chosen moment and measures the seconds until
the child has exited (its checkpoint written, its workers and fit process gone). The states:

``start``
    as soon as the run has started its first process (workers and fit process starting);
``warm-up``
    while the workers run ``simulation.warmup()`` (here a 3 s one);
``mid-run``
    after 20 simulations;
``refit``
    while the fit process fits a surrogate (here a fit that takes 5 s);
``fit-stopped``
    mid-run, with the fit process SIGSTOPped since its start (stuck: it never said "ready").

Each child must exit with 143 and leave no process behind; the report keeps every time, and
the README quotes the largest (target: <= 2 s in every state).

Usage::

    python benchmarks/stop_time.py                 # 3 repeats of each state (~1-2 min)
    python benchmarks/stop_time.py --repeats 1 --out /tmp/stop.json

Writes ``benchmarks/results/stop_time.json`` (``--out``), with the commit, the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
STATES = ("start", "warm-up", "mid-run", "refit", "fit-stopped")
TARGET_S = 2.0

CHILD = textwrap.dedent(
    """
    import os, sys, threading, time
    from pathlib import Path

    from sklearn.neighbors import KNeighborsClassifier

    import spinexplore.runner._background as background
    from spinexplore import ActiveLearningExplorer, ParameterSpace, PhaseType
    from spinexplore.errors import Interrupted

    D, STATE = Path(sys.argv[1]), sys.argv[2]

    def mark(name):
        (D / name).write_text(str(os.getpid()))

    class Sim:
        def warmup(self):
            if STATE == "warm-up":
                mark("warmup")
                time.sleep(3.0)

        def __call__(self, p):
            time.sleep(0.05)
            with open(D / "calls", "a") as fh:
                fh.write("x\\\\n")
            inside = (p["x"] - 0.5) ** 2 + (p["y"] - 0.5) ** 2 < 0.1
            return PhaseType.SKYRMION if inside else PhaseType.FERROMAGNET

    class SlowFit(KNeighborsClassifier):
        def fit(self, X, y):
            if STATE == "refit":
                mark("fitting")
                time.sleep(5.0)
            return super().fit(X, y)

    if STATE == "fit-stopped":  # tell the driver the fit process's pid as soon as it exists
        start = background.FitProcess.__init__

        def init(self, *args, **kwargs):
            start(self, *args, **kwargs)

            def report():
                while not self._pool.worker_pids():
                    time.sleep(0.005)
                (D / "fitpid").write_text(str(self._pool.worker_pids()[0]))

            threading.Thread(target=report, daemon=True).start()

        background.FitProcess.__init__ = init

    space = ParameterSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)})
    ex = ActiveLearningExplorer(space, seed=0, store=D / "e.h5", verbose=False, surrogate=SlowFit(3))
    try:
        ex.run(40, 10, Sim(), n_initial=20, n_jobs=2, progress=False, schedule="async")
    except Interrupted as exc:
        ex.close()
        print("SAVED", time.monotonic(), flush=True)  # every result saved, the store closed
        sys.exit(exc.exit_code)
    ex.close()
    print("FINISHED", flush=True)
    """
)


def _children(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (Linux /proc)."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                if fields[0] != "Z":
                    parents[int(name)] = int(fields[1])
            except OSError:
                pass
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        for child, parent in parents.items():
            if parent == p and child not in out:
                out.add(child)
                todo.append(child)
    return out


def _wait_for(predicate, seconds: float = 120.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.005)
    return False


def measure(state: str, work: Path) -> dict:
    """One child stopped by SIGTERM in ``state``: seconds to exit, exit code, leftovers."""
    work.mkdir(parents=True)
    script = work / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(script), str(work), state], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    calls = work / "calls"

    def n_calls() -> int:
        return calls.read_text().count("x") if calls.exists() else 0

    ready = {
        "start": lambda: bool(_children(proc.pid)),  # its first worker (or fit process) exists
        "warm-up": lambda: (work / "warmup").exists(),
        "mid-run": lambda: n_calls() >= 20,
        "refit": lambda: (work / "fitting").exists(),
        "fit-stopped": lambda: n_calls() >= 20,
    }[state]
    if state == "fit-stopped":
        if not _wait_for(lambda: (work / "fitpid").exists() or proc.poll() is not None):
            raise RuntimeError("the fit process never started")
        os.kill(int((work / "fitpid").read_text()), signal.SIGSTOP)
    if not _wait_for(lambda: ready() or proc.poll() is not None):
        proc.kill()
        raise RuntimeError(f"{state}: the child never reached the state")
    if proc.poll() is not None:
        raise RuntimeError(f"{state}: the child ended before the signal: {proc.communicate()[1][-2000:]}")
    family = _children(proc.pid)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
    seconds = time.monotonic() - t0
    err = proc.stderr.read()
    saved = [float(line.split()[1]) - t0 for line in proc.stdout.read().splitlines() if line.startswith("SAVED")]
    left = {p for p in family if os.path.exists(f"/proc/{p}")}
    left = {p for p in left if open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"}
    for p in left:  # the benchmark's own children: do not leave them running
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass
    return {"state": state, "seconds": round(seconds, 3),
            "saved_seconds": round(saved[0], 3) if saved else None, "exit_code": proc.returncode,
            "left_behind": len(left), "calls_before_stop": n_calls(), "stderr_tail": err[-300:]}


def render_readme(data: dict) -> str:
    """The README's table of stop times (between the ``report:stop_time`` markers)."""
    n = data["repeats"]
    lines = [f"| state when SIGTERM arrives | results saved, store closed (max of {n}) | process exited (max of {n}) "
             "| exit code |", "|---|---|---|---|"]
    for state in STATES:
        rows = [r for r in data["runs"] if r["state"] == state]
        if rows:
            codes = sorted({r["exit_code"] for r in rows})
            saved = [r["saved_seconds"] for r in rows if r.get("saved_seconds") is not None]
            saved_text = f"{max(saved):.2f} s" if saved else "n/a"
            lines.append(f"| {state} | {saved_text} | {max(r['seconds'] for r in rows):.2f} s "
                         f"| {', '.join(map(str, codes))} |")
    m = data["machine"]
    lines.append("")
    lines.append(f"Measured by `benchmarks/stop_time.py` (commit {data['commit']}, {m['cpu_count']} cores, load "
                 f"average {m['loadavg_start'][0]:.1f} at the start and {m['loadavg_end'][0]:.1f} at the end): "
                 f"the largest time to exit is {data['max_seconds']:.2f} s (target {TARGET_S:g} s); the rest "
                 "after the store is closed is the interpreter's own exit (unloading numba and scikit-learn).")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--states", nargs="+", default=list(STATES), choices=STATES)
    p.add_argument("--out", default=str(HERE / "results" / "stop_time.json"))
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error(f"--repeats must be >= 1; got {args.repeats}")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip() or "unknown"
    if subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True,
                      cwd=ROOT).stdout.strip():
        commit += "+changes"  # measured on a working tree that differs from the commit
    report = {"commit": commit, "repeats": args.repeats, "target_seconds": TARGET_S,
              "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(),
                          "platform": platform.platform(), "loadavg_start": os.getloadavg()},
              "date": time.strftime("%Y-%m-%d %H:%M"), "runs": []}
    with tempfile.TemporaryDirectory(prefix="spinexplore_stop_time_") as tmp:
        for k in range(args.repeats):
            for state in args.states:
                row = measure(state, Path(tmp) / f"{state}-{k}")
                report["runs"].append(row)
                print(f"{state:12s} saved {row['saved_seconds']} s, exited {row['seconds']:6.2f} s  exit {row['exit_code']}  "
                      f"left {row['left_behind']}", flush=True)
    report["machine"]["loadavg_end"] = os.getloadavg()
    report["max_seconds"] = max(r["seconds"] for r in report["runs"])
    report["max_saved_seconds"] = max((r["saved_seconds"] or 0.0) for r in report["runs"])
    report["all_exit_143"] = all(r["exit_code"] == 143 for r in report["runs"])
    report["nothing_left"] = all(r["left_behind"] == 0 for r in report["runs"])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(f"largest: {report['max_seconds']:.2f} s; wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
