"""The parallel benchmark behind ``spinexplore bench`` (the successor of the old test_parallel.py).

Runs the same set of real simulations sequentially and on ``n_jobs`` workers and prints the old
tool's console summary: wall time, speedup, efficiency. Both timings are taken *warm*: before
each one, every worker that will take part (the one sequential worker, each parallel worker)
has already run a simulation, so neither includes starting an interpreter or loading the
compiled solver. The efficiency ``t_sequential / (workers * t_parallel)`` is then at most
100 % up to timing noise.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["check_bench", "run_parallel_benchmark"]


class _Warmup:
    """Run one real simulation, then hold the worker for ``hold`` seconds and return its id.

    Holding keeps a fast worker from taking a second warm-up item, so that a map of
    ``n_workers`` of them reaches every worker.
    """

    def __init__(self, sim: Any, hold: float) -> None:
        self.sim, self.hold = sim, hold

    def __call__(self, item: dict[str, float]) -> str:
        self.sim(item)
        time.sleep(self.hold)
        return f"{socket.gethostname()}:{os.getpid()}"


def _warm(executor: Any, sim: Any, items: list[dict[str, float]], n_workers: int) -> int:
    """Warm every worker of ``executor``; return how many distinct workers answered."""
    seen: set[str] = set()
    for attempt in range(3):
        warm = _Warmup(sim, hold=0.2 * (attempt + 1))
        batch = [items[k % len(items)] for k in range(n_workers)]
        seen.update(o.value for o in executor.map_unordered(warm, batch) if o.ok)
        if len(seen) >= n_workers:
            break
    return len(seen)


def _timed_map(executor: Any, sim: Any, items: list[dict[str, float]]) -> tuple[float, int]:
    """Run ``items`` on ``executor``; return the wall time and the number of successful outcomes."""
    start = time.perf_counter()
    n_ok = sum(outcome.ok for outcome in executor.map_unordered(sim, items))
    return time.perf_counter() - start, n_ok


#: Parallel efficiency (t_sequential / (workers x t_parallel)) at or above which the verdict is
#: "working well" (the old tool's figure on 8 workers was 90.6 %), and below which it is poor.
GOOD_EFFICIENCY = 0.8
POOR_EFFICIENCY = 0.6


def verdict(all_ok: bool, efficiency: float, workers: int) -> str:
    """The last line of ``spinexplore bench``: judged by the efficiency, not by any speedup > 1."""
    if not all_ok:
        return "✗ Some simulations failed: check the failures above"
    if workers == 1:
        return "- One worker: nothing to compare (use --n-jobs 2 or more)"
    pct = f"{100 * efficiency:.0f} %"
    if efficiency >= GOOD_EFFICIENCY:
        return f"✓ Parallel processing works well: {pct} efficiency on {workers} workers"
    if efficiency >= POOR_EFFICIENCY:
        return (f"~ Parallel processing works, at {pct} efficiency on {workers} workers (below "
                f"{100 * GOOD_EFFICIENCY:.0f} %: other work on the machine, or more workers than free cores)")
    return (f"✗ Parallel processing gains little: {pct} efficiency on {workers} workers (a {efficiency * workers:.2f}x "
            f"speedup); the workers share too few cores (usable here: {_cores()}), or the machine is busy")


def _cores() -> int:
    from spinexplore.runner import usable_cores

    return usable_cores()


def check_bench(n_jobs: Any, mode: Any) -> tuple[int, str]:
    """``n_jobs`` and ``mode`` checked by their rows of the run settings' table
    (:mod:`spinexplore.settings`), once; ``mode`` must be one preset, not a fidelity ladder."""
    from spinexplore._validation import check_choice
    from spinexplore.fidelity import is_ladder_spec
    from spinexplore.settings import TABLE

    n_jobs, mode = TABLE["n_jobs"].check(n_jobs), TABLE["mode"].check(mode)
    if is_ladder_spec(mode):  # the row allows a ladder; bench times one preset
        check_choice("mode", mode, TABLE["mode"].constraint.allowed())
    return n_jobs, mode


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
    from spinexplore._validation import check_int
    from spinexplore.execution.registry import build_executor
    from spinexplore.runner import warn_oversubscribed
    from spinexplore.samplers import sample
    from spinexplore.simulation import SpinSimulation
    from spinexplore.space import ParameterSpace

    n_sims = check_int("n_sims", n_sims, minimum=1, maximum=100_000)
    n_jobs, mode = check_bench(n_jobs, mode)
    sim = SpinSimulation(model=model, lattice_size=lattice_size, mode=mode)
    u = sim.model.natural_unit if hasattr(sim, "model") else 0.4746
    space = ParameterSpace({"h": (0.0, 1.2 * u), "K": (-0.5 * u, 2.0 * u)})
    items = space.to_dicts(sample(space, n_sims, method="lhs", seed=seed))

    print("PARALLEL SIMULATION TEST")
    print("=" * 50)
    print(f"[1] {n_sims} LHS points of {model}, L={lattice_size}, mode={mode}")
    print("[2] Warming up every worker (interpreter start, compiled solver load)...")
    sim(items[0])  # compiles (or loads) the solver once, so that the workers find the cache
    with build_executor(1, "sequential") as seq:
        _warm(seq, sim, items, 1)
        print("[3] Testing SEQUENTIAL execution (n_jobs=1)...")
        t_seq, ok_seq = _timed_map(seq, sim, items)
    print(f"    Sequential time: {t_seq:.1f}s")
    print(f"    Time per simulation: {t_seq / n_sims:.2f}s")
    with build_executor(n_jobs) as par:  # n_jobs checked above
        workers = par.n_workers
        warn_oversubscribed(workers, None)
        warmed = _warm(par, sim, items, workers)
        if warmed < workers:
            print(f"    (only {warmed} of {workers} workers answered the warm-up)")
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
    print(verdict(ok_seq == n_sims and ok_par == n_sims, efficiency, workers))
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
