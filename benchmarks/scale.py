"""A large exploration through the real explorer, store and executor: costs against the number of points.

A synthetic 4-D diagram (``four_phases_4d`` of ``benchmarks/active_learning.py``: a ball, a wavy
sheet and a thin slab) with instantaneous simulated labels, so that only the machinery is
measured: after 1000 initial points the explorer runs rounds of ``--batch`` points (by default 50
rounds, at least 100 points each, ending at the target exactly; batch schedule, in-process executor)
into an HDF5 store checkpointed every 10 results, and at each milestone the script reports

- the wall time of one checkpoint (median of the last 50 writes; 10 records each),
- the proposal latency per proposed point (the last round's ``propose``),
- the surrogate's refit time (the last fit),
- the peak memory (RSS) of this process, the store's size on disk (main file + journal),
- the accuracy of the predicted diagram on the evaluation grid.

Usage::

    python benchmarks/scale.py            # to 10^5 points (3-4 min on 2 cores)
    python benchmarks/scale.py --full     # to 10^6 points (25-30 min; results/scale_full.json)
    python benchmarks/scale.py --quick    # to 3 x 10^3 points (the slow test)

Writes ``benchmarks/results/scale.json`` (``scale_full.json`` with ``--full``; ``--out``) after
every milestone, with ``"complete": false`` until the last one, so that an interrupted run still
records the milestones it reached. ``--workdir DIR`` keeps the store there (a new, empty
directory); the script then also times ``spinexplore status DIR`` on the finished store.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _provenance import load as _load_now  # noqa: E402
from _provenance import provenance  # noqa: E402
from spinexplore import ActiveLearningExplorer, ParameterSpace, PhaseType  # noqa: E402
from spinexplore.execution import get_executor  # noqa: E402

PHYSICAL = [p for p in PhaseType if p.is_physical]


class Synthetic4D:
    """Instantaneous labels of the 4-D synthetic diagram."""

    def __call__(self, params: dict) -> PhaseType:
        from active_learning import DIAGRAMS

        x = np.array([[params[f"x{i}"] for i in range(4)]])
        return PHYSICAL[int(DIAGRAMS["four_phases_4d"].truth(x)[0]) % len(PHYSICAL)]


def _timed(obj, name: str, sink: list) -> None:
    """Replace ``obj.name`` by a wrapper that appends each call's wall time to ``sink``."""
    fn = getattr(obj, name)

    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            sink.append(time.perf_counter() - t0)

    setattr(obj, name, wrapper)


def _rss_mb() -> float:
    """Current resident set size of this process in MB (nan where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


def _accuracy(explorer: ActiveLearningExplorer) -> float:
    from active_learning import DIAGRAMS, eval_set

    X_ev, y_ev, _, _ = eval_set(DIAGRAMS["four_phases_4d"])
    phases, _ = explorer.predict(explorer.space.from_unit(X_ev))
    truth = np.array([int(PHYSICAL[k % len(PHYSICAL)]) for k in y_ev])
    return float(np.mean(phases == truth))


def run(milestones: list[int], batch: int, n_initial: int, backend: str, n_jobs: int, workdir: Path,
        on_row=None) -> list[dict]:
    """Run to each milestone in turn (the last one is the budget); one row per milestone reached."""
    max_rounds = (milestones[-1] - n_initial) // batch  # never ask for more points than the last milestone
    space = ParameterSpace({f"x{i}": (0.0, 1.0) for i in range(4)})
    store = workdir / "exploration.h5"
    explorer = ActiveLearningExplorer(space, seed=0, store=store, verbose=False)
    writes: list[float] = []
    proposals: list[tuple[int, float]] = []
    fits: list[float] = []
    _timed(explorer.store, "write", writes)
    learner = explorer.learner
    propose = learner.propose

    def timed_propose(n, *args, **kwargs):  # the batch schedule fits before it proposes
        t0 = time.perf_counter()
        out = propose(n, *args, **kwargs)
        proposals.append((n, time.perf_counter() - t0))
        return out

    learner.propose = timed_propose
    _timed(learner, "fit", fits)
    executor = get_executor(n_jobs, backend) if backend != "in-process" else get_executor(1, "sequential", isolate=False)
    rows = []
    t_start = time.perf_counter()
    try:
        for target in milestones:
            rounds = min(max_rounds, max(0, -(-(target - n_initial) // batch)))  # enough to reach the target
            if rows and n_initial + rounds * batch <= rows[-1]["n_points"]:
                continue  # this milestone adds no round: no new row
            fits_before = len(fits)
            explorer.run(rounds, batch, Synthetic4D(), n_initial=n_initial, executor=executor, progress=False,
                         schedule="batch", checkpoint_interval=10)
            n_prop, t_prop = proposals[-1] if proposals else (1, float("nan"))
            last_fit = max(fits[fits_before:], default=float("nan"))  # the round's refit
            row = {
                "n_points": explorer.n_points,
                "checkpoint_ms_median_last50": 1e3 * statistics.median(writes[-50:]),
                "checkpoint_ms_p90_last50": 1e3 * float(np.percentile(writes[-50:], 90)),
                "proposal_ms_per_point": 1e3 * t_prop / n_prop,
                "proposal_batch": n_prop,
                "fit_s": last_fit,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "rss_mb": _rss_mb(),
                "n_checkpoints": len(writes),
                "store_mb": _size(store) / 1e6,
                "accuracy": _accuracy(explorer),
                "elapsed_s": time.perf_counter() - t_start,
            }
            rows.append(row)
            print(f"n={row['n_points']:>7}: checkpoint {row['checkpoint_ms_median_last50']:.1f} ms, "
                  f"proposal {row['proposal_ms_per_point']:.2f} ms/point, fit {row['fit_s']:.2f} s, "
                  f"RSS {row['peak_rss_mb']:.0f} MB, store {row['store_mb']:.1f} MB, "
                  f"accuracy {row['accuracy']:.4f} ({row['elapsed_s']:.0f} s)", flush=True)
            if on_row is not None:
                on_row(rows)
    finally:
        explorer.close()
        executor.shutdown()
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--full", action="store_true", help="to 10^6 points")
    p.add_argument("--quick", action="store_true", help="to 3 x 10^3 points")
    p.add_argument("--batch", type=int, default=None, help="points per round (default: 2 %% of the target, >= 100)")
    p.add_argument("--backend", default="in-process", help="in-process (default), process, loky...")
    p.add_argument("--n-jobs", type=int, default=1)
    p.add_argument("--out", default=None, help="JSON output (default results/scale.json, scale_full.json with --full)")
    p.add_argument("--workdir", default=None, help="keep the store in this new or empty directory (default: a "
                                                   "temporary one, removed at the end)")
    args = p.parse_args(argv)
    if args.batch is not None and args.batch < 1:
        p.error(f"--batch must be a positive integer; got {args.batch}")
    if args.n_jobs < 1:
        p.error(f"--n-jobs must be a positive integer; got {args.n_jobs}")
    top = 3_000 if args.quick else 1_000_000 if args.full else 100_000
    steps = (1_000, 3_000, 10_000, 30_000, 100_000) + tuple(range(200_000, 1_000_001, 100_000))
    milestones = [m for m in steps if m <= top]
    n_initial = min(1_000, milestones[0])
    batch = args.batch or max(100, (top - n_initial) // 50)  # 50 rounds that end at the target exactly
    out = Path(args.out or HERE / "results" / ("scale_full.json" if args.full else "scale.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    load0 = _load_now()
    meta = {"cpu_count": os.cpu_count(), "python": platform.python_version(), "date": time.strftime("%Y-%m-%d"),
            "batch": batch, "backend": args.backend, "n_jobs": args.n_jobs, "target": top, "argv": sys.argv[1:]}

    saved: list[dict] = []

    def save(rows: list[dict], complete: bool, **extra) -> None:
        saved[:] = rows
        tmp = out.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"provenance": provenance(load0), "meta": meta, "complete": complete, **extra, "rows": rows}, indent=1))
        os.replace(tmp, out)

    if args.workdir is not None:
        workdir = Path(args.workdir)
        if workdir.exists() and any(workdir.iterdir()):
            p.error(f"--workdir must be a new or empty directory; {str(workdir)!r} is not empty")
        workdir.mkdir(parents=True, exist_ok=True)
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))  # close the store, keep the rows
    try:
        _run_and_save(args, milestones, batch, n_initial, save)
    except BaseException as exc:  # keep the milestones reached, and say why the run stopped
        save(saved, False, stopped_by=f"{type(exc).__name__}: {exc}")
        raise
    print(f"wrote {out}")
    return 0


def _run_and_save(args, milestones: list[int], batch: int, n_initial: int, save) -> None:
    if args.workdir is not None:
        workdir = Path(args.workdir)
        rows = run(milestones, batch, n_initial=n_initial, backend=args.backend,
                   n_jobs=args.n_jobs, workdir=workdir, on_row=lambda r: save(r, False))
        save(rows, True, status=_time_status(workdir))
    else:
        with tempfile.TemporaryDirectory(prefix="spinexplore_scale_") as tmp:
            rows = run(milestones, batch, n_initial=n_initial, backend=args.backend,
                       n_jobs=args.n_jobs, workdir=Path(tmp), on_row=lambda r: save(r, False))
        save(rows, True)


def _time_status(workdir: Path, repeats: int = 3) -> dict:
    """Wall time of ``spinexplore status DIR`` on the finished store (a fresh process each time)."""
    import subprocess

    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "spinexplore", "status", str(workdir)],
                              capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        if done.returncode != 0:
            return {"error": (done.stderr or done.stdout).strip()[-500:], "returncode": done.returncode}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import spinexplore.cli"], check=True)
    startup = time.perf_counter() - t0
    print(f"spinexplore status: {min(times):.2f} s (best of {repeats}; Python + import alone {startup:.2f} s)")
    return {"wall_s": times, "best_s": min(times), "import_only_s": startup,
            "store_mb": _size(workdir / "exploration.h5") / 1e6,
            "first_line": done.stdout.splitlines()[0] if done.stdout else ""}


REPORT_DATA = {"full": "scale_full.json"}


def _n(n: int) -> str:
    e = len(str(n)) - 1
    if n == 10 ** e:
        return f"10^{e}"
    return f"{n / 10 ** e:.1f} x 10^{e}"


def _scale_table(data: dict) -> str:
    lines = ["| points | checkpoint median / p90 | proposal per point | refit | peak memory | store | accuracy |",
             "|---|---|---|---|---|---|---|"]
    for r in data["rows"]:
        prop = r["proposal_ms_per_point"]
        prop = "" if prop != prop else f"{prop:.2f} ms"  # NaN: no proposal yet (the initial design)
        lines.append(f"| {_n(r['n_points'])} | {r['checkpoint_ms_median_last50']:.1f} / {r['checkpoint_ms_p90_last50']:.1f} ms"
                     f" | {prop} | {r['fit_s']:.2f} s | {r['peak_rss_mb']:.0f} MB | {r['store_mb']:.1f} MB | "
                     f"{r['accuracy']:.3f} |")
    return "\n".join(lines)


def render_readme(data: dict) -> str:
    """The README's 10^5-point table, from results/scale.json (``benchmarks/report.py`` writes it)."""
    from _provenance import describe

    m = data["meta"]
    last = data["rows"][-1]
    return "\n".join([
        f"Rounds of {m['batch']} points, {m.get('backend', 'in-process')} executor; {describe(data.get('provenance'))}:",
        "", _scale_table(data), "",
        f"The {_n(last['n_points'])}-point run took {last['elapsed_s']:.0f} s in all."])


def render_readme_full(data: dict) -> str:
    """The README's 10^6-point paragraph and table, from results/scale_full.json."""
    from _provenance import describe

    m, rows = data["meta"], data["rows"]
    big = [r for r in rows if r["n_points"] >= 100_000]
    top, first = rows[-1], big[0]
    ck = [r["checkpoint_ms_median_last50"] for r in big]
    prop = [r["proposal_ms_per_point"] for r in big]
    st = data.get("status", {})
    text = (f"Rounds of {m['batch']} points (batch schedule, a checkpoint every 10 results); "
            f"{describe(data.get('provenance'))}. From {_n(first['n_points'])} to {_n(top['n_points'])} points a "
            f"checkpoint of 10 records stays at {min(ck):.1f}-{max(ck):.1f} ms (median), a proposal at "
            f"{min(prop):.2f}-{max(prop):.2f} ms per proposed point, and a refit of the surrogate grows from "
            f"{first['fit_s']:.2f} s to {top['fit_s']:.2f} s; the explorer process peaks at "
            f"{top['peak_rss_mb']:.0f} MB of memory ({first['peak_rss_mb']:.0f} MB at {_n(first['n_points'])}). "
            f"The {_n(top['n_points'])} points take {top['elapsed_s'] / 60:.0f} min on {m['cpu_count']} cores, of "
            f"which the machinery is all, and the diagram is learned to {100 * top['accuracy']:.1f} % accuracy on "
            f"the evaluation grid.")
    if st:
        text += (f" The store holds {1e6 * st['store_mb'] / top['n_points']:.0f} bytes per point "
                 f"({st['store_mb']:.0f} MB after the final compaction); `spinexplore status DIR` on it answers in "
                 f"{st['best_s']:.2f} s (best of {len(st['wall_s'])}), of which {st['import_only_s']:.2f} s is "
                 f"starting Python and importing spinexplore.")
    return "\n".join([text, "", _scale_table(data)])


if __name__ == "__main__":
    raise SystemExit(main())
