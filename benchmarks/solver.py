"""Speed and reliability of the built-in solver (issue 3) at L = 24 on one core.

Measures
* Metropolis spin updates per second (the ``mc_sweeps`` kernel, default model, h = 0.2,
  T = 0.1 and T = 1), best and median of ``--repeats`` runs;
* wall and CPU time per ``simulate`` call for each preset over a few points of the default box;
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
from spinexplore.physics._ansatz import couplings
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

        phase = classify(gs.spins, gs.lattice, energy_gap=gs.gap).phase.name
    except ImportError:
        phase = gs.best
    return {"params": params, "mode": mode, "phase": phase, "family": gs.best,
            "energy": gs.energy, "gap": gs.gap, "cpu_s": cpu, "wall_s": wall}


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
    print(f"  phase agreement with accurate on {a.grid}x{a.grid} ({phase_source}): "
          f"fast {agree['fast']:.0%} (target 95%), screening {agree['screening']:.0%} (target 85%)")
    print(f"  accurate phases: {phases}")
    print(f"  wrote {out}")


if __name__ == "__main__":
    main()
