"""Run spinexplore simulations on a Dask cluster.

Three ways to get a cluster (pick one with the command line):

    python examples/cluster_dask.py                         # a LocalCluster on this machine
    python examples/cluster_dask.py --address tcp://host:8786   # a running dask scheduler
    python examples/cluster_dask.py --slurm 4               # 4 SLURM jobs (pip install dask-jobqueue)

Each dask task runs a batch of points; every point runs in a child process of its dask worker,
killed at ``--timeout``, so a hung or crashing simulation fails alone and the worker lives on.
The same executor goes to the explorer: ``explorer.run(..., executor=executor)``.
"""

from __future__ import annotations

import argparse
import sys
import time

from spinexplore.execution import get_executor, make_progress
from spinexplore.simulation import SpinSimulation


def make_client(args):
    from dask.distributed import Client

    if args.address:
        return Client(args.address), None
    if args.slurm:
        from dask_jobqueue import SLURMCluster  # pip install dask-jobqueue

        cluster = SLURMCluster(cores=args.cores_per_job, processes=args.cores_per_job, memory="4GB",
                               walltime="02:00:00", job_script_prologue=["source .venv/bin/activate"])
        cluster.scale(jobs=args.slurm)
        client = Client(cluster)
        client.wait_for_workers(args.slurm * args.cores_per_job)
        return client, cluster
    from dask.distributed import LocalCluster

    cluster = LocalCluster(n_workers=args.n_workers, threads_per_worker=1, dashboard_address=None)
    return Client(cluster), cluster


def main(argv=None):
    parser = argparse.ArgumentParser(description="spinexplore on dask.distributed")
    parser.add_argument("--address", help="scheduler address of a running cluster")
    parser.add_argument("--slurm", type=int, default=0, help="number of SLURM jobs to start")
    parser.add_argument("--cores-per-job", type=int, default=8)
    parser.add_argument("--n-workers", type=int, default=2, help="LocalCluster workers")
    parser.add_argument("--n-points", type=int, default=12)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per simulation")
    args = parser.parse_args(argv)

    client, cluster = make_client(args)
    simulation = SpinSimulation(mode="screening", lattice_size=12, seed=1)
    points = [{"h": 0.05 * (i % 6), "K": 0.1 * (i // 6) - 0.1} for i in range(args.n_points)]
    t0 = time.perf_counter()
    executor = get_executor(backend="dask", client=client)
    progress = make_progress(len(points), desc="dask", file=sys.stderr)
    n_ok = 0
    try:
        for outcome in executor.map_unordered(simulation, points, timeout=args.timeout):
            if outcome.ok:
                n_ok += 1
                r = outcome.value
                progress.record(outcome.index, r.phase.name, ok=True, confidence=r.confidence, energy=r.energy)
            else:
                progress.record(outcome.index, outcome.status.name, ok=False)
    finally:
        progress.close()
        executor.shutdown()
        client.close()
        if cluster is not None:
            cluster.close()
    print(f"dask: {n_ok}/{len(points)} simulations ok on {executor.n_workers} workers "
          f"in {time.perf_counter() - t0:.1f}s")


if __name__ == "__main__":
    main()
