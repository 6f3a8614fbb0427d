"""Speed and reliability of the built-in solver (issue 3) at L = 24 on one core.

Measures
* Metropolis spin updates per second (the ``mc_sweeps`` kernel, default model, h = 0.2,
  T = 0.1 and T = 1), best and median of ``--repeats`` runs;
* wall and CPU time per ``simulate`` call for each preset over a few points of the default box,
  at T = 0 (ground-state search) and at T = 0.3 J (equilibrium sampling), and at T = 0 over a
  grid of the square preset's box (more candidates: a larger single-Q family);
* phase agreement of ``fast`` and ``screening`` with ``accurate`` on a ``--grid`` x ``--grid``
  grid over the default model's box (h/u in [0, 1.2], K/u in [-0.5, 2.0], physics.md 1.6),
  with the phase from ``spinexplore.physics.classify`` (or, if that module is missing, the
  winning candidate family, said so in the output).

CPU time (``time.process_time``) is reported next to wall time because the machine may be
shared: CPU time is what one dedicated core would need.

Usage: ``python benchmarks/solver.py [--grid 10] [--repeats 5] [--jobs 1] [--quick]``.
Writes ``benchmarks/results/solver.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from spinexplore.physics import _kernels
from spinexplore.physics.energy import couplings
from spinexplore.physics.model import SpinModel
from spinexplore.physics.solver import MODES, simulate

TARGETS = {"updates_per_s": 5e6, "screening": 0.2, "fast": 1.0, "accurate": 6.0,
           "agreement_fast": 0.95, "agreement_screening": 0.85}


def metropolis_rate(repeats: int, sweeps: int) -> dict:
    model = SpinModel.preset(h=0.2)
    nbr, mats = couplings(model, 24)
    out = {}
    for T in (0.1, 1.0):
        rates, cpu_rates = [], []
        s = np.random.default_rng(0).normal(size=(576, 3))
        s /= np.linalg.norm(s, axis=1, keepdims=True)
        state = np.array([1, 2, 3, 4], dtype=np.uint64)
        _kernels.mc_sweeps(s, nbr, mats, 0.0, 0.2, np.full(10, T), 0.5, state, 0, 0.45)
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            _, acc = _kernels.mc_sweeps(s, nbr, mats, 0.0, 0.2, np.full(sweeps, T), 0.5, state, 0, 0.45)
            rates.append(sweeps * 576 / (time.perf_counter() - t0))
            cpu_rates.append(sweeps * 576 / max(time.process_time() - c0, 1e-9))
        out[f"T={T:g}"] = {"best": max(rates), "median": statistics.median(rates),
                           "cpu_best": max(cpu_rates), "cpu_median": statistics.median(cpu_rates),
                           "acceptance": acc}
    return out


def _run(args):
    params, mode, seed = args
    model = SpinModel.preset().with_params(params)
    c0, w0 = time.process_time(), time.perf_counter()
    gs = simulate(model, 24, mode, seed=seed)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    try:
        from spinexplore.physics.classify import classify

        gap = gs.label_gap if np.isfinite(gs.label_gap) else None
        phase = classify(gs.spins, gs.lattice, energy_gap=gap).phase.name
    except ImportError:
        phase = gs.best
    return {"params": params, "mode": mode, "phase": phase, "family": gs.best,
            "energy": gs.energy, "gap": gs.gap, "label_gap": gs.label_gap, "cpu_s": cpu,
            "wall_s": wall}


def square_cost(n: int) -> dict:
    """CPU seconds per T = 0 ``simulate`` call on the square preset (the costlier one), per mode,
    over an n x n grid of its default box."""
    m0 = SpinModel.preset("square-chiral")
    u = m0.natural_unit
    pts = [{"h": float(h * u), "K": float(K * u)} for K in np.linspace(-0.5, 2.0, n)
           for h in np.linspace(0.0, 1.2, n)]
    out = {}
    for mode in MODES:
        cpu = []
        for k, p in enumerate(pts):
            c0 = time.process_time()
            simulate(m0.with_params(p), 24, mode, seed=k)
            cpu.append(time.process_time() - c0)
        out[mode] = {"cpu_median": statistics.median(cpu), "cpu_max": max(cpu), "n_points": len(pts)}
    return out


def thermal_cost(points: list[dict]) -> dict:
    """CPU seconds per ``simulate`` call at T > 0 (anneal to T, equilibrate, sample), per mode."""
    out = {}
    for mode in MODES:
        cpu = []
        for k, p in enumerate(points):
            model = SpinModel.preset().with_params({**p, "T": 0.3})
            c0 = time.process_time()
            simulate(model, 24, mode, seed=k)
            cpu.append(time.process_time() - c0)
        out[mode] = {"cpu_median": statistics.median(cpu), "cpu_max": max(cpu), "T": 0.3,
                     "n_points": len(points)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="4 x 4 grid, 2 repeats")
    a = ap.parse_args()
    if a.quick:
        a.grid, a.repeats = 4, 2
    try:
        import spinexplore.physics.classify  # noqa: F401

        phase_source = "classify"
    except ImportError:
        phase_source = "winning candidate family (classify.py missing)"

    # compile / load the kernels once before timing
    simulate(SpinModel.preset(h=0.2), 12, "fast", seed=0)
    rate = metropolis_rate(a.repeats, 2000)

    u = SpinModel.preset().natural_unit
    hs = np.linspace(0.0, 1.2, a.grid) * u
    Ks = np.linspace(-0.5, 2.0, a.grid) * u
    points = [{"h": float(h), "K": float(K)} for K in Ks for h in hs]
    tasks = [(p, mode, 1000 + i) for i, p in enumerate(points) for mode in MODES]
    if a.jobs == 1:
        rows = [_run(t) for t in tasks]
    else:
        from joblib import Parallel, delayed

        rows = Parallel(n_jobs=a.jobs)(delayed(_run)(t) for t in tasks)

    by = {m: [r for r in rows if r["mode"] == m] for m in MODES}
    thermal = thermal_cost(points[:: max(1, len(points) // 4)][:4])
    square = square_cost(3 if a.quick else 4)
    timing = {m: {"cpu_median": statistics.median(r["cpu_s"] for r in by[m]),
                  "cpu_max": max(r["cpu_s"] for r in by[m]),
                  "wall_median": statistics.median(r["wall_s"] for r in by[m])} for m in MODES}
    agree = {}
    disagreements = []
    for m in ("fast", "screening"):
        same = [x["phase"] == y["phase"] for x, y in zip(by[m], by["accurate"])]
        agree[m] = float(np.mean(same))
        for x, y, ok in zip(by[m], by["accurate"], same):
            if not ok:
                disagreements.append({"mode": m, "h_over_u": x["params"]["h"] / u,
                                      "K_over_u": x["params"]["K"] / u, "phase": x["phase"],
                                      "accurate": y["phase"], "dE": x["energy"] - y["energy"]})
    phases = {}
    for r in by["accurate"]:
        phases[r["phase"]] = phases.get(r["phase"], 0) + 1

    result = {
        "conditions": {"L": 24, "machine": platform.processor() or platform.machine(),
                       "cpus": os.cpu_count(), "load_avg": os.getloadavg(), "jobs": a.jobs,
                       "note": "CPU time = one dedicated core; wall time is inflated on a shared machine"},
        "targets": TARGETS,
        "metropolis_updates_per_s": rate,
        "time_per_simulation_s": timing,
        "time_per_simulation_at_T_s": thermal,
        "time_per_simulation_square_preset_s": square,
        "grid": a.grid, "phase_source": phase_source,
        "agreement_with_accurate": agree,
        "accurate_phase_counts": phases,
        "disagreements": disagreements,
        "rows": rows,
    }
    out = Path(__file__).parent / "results" / "solver.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=float))

    print(f"solver benchmark, L = 24, load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for k, v in rate.items():
        print(f"  Metropolis {k}: wall best {v['best'] / 1e6:.2f} M/s, median {v['median'] / 1e6:.2f} M/s; "
              f"CPU best {v['cpu_best'] / 1e6:.2f} M/s, median {v['cpu_median'] / 1e6:.2f} M/s "
              f"(acceptance {v['acceptance']:.2f}; target >= 5 M/s)")
    for m in MODES:
        t = timing[m]
        print(f"  {m:9s}: CPU median {t['cpu_median']:.3f} s (max {t['cpu_max']:.3f} s), "
              f"wall median {t['wall_median']:.3f} s; target <= {TARGETS[m]} s")
    for m in MODES:
        t = square[m]
        print(f"  {m:9s} square preset: CPU median {t['cpu_median']:.3f} s (max {t['cpu_max']:.3f} s)")
    for m in MODES:
        t = thermal[m]
        print(f"  {m:9s} at T = 0.3: CPU median {t['cpu_median']:.3f} s (max {t['cpu_max']:.3f} s)")
    print(f"  phase agreement with accurate on {a.grid}x{a.grid} ({phase_source}): "
          f"fast {agree['fast']:.0%} (target 95%), screening {agree['screening']:.0%} (target 85%)")
    print(f"  accurate phases: {phases}")
    print(f"  wrote {out}")


if __name__ == "__main__":
    main()
