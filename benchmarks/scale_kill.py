"""kill -9 a large exploration at random moments: the store opens and resume loses nothing finished.

A child process runs the synthetic 4-D exploration of ``benchmarks/scale.py`` (instantaneous
labels, in-process executor, batch schedule, a checkpoint every 10 results) to ``--n`` points
through the real explorer and store. The driver SIGKILLs it ``--kills`` times at random moments
(once a random share of the run is finished: at once, i.e. among the round's simulations and
checkpoints, or after a random delay of up to 1 s, in a fit or a proposal; the third kill of every five falls at a random
moment of the start-up of a resumed run, the fifth inside a compaction: while the new main file
``exploration.h5.tmp`` exists, whether the resumed run is folding the journal left by the last
kill or folding it on its own every 1024 checkpoints), resumes from the store as
``spinexplore resume`` does (``ActiveLearningExplorer.load`` and the same ``run`` call) and,
after every kill, checks that

- the store opens (read-only, without the dead writer's lock) and its indices are 0..n-1;
- every point the child reported finished is there, finished, with the values it reported:
  the child appends ``index phase m`` of each finished point of a checkpoint to a side log
  and fsyncs it *after* ``store.write`` returned, so the log is a lower bound of what is durable;
- every point that was finished at the previous kill is still there, unchanged, and was not
  simulated again by the resumed run (each child logs the parameters of every call);
- every finished value is the synthetic diagram's label at the point's parameters.

Finally one child runs to the budget uninterrupted; the store must then hold exactly
``--n`` finished points, no journal and no lock.

Usage::

    python benchmarks/scale_kill.py                  # 10^5 points, 10 kills (3-5 min on 2 cores)
    python benchmarks/scale_kill.py --n 20000 --kills 3 --out /tmp/k.json

Writes ``benchmarks/results/scale_kill.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _provenance import load as _load_now  # noqa: E402
from _provenance import provenance  # noqa: E402

SEED = 0


class KillCheckError(AssertionError):
    """A crash-safety check failed (the message says which and where)."""


# ---------------------------------------------------------------------------- the child
def observable(params) -> float:
    """The child's observable ``m``: a pure function of the parameters, checked after each kill."""
    x = np.asarray(params, dtype=float)
    return float(x[0] - 0.5 * x[1] + 0.25 * x[2] * x[3])


def truth(params) -> np.ndarray:
    """The synthetic labels (physical ``PhaseType`` values) at physical parameters of shape (n, 4)."""
    from active_learning import DIAGRAMS
    from spinexplore import PhaseType

    physical = np.array([int(p) for p in PhaseType if p.is_physical])
    k = DIAGRAMS["four_phases_4d"].truth(np.asarray(params, dtype=float).reshape(-1, 4)).astype(int)
    return physical[k % len(physical)]


class _LoggedSimulation:
    """Instantaneous synthetic labels; appends the parameters of every call to ``log``."""

    def __init__(self, log: str) -> None:
        self.fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def __call__(self, p: dict) -> dict:
        from spinexplore import PhaseType

        x = [p[f"x{i}"] for i in range(4)]
        os.write(self.fd, (" ".join(repr(float(v)) for v in x) + "\n").encode())
        return {"phase": PhaseType(int(truth(x)[0])), "confidence": 1.0, "m": observable(x)}


def child(path: str, log_dir: str, n: int) -> None:
    """Create or resume the exploration at ``path`` and run it to ``n`` points."""
    from spinexplore import ActiveLearningExplorer, ParameterSpace
    from spinexplore.execution import get_executor

    batch = n // 50
    if os.path.exists(path):
        ex = ActiveLearningExplorer.load(path, verbose=False)  # what `spinexplore resume` does
    else:
        ex = ActiveLearningExplorer(ParameterSpace({f"x{i}": (0.0, 1.0) for i in range(4)}), seed=SEED,
                                    store=path, verbose=False)
    pid = os.getpid()
    durable = os.open(os.path.join(log_dir, f"durable-{pid}.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    write, lock = ex.store.write, threading.Lock()

    def logged_write(records, state):
        write(records, state)  # durable once this returns: only then is the point reported
        lines = [f"{r.index} {int(r.result.phase)} {r.result.observables['m']!r}\n"
                 for r in records if r.status.is_finished]
        if lines:
            with lock:
                os.write(durable, "".join(lines).encode())
                os.fsync(durable)

    ex.store.write = logged_write
    print("ready", flush=True)
    executor = get_executor(1, "sequential", isolate=False)
    try:
        ex.run(n // batch - 1, batch, _LoggedSimulation(os.path.join(log_dir, f"calls-{pid}.log")),
               n_initial=batch, executor=executor, progress=False, schedule="batch", checkpoint_interval=10)
    finally:
        executor.shutdown()
    ex.close()
    print("finished", flush=True)


# ---------------------------------------------------------------------------- the driver
def _read_durable(log: Path) -> dict[int, tuple[int, float]]:
    out = {}
    if log.exists():
        for line in log.read_text().splitlines():
            parts = line.split()
            if len(parts) == 3:  # a line cut by the kill (never fsynced) is dropped
                out[int(parts[0])] = (int(parts[1]), float(parts[2]))
    return out


def _read_calls(log: Path) -> set[tuple[float, ...]]:
    out = set()
    if log.exists():
        for line in log.read_text().splitlines():
            parts = line.split()
            if len(parts) == 4:
                try:
                    out.add(tuple(float(v) for v in parts))
                except ValueError:
                    pass
    return out


def _snapshot(path: Path) -> tuple[dict[int, tuple], int, float]:
    """Open the store read-only; (finished points by index, number of points, seconds to read)."""
    from spinexplore.store import ExplorationStore

    t0 = time.perf_counter()
    with ExplorationStore.open(path, mode="r") as store:
        records, _ = store.read(spins=False)
    elapsed = time.perf_counter() - t0
    indices = [r.index for r in records]
    if indices != list(range(len(records))):
        raise KillCheckError(f"{path}: indices are not 0..{len(records) - 1}")
    finished = {r.index: (tuple(float(v) for v in r.params), int(r.result.phase), float(r.result.observables["m"]))
                for r in records if r.status.is_finished}
    return finished, len(records), elapsed


def _check(path: Path, before: dict[int, tuple], durable: dict[int, tuple[int, float]],
           calls: set[tuple[float, ...]]) -> tuple[dict[int, tuple], int, float, int]:
    """The checks after one kill; returns the new snapshot, its size, read time and the lost count."""
    after, n, read_s = _snapshot(path)
    lost = [i for i in before if i not in after]
    changed = [i for i in before if i in after and after[i] != before[i]]
    if lost or changed:
        raise KillCheckError(f"{path}: {len(lost)} finished points lost (first {lost[:5]}), {len(changed)} changed "
                             f"(first {changed[:5]})")
    missing = [i for i in durable if i not in after]
    differ = [i for i in durable if i in after and after[i][1:] != durable[i]]
    if missing or differ:
        raise KillCheckError(f"{path}: {len(missing)} points reported finished are missing (first {missing[:5]}), "
                             f"{len(differ)} differ from the report (first {differ[:5]})")
    again = {before[i][0] for i in before} & calls
    if again:
        raise KillCheckError(f"{path}: {len(again)} points finished before the kill were simulated again")
    new = [i for i in after if i not in before]
    labels = truth([after[i][0] for i in new]) if new else []
    wrong = [i for i, label in zip(new, labels) if after[i][1] != label or after[i][2] != observable(after[i][0])]
    if wrong:
        raise KillCheckError(f"{path}: {len(wrong)} finished points hold values that are not the simulation's "
                             f"(first {wrong[:5]})")
    return after, n, read_s, len(calls) - len(new)


def _spawn(path: Path, logs: Path, n: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child", str(path), str(logs), str(n)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait_ready(proc: subprocess.Popen) -> None:
    first = proc.stdout.readline()
    if first.strip() != "ready":
        proc.kill()
        raise RuntimeError(f"the child did not start: {first!r} {proc.stderr.read()[-2000:]}")


def _durable_count(log: Path) -> int:
    try:
        with open(log, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def kill_run(n: int, kills: int, seed: int, workdir: Path, log=print) -> dict:
    """Run ``n`` points with ``kills`` SIGKILLs at random moments; raise KillCheckError on a violation."""
    if n < 1000 or n % 50:
        raise ValueError(f"n must be a multiple of 50 and at least 1000; got {n}")
    if kills < 0:
        raise ValueError(f"kills must be a non-negative integer; got {kills}")
    rng = np.random.default_rng(seed)
    path, logs = workdir / "exploration.h5", workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    # progress at each kill: sorted uniform shares of the run; kills 3, 8, 13... hit a start-up,
    # kills 5, 10, 15... a compaction
    shares = np.sort(rng.uniform(0.02, 0.95, size=kills))
    modes = [("run", "run", "startup", "run", "compaction")[k % 5] for k in range(kills)]
    tmp = path.with_name(path.name + ".tmp")
    snapshot: dict[int, tuple] = {}
    lives, startup_s = [], 1.0
    t_start = time.perf_counter()
    for k in range(kills):
        t0 = time.perf_counter()
        proc = _spawn(path, logs, n)
        if modes[k] == "startup":
            delay = rng.uniform(0.0, startup_s)
            time.sleep(delay)
            moment = f"{delay:.2f} s after start (start-up took {startup_s:.2f} s last time)"
        elif modes[k] == "compaction":
            deadline = time.monotonic() + 600
            while not tmp.exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.0005)
            moment = f"{time.perf_counter() - t0:.2f} s after start, " + (
                "exploration.h5.tmp being written" if tmp.exists() else "no compaction seen")
        else:
            _wait_ready(proc)
            startup_s = time.perf_counter() - t0
            durable_log, target = logs / f"durable-{proc.pid}.log", int(shares[k] * n)
            while proc.poll() is None and len(snapshot) + _durable_count(durable_log) < target:
                time.sleep(0.05)
            # at once (inside the round's simulations and checkpoints) or later (fit, proposal)
            delay = rng.uniform(0.0, 0.02) if rng.random() < 0.5 else rng.uniform(0.0, 1.0)
            time.sleep(delay)
            moment = f"{target} points finished + {delay:.2f} s"
        proc.kill()  # SIGKILL
        proc.wait()
        in_compaction = tmp.exists()
        journal = path.with_name(path.name + ".journal")
        journal_bytes = journal.stat().st_size if journal.exists() else 0
        finished = "finished" in proc.stdout.read()
        lived = time.perf_counter() - t0
        durable = _read_durable(logs / f"durable-{proc.pid}.log")
        calls = _read_calls(logs / f"calls-{proc.pid}.log")
        snapshot, n_points, read_s, redo = _check(path, snapshot, durable, calls)
        life = {"kill": k + 1, "mode": modes[k], "moment": moment, "lived_s": lived, "finished_run": finished,
                "killed_in_compaction": in_compaction, "journal_bytes": journal_bytes,
                "reported_durable": len(durable), "simulated": len(calls), "in_flight_lost": redo,
                "finished_in_store": len(snapshot), "points_in_store": n_points, "read_s": read_s}
        lives.append(life)
        log(f"kill {k + 1}/{kills} ({modes[k]}, {moment}{', inside a compaction' if in_compaction else ''}): "
            f"store opens, {len(snapshot)} finished of {n_points}, "
            f"{len(durable)} reported durable all there, {redo} simulations in flight lost ({lived:.1f} s)")
        if finished:
            break
    t0 = time.perf_counter()
    proc = _spawn(path, logs, n)
    out, err = proc.communicate()
    if proc.returncode != 0 or "finished" not in out:
        raise RuntimeError(f"the last, uninterrupted child failed (exit {proc.returncode}): {err[-2000:]}")
    last_s = time.perf_counter() - t0
    durable = _read_durable(logs / f"durable-{proc.pid}.log")
    calls = _read_calls(logs / f"calls-{proc.pid}.log")
    snapshot, n_points, read_s, redo = _check(path, snapshot, durable, calls)
    if n_points != n or len(snapshot) != n:
        raise KillCheckError(f"{path}: the finished run holds {n_points} points, {len(snapshot)} finished; "
                             f"the budget is {n}")
    for leftover in (".journal", ".lock", ".tmp"):
        if path.with_name(path.name + leftover).exists():
            raise KillCheckError(f"{path}{leftover} is left after a clean close")
    log(f"resumed to the end: {n} points finished, every check passed ({last_s:.1f} s)")
    return {"n": n, "kills_requested": kills, "kills": sum(1 for life in lives if not life["finished_run"]),
            "lives": lives, "last_run_s": last_s, "total_s": time.perf_counter() - t_start,
            "in_flight_lost_total": sum(life["in_flight_lost"] for life in lives),
            "kills_in_compaction": sum(life["killed_in_compaction"] for life in lives),
            "finished_lost": 0, "final_points": n_points, "store_mb": path.stat().st_size / 1e6}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        child(argv[1], argv[2], int(argv[3]))
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=100_000, help="points in the exploration (a multiple of 50, >= 1000)")
    p.add_argument("--kills", type=int, default=10, help="SIGKILLs during the run")
    p.add_argument("--seed", type=int, default=0, help="seed of the kill moments")
    p.add_argument("--out", default=str(HERE / "results" / "scale_kill.json"))
    args = p.parse_args(argv)
    if args.n < 1000 or args.n % 50:
        p.error(f"--n must be a multiple of 50 and at least 1000; got {args.n}")
    if args.kills < 0:
        p.error(f"--kills must be a non-negative integer; got {args.kills}")
    load0 = _load_now()
    with tempfile.TemporaryDirectory(prefix="spinexplore_scale_kill_") as tmp:
        result = kill_run(args.n, args.kills, args.seed, Path(tmp), log=lambda s: print(s, flush=True))
    result["meta"] = {"cpu_count": os.cpu_count(), "python": platform.python_version(),
                      "date": time.strftime("%Y-%m-%d"), "seed": args.seed, "argv": sys.argv[1:]}
    result["provenance"] = provenance(load0)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")
    return 0


def render_readme(data: dict) -> str:
    """The README's kill -9 summary, from results/scale_kill.json (``benchmarks/report.py`` writes it)."""
    from _provenance import describe

    lives = data["lives"]
    modes = {}
    for life in lives:
        modes[life["mode"]] = modes.get(life["mode"], 0) + 1
    worst = max(life["in_flight_lost"] for life in lives)
    where = ", ".join(f"{v} {'in its running phase' if k == 'run' else 'in the start-up of a resumed run' if k == 'startup' else 'inside a compaction' if k == 'compaction' else k}"
                      for k, v in modes.items())
    ok = data["finished_lost"] == 0 and data["final_points"] == data["n"]
    return (f"{data['kills']} kills during a {data['n']:,}-point exploration ({where}); "
            f"{describe(data.get('provenance'))}. "
            + ("Every store opened; every point reported finished was there with the same values and was never "
               "simulated again, and the resumed run completed its budget "
               f"({data['final_points']:,} points). " if ok else
               f"{data['finished_lost']} finished points were lost. ")
            + f"A kill cost at most {worst} simulations ({data['in_flight_lost_total']} in all), "
            "those since the last checkpoint.")


if __name__ == "__main__":
    raise SystemExit(main())
