"""The ``mpi`` backend: batches of simulations on an ``mpi4py.futures.MPIPoolExecutor``.

Start the script with ``mpiexec -n <1 + workers> python -m mpi4py.futures script.py``. MPI has
no per-task kill, so (as for dask) each item runs in a child process of its MPI worker,
killed at the timeout.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any

from spinexplore._validation import InputError
from spinexplore.execution._futures import FuturesExecutor
from spinexplore._constraints import N_JOBS
from spinexplore.execution.base import workers_for

__all__ = ["MPIExecutor", "check_mpi_launch"]

_INSTALL_HINT = "the 'mpi' backend needs mpi4py and an MPI library: pip install spinexplore[mpi]"
#: Variables that MPI launchers set in every rank (MPICH/Intel MPI hydra, Open MPI, PMIx,
#: MVAPICH, Slurm's PMI plugins). None of them: the program was not started by a launcher.
LAUNCHER_VARS = ("PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE",
                 "MPI_LOCALNRANKS")
#: Set to 1 to let an MPI library that supports it spawn workers from a singleton process.
SINGLETON_VAR = "SPINEXPLORE_MPI_SINGLETON"


def check_mpi_launch(environ: Any = None) -> None:
    """Raise before any work when the ``mpi`` backend cannot run in this process.

    Two cases: mpi4py is missing (``ImportError`` with the install hint), or the program was
    not started by ``mpiexec``/``srun``. MPI then runs as a *singleton*, and
    ``MPIPoolExecutor`` would have to spawn its workers, which hangs forever with MPICH.
    ``SPINEXPLORE_MPI_SINGLETON=1`` skips the second check (for MPI libraries that support
    singleton spawning).

    Raises
    ------
    ImportError
        mpi4py is not installed.
    spinexplore.errors.InputError
        Not started by an MPI launcher; the message says how to start an MPI run.
    """
    env = os.environ if environ is None else environ
    if "mpi4py.futures" in sys.modules:  # imported, or blocked (None)
        missing = sys.modules["mpi4py.futures"] is None
    else:  # looked up without importing: importing initializes MPI
        missing = importlib.util.find_spec("mpi4py") is None
    if missing:
        raise ImportError(_INSTALL_HINT)
    if env.get(SINGLETON_VAR) == "1" or any(name in env for name in LAUNCHER_VARS):
        return
    raise InputError(
        "the 'mpi' backend needs the program to be started by an MPI launcher (running it directly "
        "would hang while MPI spawns workers); start it as: mpiexec -n <1 + workers> python -m "
        "mpi4py.futures -m spinexplore run --backend mpi --n-jobs -1 ... (or: mpiexec -n <1 + workers> python -m "
        f"mpi4py.futures your_script.py); set {SINGLETON_VAR}=1 if your MPI library can spawn from a "
        "singleton"
    )


class MPIExecutor(FuturesExecutor):
    """Run simulations on MPI worker ranks.

    Parameters
    ----------
    n_jobs : int, default=-1
        -1 uses the workers ``mpiexec`` started (``python -m mpi4py.futures``); a positive
        number is passed as ``max_workers`` to ``MPIPoolExecutor`` (which may spawn them).
    **options
        ``isolate`` (default True), ``chunksize``, ``pin_threads``, ``keep_tmpdirs``,
        ``tmp_root``: see :class:`~spinexplore.execution._futures.FuturesExecutor`.

    Notes
    -----
    On Ctrl+C the pending tasks are cancelled; a task already running on a rank finishes (at
    most after its timeout) before :meth:`shutdown` returns.
    """

    def __init__(self, n_jobs: int = -1, **options: Any) -> None:
        n_jobs = N_JOBS.check("n_jobs", n_jobs)  # the table's constraint, before MPI starts
        try:
            from mpi4py.futures import MPIPoolExecutor
        except ImportError as exc:
            raise ImportError(_INSTALL_HINT) from exc
        check_mpi_launch()
        max_workers = None if n_jobs == -1 else workers_for(n_jobs)
        self.pool = MPIPoolExecutor(max_workers=max_workers)
        super().__init__(self.pool, n_workers=self.pool.num_workers, **options)

    def shutdown(self, *, cancel_pending: bool = True) -> None:
        """Shut down the MPI pool (its workers' child processes end with them)."""
        super().shutdown(cancel_pending=cancel_pending)
        self.pool.shutdown(wait=True, cancel_futures=cancel_pending)
