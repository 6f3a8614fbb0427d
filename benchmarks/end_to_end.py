"""End-to-end efficiency of whole explorations: the batch and the asynchronous schedule side by side.

Efficiency = (sum of the warm per-simulation times) / (workers x wall time of the whole run), as
python-adaptive reports its runner's overhead. Three parts (issue "Parallel active learning that
keeps every worker busy"):

(a) ``orchestration``: sleep-based simulations with heavy-tailed durations (lognormal, median
    0.5 s, sigma 0.5), the default surrogate and strategy, on 2, 16 and 64 workers (sleeping
    workers need no cores), batch vs asynchronous. The executor is started and warmed before
    the clock starts (its cold start is reported separately, as ``cold_start_s``).
(b) ``real``: the built-in solver (``fast``, L = 24) on every core, batch vs asynchronous,
    through ``explorer.run(n_jobs=...)`` exactly as a user calls it: the wall time includes
    starting the workers and loading the compiled kernels (counted as overhead).
(c) ``quality``: accuracy of the predicted diagram against the ground truth of the synthetic
    diagrams of ``benchmarks/active_learning.py`` as a function of the number of simulations
    and of wall time, at 16 simulated workers (lognormal durations as in (a)), batch vs
    asynchronous. The accuracy after k results is that of the default surrogate fitted on the
    first k points to finish; wall time is when the k-th finished.

Usage::

    python benchmarks/end_to_end.py                 # all three parts (~10 min on 2 cores)
    python benchmarks/end_to_end.py --parts a --workers 2 16 64
    python benchmarks/end_to_end.py --quick         # a smoke run (the CI test uses it)

Writes ``benchmarks/results/end_to_end.json`` (``--out`` to change).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import sys
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


class SleepSimulation:
    """A simulated solver: sleeps a lognormal time that depends only on the point, then
    returns the label of a synthetic diagram (or of a circle when there is none)."""

    def __init__(self, median: float = 0.5, sigma: float = 0.5, diagram: str | None = None) -> None:
        self.median, self.sigma, self.diagram = median, sigma, diagram

    def _duration(self, params: dict) -> float:
        text = ";".join(f"{k}={v:.12g}" for k, v in sorted(params.items()))
        u = np.random.default_rng(int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little"))
        return float(self.median * math.exp(self.sigma * u.standard_normal()))

    def label(self, X: np.ndarray) -> np.ndarray:
        if self.diagram is None:
            return (np.sum(X**2, axis=1) > 0.5).astype(int)
        from active_learning import DIAGRAMS

        return np.asarray(DIAGRAMS[self.diagram].truth(X), dtype=int)

    def __call__(self, params: dict) -> PhaseType:
        time.sleep(self._duration(params))
        x = np.array([[params[k] for k in sorted(params)]])
        return PHYSICAL[int(self.label(x)[0]) % len(PHYSICAL)]


def _space(n_dims: int) -> ParameterSpace:
    return ParameterSpace({f"x{i}": (0.0, 1.0) for i in range(n_dims)})


def _warm_executor(n_workers: int):
    t0 = time.perf_counter()
    ex = get_executor(n_workers, "process")
    list(ex.map_unordered(time.sleep, [0.2] * n_workers))
    return ex, time.perf_counter() - t0


def orchestration(workers: list[int], rounds: int, seed: int) -> list[dict]:
    rows = []
    for n in workers:
        ex, cold = _warm_executor(n)
        try:
            for schedule in ("batch", "async"):
                sim = SleepSimulation()
                explorer = ActiveLearningExplorer(_space(2), seed=seed, verbose=False)
                explorer.run(rounds, n, sim, n_initial=2 * n, executor=ex, progress=False, schedule=schedule)
                s = dict(explorer.run_stats)
                s.update(part="a", cold_start_s=cold, points=explorer.n_points)
                rows.append(s)
                print(f"(a) {n:>3} workers {schedule:>5}: efficiency {100 * s['efficiency']:.1f} % "
                      f"(wall {s['wall_time']:.1f} s, {s['n_simulations']} sims)", flush=True)
        finally:
            ex.shutdown()
    return rows


def real(n_jobs: int, n_initial: int, rounds: int, per_round: int, lattice_size: int, seed: int) -> list[dict]:
    from spinexplore import SpinSimulation

    rows = []
    for schedule in ("batch", "async"):
        sim = SpinSimulation(lattice_size=lattice_size, mode="fast")
        space = ParameterSpace({"h": (0.0, 0.57), "K": (-0.24, 0.95)})
        explorer = ActiveLearningExplorer(space, seed=seed, verbose=False)
        explorer.run(rounds, per_round, sim, n_initial=n_initial, n_jobs=n_jobs, progress=False, schedule=schedule)
        s = dict(explorer.run_stats)
        s.update(part="b", lattice_size=lattice_size, mode="fast", points=explorer.n_points,
                 phases={k: v for k, v in explorer.counts().items() if k in PhaseType.__members__})
        rows.append(s)
        print(f"(b) {s['n_workers']} workers {schedule:>5}: efficiency {100 * s['efficiency']:.1f} % "
              f"(wall {s['wall_time']:.1f} s, simulation {s['simulation_time']:.1f} s)", flush=True)
    return rows


def _accuracy_curve(explorer: ActiveLearningExplorer, sim: SleepSimulation, t_start: float,
                    finish_times: dict[int, float], ks: list[int]) -> list[dict]:
    from active_learning import DIAGRAMS, eval_set
    from spinexplore.surrogates import make_surrogate

    d = DIAGRAMS[sim.diagram]
    X_ev, y_ev, _, _ = eval_set(d)
    order = sorted(finish_times, key=finish_times.get)
    records = explorer.records
    out = []
    for k in ks:
        if k > len(order):
            break
        idx = order[:k]
        X = explorer.space.to_unit(np.array([records[i].params for i in idx]))
        y = sim.label(np.array([records[i].params for i in idx]))
        model = make_surrogate(None, random_state=0).fit(X, y)
        proba = model.predict_proba(X_ev)
        pred = np.asarray(model.classes_)[np.argmax(proba, axis=1)]
        out.append({"n": k, "wall_s": finish_times[order[k - 1]] - t_start, "accuracy": float(np.mean(pred == y_ev))})
    return out



def quality(diagrams: list[str], n_workers: int, budget: int, seeds: list[int]) -> list[dict]:
    from active_learning import DIAGRAMS

    rows = []
    ex, _ = _warm_executor(n_workers)
    ks = sorted({k for k in (25, 50, 75, 100, 150, 200, 250, 300, 400, 500) if k <= budget} | {budget})
    try:
        for name in diagrams:
            d = DIAGRAMS[name]
            for seed in seeds:
                for schedule in ("batch", "async"):
                    sim = SleepSimulation(diagram=name)
                    explorer = ActiveLearningExplorer(_space(d.n_dims), seed=seed, verbose=False)
                    finish: dict[int, float] = {}
                    learner = explorer.learner
                    tell = learner.tell_index

                    def timed_tell(index, result, worker="", _tell=tell, _finish=finish):
                        _finish[index] = time.perf_counter()
                        return _tell(index, result, worker)

                    learner.tell_index = timed_tell
                    t0 = time.perf_counter()
                    per_round = n_workers
                    rounds = (budget - 2 * n_workers) // per_round
                    explorer.run(rounds, per_round, sim, n_initial=2 * n_workers, executor=ex,
                                 progress=False, schedule=schedule)
                    curve = _accuracy_curve(explorer, sim, t0, finish, ks)
                    rows.append({"part": "c", "diagram": name, "seed": seed, "schedule": schedule,
                                 "n_workers": n_workers, "efficiency": explorer.run_stats["efficiency"],
                                 "wall_time": explorer.run_stats["wall_time"], "curve": curve})
                    print(f"(c) {name} seed {seed} {schedule:>5}: final accuracy {curve[-1]['accuracy']:.4f} "
                          f"after {curve[-1]['n']} sims, {curve[-1]['wall_s']:.1f} s", flush=True)
    finally:
        ex.shutdown()
    return rows


def _time_to(curve: list[dict], target: float) -> float:
    for c in curve:
        if c["accuracy"] >= target:
            return c["wall_s"]
    return math.nan


def summarise_quality(rows: list[dict]) -> dict:
    out: dict[str, dict] = {}
    for name in sorted({r["diagram"] for r in rows}):
        entry: dict[str, dict] = {}
        for schedule in ("batch", "async"):
            rs = [r for r in rows if r["diagram"] == name and r["schedule"] == schedule]
            ns = [c["n"] for c in rs[0]["curve"]]
            acc = {n: float(np.mean([next(c["accuracy"] for c in r["curve"] if c["n"] == n) for r in rs])) for n in ns}
            entry[schedule] = {
                "accuracy_at_n": acc,
                "wall_to_95": float(np.nanmean([_time_to(r["curve"], 0.95) for r in rs])),
                "final_wall_s": float(np.mean([r["curve"][-1]["wall_s"] for r in rs])),
            }
        ns = sorted(set(entry["batch"]["accuracy_at_n"]) & set(entry["async"]["accuracy_at_n"]))
        entry["max_gap_pp_at_equal_n"] = max(
            100 * (entry["batch"]["accuracy_at_n"][n] - entry["async"]["accuracy_at_n"][n]) for n in ns)
        entry["wall_ratio_to_95"] = entry["async"]["wall_to_95"] / entry["batch"]["wall_to_95"]
        out[name] = entry
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--parts", nargs="+", default=["a", "b", "c"], choices=["a", "b", "c"])
    p.add_argument("--workers", nargs="+", type=int, default=[2, 16, 64], help="(a) worker counts")
    p.add_argument("--rounds", type=int, default=14, help="(a) rounds of n_workers points after 2 n_workers")
    p.add_argument("--real-jobs", type=int, default=-1, help="(b) workers (-1 = all cores)")
    p.add_argument("--real-points", type=int, nargs=3, default=[16, 4, 8],
                   metavar=("N_INITIAL", "ROUNDS", "PER_ROUND"), help="(b) budget")
    p.add_argument("--lattice-size", type=int, default=24)
    p.add_argument("--diagrams", nargs="+", default=["four_phases_2d", "island_2d"])
    p.add_argument("--quality-workers", type=int, default=16)
    p.add_argument("--budget", type=int, default=240, help="(c) simulations per run")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--quick", action="store_true", help="a small smoke run")
    p.add_argument("--out", default=str(HERE / "results" / "end_to_end.json"))
    args = p.parse_args(argv)
    if args.quick:
        args.workers, args.rounds, args.real_points = [2, 4], 2, [4, 1, 2]
        args.lattice_size, args.diagrams, args.budget, args.seeds = 12, ["four_phases_2d"], 40, [0]
        args.quality_workers = 4
    load0 = _load_now()
    result: dict = {"meta": {"cpu_count": os.cpu_count(), "python": platform.python_version(),
                             "machine": platform.machine(), "date": time.strftime("%Y-%m-%d"),
                             "quick": args.quick, "argv": sys.argv[1:]}}
    if "a" in args.parts:
        result["orchestration"] = orchestration(args.workers, args.rounds, seed=0)
    if "b" in args.parts:
        n0, rounds, per = args.real_points
        result["real"] = real(args.real_jobs, n0, rounds, per, args.lattice_size, seed=0)
    if "c" in args.parts:
        rows = quality(args.diagrams, args.quality_workers, args.budget, args.seeds)
        result["quality"] = rows
        result["quality_summary"] = summarise_quality(rows)
        for name, e in result["quality_summary"].items():
            print(f"(c) {name}: max gap at equal n {e['max_gap_pp_at_equal_n']:+.2f} pp (batch - async); "
                  f"wall to 95 %: async/batch = {e['wall_ratio_to_95']:.2f}")
    result = {"provenance": provenance(load0), **result}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=float))
    print(f"wrote {out}")
    return 0


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def render_readme_efficiency(data: dict) -> str:
    """README tables (a) and (b) from results/end_to_end.json (written by ``benchmarks/report.py``)."""
    from _provenance import describe

    orch = {(r["schedule"], r["n_workers"]): r for r in data["orchestration"]}
    old = {r["n_workers"]: r for r in data.get("batch_0.1_one_executor", [])}
    targets = {16: 0.95, 64: 0.90}
    lines = ["| (a) sleep-based simulations, lognormal (median 0.5 s, sigma 0.5), warm executor, one run each "
             "| 0.1 batch | batch | **async** | target (async) |", "|---|---|---|---|---|"]
    for n in sorted({k[1] for k in orch}):
        a, b = orch.get(("async", n)), orch.get(("batch", n))
        t = targets.get(n)
        verdict = "" if t is None or a is None else \
            f">= {100 * t:.0f} % ({'met' if a['efficiency'] >= t else 'not met'})"
        lines.append(f"| {n} workers ({a['n_simulations'] if a else b['n_simulations']} simulations) | "
                     f"{_pct(old[n]['efficiency']) if n in old else ''} | {_pct(b['efficiency']) if b else ''} | "
                     f"**{_pct(a['efficiency']) if a else ''}** | {verdict} |")
    lines += ["", "| (b) the built-in solver, cold start included | workers | simulations | batch | async |",
              "|---|---|---|---|---|"]
    for key, label in (("real", "budget of `--real-points` (default)"), ("real_issue_config", "the issue's budget")):
        rows = {r["schedule"]: r for r in data.get(key, [])}
        if not rows:
            continue
        r0 = next(iter(rows.values()))
        argv = data["meta"].get("real_issue_config_argv", []) if key == "real_issue_config" else []
        budget = ""
        if "--real-points" in argv:
            i = argv.index("--real-points")
            budget = f": {argv[i + 1]} initial + {argv[i + 2]} rounds of {argv[i + 3]}"
        lines.append(f"| `{r0['mode']}`, L = {r0['lattice_size']}{budget} | {r0['n_workers']} | {r0['n_simulations']} | "
                     f"{_pct(rows['batch']['efficiency']) if 'batch' in rows else ''} | "
                     f"{_pct(rows['async']['efficiency']) if 'async' in rows else ''} |")
    lines += ["", f"Measured at {describe(data.get('provenance'))}, {data['meta'].get('date', '')}; each figure is "
              "a single run, so expect a few points of spread from run to run on a shared machine."]
    return "\n".join(lines)


def render_readme_quality(data: dict) -> str:
    """README table (c) from results/end_to_end.json."""
    q = data["quality_summary"]
    seeds = sorted({r["seed"] for r in data["quality"]})
    workers = sorted({r["n_workers"] for r in data["quality"]})
    budget = max(max(int(k) for k in e["batch"]["accuracy_at_n"]) for e in q.values())
    lines = [f"| (c) accuracy of the predicted diagram, {workers[0]} simulated workers, {budget} simulations, "
             f"{len(seeds)} seeds (mean) | batch | async |", "|---|---|---|"]
    names = {"four_phases_2d": "4 phases (2-D)", "island_2d": "island (2-D)"}
    for name, e in q.items():
        gap = e["max_gap_pp_at_equal_n"]
        side = "below" if gap > 0 else "above"
        lines.append(f"| {names.get(name, name)}: largest gap at equal numbers of simulations | | "
                     f"{abs(gap):.2f} points {side} batch (target <= 1) |")
        ratio = e["wall_ratio_to_95"]
        lines.append(f"| {names.get(name, name)}: wall time to 95 % accuracy | {e['batch']['wall_to_95']:.1f} s | "
                     f"**{e['async']['wall_to_95']:.1f} s ({ratio:.2f}x)** (target <= 0.6x: "
                     f"{'met' if ratio <= 0.6 else 'not met'}) |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
