"""Multi-fidelity exploration: accuracy against summed simulation time, cheap rung, costly rung, ladder.

``python benchmarks/multi_fidelity.py`` (full: the built-in solver on the square and triangular
presets, 2 workers, 10-17 min per seed on 2 busy cores; ``--seeds``, ``--first-seed``) or ``--quick`` (a synthetic pair of diagrams with
declared costs, seconds; what CI runs). Writes ``benchmarks/results/multi_fidelity.json`` (or
``multi_fidelity_quick.json``); the README section is :func:`render_readme` of the full JSON.

Method. For each box the benchmark runs three explorations with the same seeds, 2 workers and the
asynchronous schedule (the default with 2 workers), and scores each against a dense reference of
the costly rung:

* ``costly only``: ``n_costly`` points at the costly rung (``accurate``); its summed simulation
  time is the budget ``T``;
* ``ladder``: ``screening,accurate`` (a :class:`~spinexplore.fidelity.Ladder` with the default
  :class:`~spinexplore.promotion.PromotionPolicy`), stopped at ``T / 3`` of summed simulation
  time (``max_cpu_time``) on the square box; at a fixed ``T_tri`` on the triangular box;
* ``cheap only``: ``screening`` alone, stopped at the ladder's own final simulation time (equal
  simulation time).

Every run is also scored along the way (:class:`Trajectory`: ``checkpoints`` times, with a
surrogate fitted afresh on the labels so far), so the square target is read off the ladder's
trajectory: the first simulation time at which it reaches costly-only's final accuracy.

Accuracy is the share of the reference grid where the explorer's predicted phase equals the
reference label; *boundary accuracy* the same on the grid cells that have a 4-neighbour with
another reference label. The reference (``benchmarks/_mf_reference.py``: an n x n grid of the
preset's default box, L = 24, seed 0, ``accurate`` and ``screening`` at every node) is computed
once and kept under ``benchmarks/results/``. Summed simulation time is the runner's
``simulation_time`` (the workers' wall time inside the simulations).

Targets (recorded in the JSON): square box, the ladder reaches the final accuracy of costly-only
with at most 1/3 of its simulation time and ends above cheap-only; triangular box, the ladder
is within 0.5 points of cheap-only at equal simulation time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "results"
sys.path.insert(0, str(HERE))

from spinexplore import ActiveLearningExplorer, ParameterSpace, PhaseType, SimulationResult  # noqa: E402
from spinexplore.fidelity import Ladder, fidelity_summary  # noqa: E402


# ------------------------------------------------------------------------------------ scoring
def boundary_mask(labels: np.ndarray) -> np.ndarray:
    """Cells of an (n, n) label grid with a 4-neighbour of another label."""
    m = np.zeros(labels.shape, bool)
    m[1:, :] |= labels[1:, :] != labels[:-1, :]
    m[:-1, :] |= labels[:-1, :] != labels[1:, :]
    m[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    m[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    return m


def score(ex: Any, points: np.ndarray, reference: np.ndarray, near: np.ndarray) -> dict[str, float]:
    pred, _ = ex.predict(points)
    right = pred == reference
    return {"accuracy": float(right.mean()), "boundary_accuracy": float(right[near].mean())}


# ------------------------------------------------------------------------------------ synthetic pair
SYN_SPACE = ParameterSpace({"h": (0.0, 1.0), "K": (0.0, 1.0)})
SYN_COST = (0.12, 4.2)  # declared seconds: the square preset's screening and accurate, measured


def syn_truth(h: float, K: float) -> PhaseType:
    """Three phases: SKYRMION pocket, FERROMAGNET at high field, SINGLE_Q elsewhere."""
    if h > 0.55 + 0.25 * K:
        return PhaseType.FERROMAGNET
    if (h - 0.35) ** 2 / 0.04 + (K - 0.45) ** 2 / 0.06 < 1:
        return PhaseType.SKYRMION
    return PhaseType.SINGLE_Q


def syn_costly(p: dict) -> SimulationResult:
    return SimulationResult(phase=syn_truth(p["h"], p["K"]), confidence=1.0, duration=SYN_COST[1])


def syn_cheap_wrong(p: dict) -> SimulationResult:
    """Like the square preset's screening: wrong in the lower-K part of the boundary bands."""
    h, K = p["h"], p["K"]
    label = syn_truth(h, K)
    if K < 0.45 and abs(h - 0.55 - 0.25 * K) < 0.08:
        label = PhaseType.SINGLE_Q if label == PhaseType.FERROMAGNET else PhaseType.FERROMAGNET
    return SimulationResult(phase=label, confidence=0.8, duration=SYN_COST[0])


def syn_cheap_right(p: dict) -> SimulationResult:
    """Like the triangular preset's screening: the costly label, at the cheap cost."""
    return SimulationResult(phase=syn_truth(p["h"], p["K"]), confidence=0.8, duration=SYN_COST[0])


def syn_reference(n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    g = np.linspace(0.0, 1.0, n)
    pts = np.array([(h, K) for K in g for h in g])
    return pts, np.array([int(syn_truth(h, K)) for h, K in pts])


# ------------------------------------------------------------------------------------ real presets
def preset_reference(preset: str) -> tuple[np.ndarray, np.ndarray, dict]:
    from _mf_reference import reference_path

    data = json.loads(reference_path(preset).read_text())
    rows = [data["points"][str(i)] for i in range(data["grid"] ** 2)]
    if not all("accurate" in r for r in rows):
        raise SystemExit(f"the reference of {preset} is incomplete: run benchmarks/_mf_reference.py first")
    pts = np.array([(r["h"], r["K"]) for r in rows])
    labels = np.array([int(PhaseType[r["accurate"]["phase"]]) for r in rows])
    cheap = np.array([int(PhaseType[r["screening"]["phase"]]) for r in rows])
    n = data["grid"]
    near = boundary_mask(labels.reshape(n, n)).ravel()
    meta = {"grid": n, "n_points": len(rows), "lattice_size": data["lattice_size"],
            "screening_agreement": float((cheap == labels).mean()),
            "screening_agreement_boundary": float((cheap == labels)[near].mean()),
            "accurate_cpu_s_mean": float(np.mean([r["accurate"]["cpu_s"] for r in rows])),
            "screening_cpu_s_mean": float(np.mean([r["screening"]["cpu_s"] for r in rows])),
            "commit": data.get("commit"), "started": data.get("started"), "finished": data.get("finished")}
    return pts, labels, meta


def preset_box(preset: str) -> ParameterSpace:
    from _mf_reference import default_box

    return ParameterSpace(default_box(preset))


# ------------------------------------------------------------------------------------ one exploration
class Trajectory:
    """A run goal that never stops the run: each time the summed simulation time has grown by
    ``every`` seconds it scores a surrogate fitted afresh on the labels so far (the learner's own
    training set; the runner's surrogate is left alone), so the accuracy is known along the run."""

    def __init__(self, points: np.ndarray, reference: np.ndarray, near: np.ndarray, every: float) -> None:
        self.points, self.reference, self.near, self.every = points, reference, near, every
        self.next = every
        self.checkpoints: list[dict[str, float]] = []

    def __call__(self, runner: Any) -> bool:
        t = float(runner.simulation_time)
        if t >= self.next:
            self.next = t + self.every
            self.record(runner.learner, t)
        return False

    def record(self, learner: Any, t: float) -> None:
        if learner.n_labeled == 0:
            return
        U, y, w = learner.training_set()
        surrogate = learner.new_surrogate()
        surrogate.fit(U, y, sample_weight=w)
        proba = np.asarray(surrogate.predict_proba(learner.space.to_unit(self.points)))
        pred = np.asarray(surrogate.classes_, dtype=int)[np.argmax(proba, axis=1)]
        right = pred == self.reference
        self.checkpoints.append({"simulation_time": round(t, 2), "n_labeled": int(learner.n_labeled),
                                 "accuracy": float(right.mean()), "boundary_accuracy": float(right[self.near].mean())})


def first_time_at(trajectory: list[dict[str, float]], accuracy: float) -> float | None:
    """Simulation time of the first checkpoint at or above ``accuracy`` (None: never)."""
    for c in trajectory:
        if c["accuracy"] >= accuracy - 1e-12:
            return float(c["simulation_time"])
    return None


def explore(space: ParameterSpace, simulation: Any, *, seed: int, n_points: int | None = None,
            max_cpu_time: float | None = None, n_jobs: int = 2,
            trajectory: Trajectory | None = None) -> ActiveLearningExplorer:
    ex = ActiveLearningExplorer(space, seed=seed, verbose=False)
    n_initial, per = 20, 4
    n_iter = 10_000 if n_points is None else max(0, (n_points - n_initial) // per)
    if n_jobs == 1:
        from spinexplore.execution import SequentialExecutor

        run_opts: dict[str, Any] = {"executor": SequentialExecutor(isolate=False), "schedule": "async"}
    else:
        run_opts = {"n_jobs": n_jobs}
    ex.run(n_iter, per, simulation=simulation, n_initial=n_initial, progress=False, max_cpu_time=max_cpu_time,
           goal=trajectory, **run_opts)
    return ex


def row(ex: ActiveLearningExplorer, points: np.ndarray, ref: np.ndarray, near: np.ndarray,
        names: list[str] | None = None, trajectory: Trajectory | None = None) -> dict[str, Any]:
    out = {**score(ex, points, ref, near), "simulation_time": float(ex.run_stats["simulation_time"]),
           "wall_time": float(ex.run_stats["wall_time"]), "n_points": ex.n_points}
    if trajectory is not None:  # the end of the run is the last checkpoint
        out["trajectory"] = trajectory.checkpoints + [
            {"simulation_time": round(out["simulation_time"], 2), "n_labeled": int(ex._learner.n_labeled),
             "accuracy": out["accuracy"], "boundary_accuracy": out["boundary_accuracy"]}]
    if names:
        fs = fidelity_summary(ex.records, names)
        out["rungs"] = fs["rungs"]
        out["pairs"] = fs["pairs"]
        out["n_promoted"] = fs["n_promoted"]
    return out


def compare(space, cheap, costly, points, ref, near, *, seed: int, n_costly: int, ladder_time: float | None,
            n_jobs: int, names: list[str], checkpoints: int = 20) -> dict[str, Any]:
    """costly-only (n_costly points), then the ladder (ladder_time, or a third of costly-only's time),
    then cheap-only at the ladder's final simulation time; each scored at ``checkpoints`` points
    of its run (:class:`Trajectory`) and at its end."""
    out: dict[str, Any] = {"seed": seed}
    if n_costly:
        est = n_costly * costly_cost_hint(costly)
        traj = Trajectory(points, ref, near, est / checkpoints) if est else None
        ex = explore(space, costly, seed=seed, n_points=n_costly, n_jobs=n_jobs, trajectory=traj)
        out["costly_only"] = row(ex, points, ref, near, trajectory=traj)
        budget = out["costly_only"]["simulation_time"] / 3 if ladder_time is None else ladder_time
    else:
        budget = ladder_time
    traj = Trajectory(points, ref, near, budget / checkpoints)
    ex = explore(space, Ladder([cheap, costly], names=names), seed=seed, max_cpu_time=budget, n_jobs=n_jobs,
                 trajectory=traj)
    out["ladder"] = row(ex, points, ref, near, names, trajectory=traj)
    out["ladder"]["budget"] = budget
    traj = Trajectory(points, ref, near, out["ladder"]["simulation_time"] / checkpoints)
    ex = explore(space, cheap, seed=seed, max_cpu_time=out["ladder"]["simulation_time"], n_jobs=n_jobs,
                 trajectory=traj)
    out["cheap_only"] = row(ex, points, ref, near, trajectory=traj)
    if n_costly:  # when the ladder first reached costly-only's final accuracy, from its trajectory
        t = first_time_at(out["ladder"]["trajectory"], out["costly_only"]["accuracy"])
        out["ladder"]["time_to_costly_accuracy"] = t
        out["ladder"]["time_to_costly_accuracy_ratio"] = (
            None if t is None else t / out["costly_only"]["simulation_time"])
    return out


def costly_cost_hint(costly: Any) -> float:
    """Seconds one costly simulation takes, to space the costly-only checkpoints (a guess is fine)."""
    return float(getattr(costly, "cost_hint", 0.0) or (SYN_COST[1] if costly is syn_costly else 4.5))


def targets(square: list[dict], triangular: list[dict]) -> dict[str, Any]:
    """The issue's targets, from the mean over seeds (per-seed figures are in ``runs``).

    Square: "reaches costly-only's accuracy with at most 1/3 of its time" is read off the ladder's
    trajectory (the first checkpoint at or above costly-only's *final* accuracy, divided by
    costly-only's simulation time, <= 1/3 in every seed); the end-of-run comparison is kept as
    ``..._at_end``. "Above cheap-only": the mean final accuracy of the ladder is higher than
    cheap-only's at equal simulation time.
    """
    mean = lambda rows, a, k: float(np.mean([r[a][k] for r in rows]))  # noqa: E731
    t: dict[str, Any] = {}
    if square:
        acc_c, acc_l, acc_s = (mean(square, a, "accuracy") for a in ("costly_only", "ladder", "cheap_only"))
        ratio = mean(square, "ladder", "simulation_time") / mean(square, "costly_only", "simulation_time")
        reach = [r["ladder"].get("time_to_costly_accuracy_ratio") for r in square]
        t["square"] = {"costly_only_accuracy": acc_c, "ladder_accuracy": acc_l, "cheap_only_accuracy": acc_s,
                       "costly_only_simulation_time": mean(square, "costly_only", "simulation_time"),
                       "ladder_simulation_time": mean(square, "ladder", "simulation_time"),
                       "time_ratio_ladder_over_costly": ratio,
                       "time_ratio_to_reach_costly_accuracy": reach,
                       "ladder_reaches_costly_accuracy_at_third": bool(all(x is not None and x <= 1 / 3
                                                                            for x in reach)),
                       "ladder_reaches_costly_accuracy_at_third_at_end": bool(acc_l >= acc_c
                                                                               and ratio <= 1 / 3 + 0.02),
                       "ladder_above_cheap_only": bool(acc_l > acc_s),
                       "seeds_ladder_above_cheap_only": int(sum(r["ladder"]["accuracy"] > r["cheap_only"]["accuracy"]
                                                                for r in square))}
    if triangular:
        acc_l, acc_s = (mean(triangular, a, "accuracy") for a in ("ladder", "cheap_only"))
        t["triangular"] = {"ladder_accuracy": acc_l, "cheap_only_accuracy": acc_s,
                           "simulation_time": mean(triangular, "ladder", "simulation_time"),
                           "gap_points": 100 * (acc_s - acc_l), "within_half_point": bool(acc_s - acc_l <= 0.005)}
    return t


# ------------------------------------------------------------------------------------ README
def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def late_mean(run: dict) -> float | None:
    """Mean accuracy over the checkpoints of the last quarter of a run's simulation time (less noisy
    than its last value); None without a trajectory."""
    traj = run.get("trajectory") or []
    if not traj:
        return None
    end = traj[-1]["simulation_time"]
    late = [c["accuracy"] for c in traj if c["simulation_time"] >= 0.75 * end]
    return sum(late) / len(late)


def render_readme(data: dict) -> str:
    """The README's multi-fidelity section body (between the report markers), from the JSON."""
    lines = []
    for box in ("square", "triangular"):
        runs = data.get("boxes", {}).get(box)
        if not runs:
            continue
        meta = runs["reference"]
        lines.append(f"**{box} preset box** (reference: {meta['grid']} x {meta['grid']} grid of `accurate`, "
                     f"L = {meta['lattice_size']}; `screening` agrees on {100 * meta['screening_agreement']:.1f} % "
                     f"of it, {100 * meta['screening_agreement_boundary']:.1f} % of the cells next to a boundary; "
                     f"mean of {len(runs['runs'])} seed(s)):")
        lines.append("")
        lines.append("| run | simulation time (s) | points | promoted | accuracy | next to a boundary |")
        lines.append("|---|---:|---:|---:|---:|---:|")
        for key, label in (("costly_only", "`accurate` only"), ("ladder", "ladder `screening,accurate`"),
                           ("cheap_only", "`screening` only, same time as the ladder")):
            rs = [r[key] for r in runs["runs"] if key in r]
            if not rs:
                continue
            lines.append(f"| {label} | {np.mean([r['simulation_time'] for r in rs]):.0f} | "
                         f"{np.mean([r['n_points'] for r in rs]):.0f} | "
                         + (f"{np.mean([r['n_promoted'] for r in rs]):.0f}" if key == "ladder" else "-")
                         + f" | {100 * np.mean([r['accuracy'] for r in rs]):.1f} % | "
                         f"{100 * np.mean([r['boundary_accuracy'] for r in rs]):.1f} % |")
        lines.append("")
        for r in runs["runs"]:
            if "costly_only" not in r:
                continue
            lad, co = r["ladder"], r["costly_only"]
            t = lad.get("time_to_costly_accuracy")
            lines.append(f"- seed {r['seed']}: `accurate` only ends at {_pct(co['accuracy'])} after "
                         f"{co['simulation_time']:.0f} s; the ladder "
                         + ("never reached it within its budget" if t is None else
                            f"first reached it after {t:.0f} s ({100 * t / co['simulation_time']:.0f} % of that "
                            f"time)")
                         + f" and ended at {_pct(lad['accuracy'])}, `screening` only at {_pct(r['cheap_only']['accuracy'])}"
                         f" (mean over the last quarter of the run: ladder {_pct(late_mean(lad))}, `screening` only "
                         f"{_pct(late_mean(r['cheap_only']))}).")
        for r in runs["runs"]:
            if "costly_only" in r:
                continue
            lines.append(f"- seed {r['seed']}: mean accuracy over the last quarter of the run: ladder "
                         f"{_pct(late_mean(r['ladder']))}, `screening` only {_pct(late_mean(r['cheap_only']))}.")
        lines.append("")
    t = data.get("targets", {})
    yes = lambda ok: "**met**" if ok else "**not met**"  # noqa: E731
    if "square" in t:
        s = t["square"]
        lines.append(f"Square target 1 (reach `accurate`-only's final accuracy with at most 1/3 of its simulation "
                     f"time, read off the ladder's accuracy trajectory): {yes(s['ladder_reaches_costly_accuracy_at_third'])}"
                     f"; the ladder ran {100 * s['time_ratio_ladder_over_costly']:.0f} % of `accurate`-only's "
                     f"time and ended at {_pct(s['ladder_accuracy'])} against {_pct(s['costly_only_accuracy'])} "
                     f"(judged at the end instead, with 1/3 + 2 % of the time: "
                     f"{'met' if s.get('ladder_reaches_costly_accuracy_at_third_at_end') else 'not met'}; the ladder "
                     f"stops handing out work at 1/3, and the simulations in flight then finish). "
                     f"Square target 2 (end above `screening` only, {_pct(s['cheap_only_accuracy'])} at equal time): "
                     f"{yes(s['ladder_above_cheap_only'])} ({s.get('seeds_ladder_above_cheap_only', '?')} of "
                     f"{len(data['boxes']['square']['runs'])} seeds above).")
    if "triangular" in t:
        s = t["triangular"]
        lines.append(f"Triangular target (within 0.5 points of `screening` only at equal simulation time, "
                     f"{s.get('simulation_time', 0):.0f} s): ladder {_pct(s['ladder_accuracy'])}, `screening` only "
                     f"{_pct(s['cheap_only_accuracy'])}, gap {s['gap_points']:.1f} points: {yes(s['within_half_point'])}.")
    m = data.get("machine", {})
    lines.append("")
    budget = data.get("budget", {})
    if budget:
        lines.append(f"Budget: `accurate` only runs {budget.get('n_costly')} points on the square box; the ladder gets "
                     f"a third of its simulation time there and {budget.get('triangular_time')} s on the triangular "
                     f"box; `screening` only gets the ladder's own time. Accuracy is checked {budget.get('checkpoints')} "
                     f"times along each run.")
    seeds = sorted({r["seed"] for box in data.get("boxes", {}).values() for r in box["runs"]})
    lines.append(f"Seeds {seeds}, {data.get('n_jobs')} workers; commit {data.get('commit')}, "
                 f"{m.get('cpus')} CPUs, load average {m.get('load_avg_start')} at the start and "
                 f"{m.get('load_avg_end')} at the end "
                 f"(`python benchmarks/multi_fidelity.py`).")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ main
def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE,
                              check=False).stdout.strip()
    except OSError:
        return ""


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the synthetic pair only (seconds)")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1")
    ap.add_argument("--n-costly", type=int, default=64, help="points of the accurate-only run (square box)")
    ap.add_argument("--triangular-time", type=float, default=100.0,
                    help="summed simulation seconds of the ladder on the triangular box")
    ap.add_argument("--checkpoints", type=int, default=20, help="accuracy checks along each run")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--boxes", default="square,triangular")
    ap.add_argument("--out", default=None)
    ap.add_argument("--merge", nargs="+", metavar="JSON", default=None,
                    help="combine the runs of earlier result files (other seeds) into --out, nothing is run")
    a = ap.parse_args(argv)
    if a.merge:
        return merge([json.loads(Path(f).read_text()) for f in a.merge], Path(a.out) if a.out else OUT /
                     "multi_fidelity.json")
    if a.quick and a.n_costly == ap.get_default("n_costly"):
        a.n_costly, a.triangular_time = 30, 60.0
    if a.quick and a.seeds == ap.get_default("seeds"):
        a.seeds = 1
    if a.quick and a.checkpoints == ap.get_default("checkpoints"):
        a.checkpoints = 8
    data: dict[str, Any] = {
        "benchmark": "multi_fidelity", "quick": a.quick, "commit": _commit(), "seeds": list(range(a.first_seed, a.first_seed + a.seeds)),
        "n_jobs": a.jobs, "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "budget": {"n_costly": a.n_costly, "triangular_time": a.triangular_time, "checkpoints": a.checkpoints},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "load_avg_start": [round(x, 2) for x in os.getloadavg()]},
        "boxes": {},
    }
    square: list[dict] = []
    triangular: list[dict] = []
    if a.quick:
        points, ref = syn_reference()
        near = boundary_mask(ref.reshape(40, 40)).ravel()
        meta = {"grid": 40, "lattice_size": "synthetic",
                "screening_agreement": float(np.mean([int(syn_cheap_wrong({"h": h, "K": K}).phase) == r
                                                      for (h, K), r in zip(points, ref)])),
                "screening_agreement_boundary": float(np.mean([int(syn_cheap_wrong({"h": h, "K": K}).phase) == r
                                                               for (h, K), r in zip(points[near], ref[near])]))}
        for seed in data["seeds"]:
            square.append(compare(SYN_SPACE, syn_cheap_wrong, syn_costly, points, ref, near, seed=seed,
                                  n_costly=a.n_costly,
                                  ladder_time=None, n_jobs=1, names=["screening", "accurate"],
                                  checkpoints=a.checkpoints))
            triangular.append(compare(SYN_SPACE, syn_cheap_right, syn_costly, points, ref, near, seed=seed,
                                      n_costly=0, ladder_time=a.triangular_time, n_jobs=1,
                                      names=["screening", "accurate"], checkpoints=a.checkpoints))
        data["boxes"]["square"] = {"reference": meta, "runs": square}
        data["boxes"]["triangular"] = {"reference": {**meta, "screening_agreement": 1.0,
                                                     "screening_agreement_boundary": 1.0}, "runs": triangular}
    else:
        from spinexplore.simulation import SpinSimulation

        boxes = [(box, preset) for box, preset in (("square", "square-chiral"), ("triangular", "triangular-chiral"))
                 if box in a.boxes.split(",")]
        setup = {}
        for box, preset in boxes:
            points, ref, meta = preset_reference(preset)
            near = boundary_mask(ref.reshape(meta["grid"], meta["grid"])).ravel()
            setup[box] = (preset, points, ref, near, meta)
        for seed in data["seeds"]:  # seed by seed, so an interrupted run still covers both boxes
            for box, (preset, points, ref, near, meta) in setup.items():
                cheap = SpinSimulation(preset, 24, "screening", seed=0)
                costly = SpinSimulation(preset, 24, "accurate", seed=0)
                runs = square if box == "square" else triangular
                t0 = time.time()
                runs.append(compare(preset_box(preset), cheap, costly, points, ref, near, seed=seed,
                                    n_costly=a.n_costly if box == "square" else 0,
                                    ladder_time=None if box == "square" else a.triangular_time, n_jobs=a.jobs,
                                    names=["screening", "accurate"], checkpoints=a.checkpoints))
                print(f"{box} seed {seed}: {time.time() - t0:.0f} s wall",
                      json.dumps({k: {kk: vv for kk, vv in v.items() if kk not in ("trajectory", "rungs", "pairs")}
                                  if isinstance(v, dict) else v for k, v in runs[-1].items()}), flush=True)
                data["boxes"][box] = {"reference": meta, "runs": runs}
                _write(a, data, square, triangular)  # a partial result survives an interrupted run
    _write(a, data, square, triangular)
    print(render_readme(data))
    return data


def merge(parts: list[dict], out: Path) -> dict:
    """One result from several runs of this script (e.g. one seed each): runs concatenated, targets
    recomputed, each part's commit, date and machine kept under ``parts``."""
    data = {k: v for k, v in parts[0].items() if k not in ("boxes", "targets")}
    data["boxes"] = {}
    for part in parts:
        for box, v in part["boxes"].items():
            data["boxes"].setdefault(box, {"reference": v["reference"], "runs": []})["runs"].extend(v["runs"])
    data["seeds"] = sorted({r["seed"] for v in data["boxes"].values() for r in v["runs"]})
    data["parts"] = [{"commit": p.get("commit"), "date": p.get("date"), "seeds": p.get("seeds"),
                      "machine": p.get("machine")} for p in parts]
    data["commit"] = ",".join(dict.fromkeys(str(p.get("commit")) for p in parts))
    m = dict(data["machine"])
    m["load_avg_start"] = [p["machine"]["load_avg_start"] for p in parts]
    m["load_avg_end"] = [p["machine"].get("load_avg_end") for p in parts]
    data["machine"] = m
    data["targets"] = targets(data["boxes"].get("square", {}).get("runs", []),
                              data["boxes"].get("triangular", {}).get("runs", []))
    out.write_text(json.dumps(data, indent=1))
    print(render_readme(data))
    return data


def _write(a: argparse.Namespace, data: dict, square: list[dict], triangular: list[dict]) -> None:
    data["targets"] = targets(square, triangular)
    data["machine"]["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    out = Path(a.out) if a.out else OUT / ("multi_fidelity_quick.json" if a.quick else "multi_fidelity.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1))


if __name__ == "__main__":
    main()
