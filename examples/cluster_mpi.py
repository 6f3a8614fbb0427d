"""Run spinexplore simulations on MPI ranks with mpi4py.futures.

    mpiexec -n 3 python -m mpi4py.futures examples/cluster_mpi.py     # 1 parent + 2 workers

With ``pip install spinexplore[mpi]`` the MPICH from PyPI provides ``mpiexec``. On a SLURM
cluster, in a batch script: ``srun -n 65 python -m mpi4py.futures examples/cluster_mpi.py``
(rank 0 runs this script, the other ranks are workers). Each point runs in a child process of
its MPI rank, killed at ``--timeout``; a hung or crashing simulation fails alone. The same
executor goes to the explorer: ``explorer.run(..., executor=executor)``.
"""

from __future__ import annotations

import argparse
import sys
import time

from spinexplore.execution import get_executor, make_progress
from spinexplore.simulation import SpinSimulation


def hangs_at_h_one(simulation):
    """Wrap a simulation so that the point h=1 hangs: shows the timeout at work."""

    def run(params):
        if params["h"] == 1.0:
            time.sleep(1e6)
        return simulation(params)

    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description="spinexplore on MPI")
    parser.add_argument("--n-points", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per simulation")
    parser.add_argument("--with-hang", action="store_true", help="add a point that never finishes")
    args = parser.parse_args(argv)

    simulation = SpinSimulation(mode="screening", lattice_size=12, seed=1)
    points = [{"h": 0.05 * (i % 6), "K": 0.1 * (i // 6) - 0.1} for i in range(args.n_points)]
    fn = simulation
    if args.with_hang:
        points.append({"h": 1.0, "K": 0.0})
        fn = hangs_at_h_one(simulation)
    t0 = time.perf_counter()
    with get_executor(backend="mpi") as executor:
        progress = make_progress(len(points), desc="mpi", file=sys.stderr)
        counts = {}
        for outcome in executor.map_unordered(fn, points, timeout=args.timeout):
            counts[outcome.status.value] = counts.get(outcome.status.value, 0) + 1
            if outcome.ok:
                r = outcome.value
                progress.record(outcome.index, r.phase.name, ok=True, confidence=r.confidence, energy=r.energy)
            else:
                progress.record(outcome.index, outcome.status.name, ok=False)
        progress.close()
        n_workers = executor.n_workers
    print(f"mpi: {counts.get('ok', 0)}/{len(points)} simulations ok, {counts.get('timeout', 0)} timeout, "
          f"on {n_workers} workers in {time.perf_counter() - t0:.1f}s")


if __name__ == "__main__":
    main()
