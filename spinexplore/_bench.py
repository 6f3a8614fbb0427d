"""The parallel benchmark behind ``spinexplore bench`` (the successor of the old test_parallel.py).

Runs the same set of real simulations sequentially and on ``n_jobs`` workers and prints the old
tool's console summary: wall time, speedup, efficiency.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["run_parallel_benchmark"]


def _timed_map(executor: Any, sim: Any, items: list[dict[str, float]]) -> tuple[float, int]:
    start = time.perf_counter()
    n_ok = 0
    for outcome in executor.map_unordered(sim, items):
        n_ok += getattr(outcome.status, "value", outcome.status) == "ok"
    return time.perf_counter() - start, n_ok


def run_parallel_benchmark(
    *,
    n_sims: int = 8,
    n_jobs: int = -1,
    mode: str = "fast",
    lattice_size: int = 24,
    model: str = "triangular-chiral",
    output: str | os.PathLike[str] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Sequential vs parallel wall time on ``n_sims`` real simulations of the built-in solver.

    Returns the figures as a dict (and writes them as JSON to ``output`` when given).
    """
    from spinexplore._validation import check_int, check_n_jobs
    from spinexplore.execution import get_executor
    from spinexplore.samplers import sample
    from spinexplore.simulation import SpinSimulation
    from spinexplore.space import ParameterSpace

    n_sims = check_int("n_sims", n_sims, minimum=1)
    check_n_jobs(n_jobs)
    sim = SpinSimulation(model=model, lattice_size=lattice_size, mode=mode)
    u = sim.model.natural_unit if hasattr(sim, "model") else 0.4746
    space = ParameterSpace({"h": (0.0, 1.2 * u), "K": (-0.5 * u, 2.0 * u)})
    items = space.to_dicts(sample(space, n_sims, method="lhs", seed=seed))

    print("PARALLEL SIMULATION TEST")
    print("=" * 50)
    print(f"[1] {n_sims} LHS points of {model}, L={lattice_size}, mode={mode}")
    print("[2] Warming up (numba compilation)...")
    sim(items[0])
    with get_executor(1, "sequential") as seq:
        print("[3] Testing SEQUENTIAL execution (n_jobs=1)...")
        t_seq, ok_seq = _timed_map(seq, sim, items)
    print(f"    Sequential time: {t_seq:.1f}s")
    print(f"    Time per simulation: {t_seq / n_sims:.2f}s")
    with get_executor(n_jobs) as par:
        workers = par.n_workers
        # warm the workers (compilation cache load) outside the timed region
        list(par.map_unordered(sim, items[: workers]))
        print(f"[4] Testing PARALLEL execution (n_jobs={workers})...")
        t_par, ok_par = _timed_map(par, sim, items)
    print(f"    Parallel time: {t_par:.1f}s")
    print(f"    Time per simulation: {t_par / n_sims:.2f}s")
    speedup = t_seq / t_par if t_par > 0 else float("nan")
    efficiency = speedup / workers
    print()
    print("RESULTS")
    print("=" * 50)
    print(f"Sequential time:  {t_seq:.1f}s")
    print(f"Parallel time:    {t_par:.1f}s ({workers} workers)")
    print(f"Speedup:          {speedup:.2f}x")
    print(f"Efficiency:       {100 * efficiency:.1f}%")
    print()
    ok = ok_seq == n_sims and ok_par == n_sims
    print("✓ Parallel processing is working!" if ok and speedup > 1 else "✗ Check the failures above")
    figures = {
        "n_sims": n_sims, "mode": mode, "lattice_size": lattice_size, "model": model,
        "n_workers": workers, "sequential_s": t_seq, "parallel_s": t_par,
        "speedup": speedup, "efficiency": efficiency, "n_ok_sequential": ok_seq,
        "n_ok_parallel": ok_par, "cpu_count": os.cpu_count(), "numpy": np.__version__,
    }
    if output is not None:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(json.dumps(figures, indent=2))
    return figures
