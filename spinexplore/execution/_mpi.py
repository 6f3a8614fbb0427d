"""The ``mpi`` backend: batches of simulations on an ``mpi4py.futures.MPIPoolExecutor``.

Start the script with ``mpiexec -n <1 + workers> python -m mpi4py.futures script.py``. MPI has
no per-task kill, so (as for dask) each item runs in a child process of its MPI worker,
killed at the timeout.
"""

from __future__ import annotations

from typing import Any

from spinexplore.execution._futures import FuturesExecutor
from spinexplore.execution.base import resolve_n_jobs

__all__ = ["MPIExecutor"]

_INSTALL_HINT = "the 'mpi' backend needs mpi4py and an MPI library: pip install spinexplore[mpi]"


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
        try:
            from mpi4py.futures import MPIPoolExecutor
        except ImportError as exc:
            raise ImportError(_INSTALL_HINT) from exc
        max_workers = None if n_jobs == -1 else resolve_n_jobs(n_jobs)
        self.pool = MPIPoolExecutor(max_workers=max_workers)
        super().__init__(self.pool, n_workers=self.pool.num_workers, **options)

    def shutdown(self, *, cancel_pending: bool = True) -> None:
        """Shut down the MPI pool (its workers' child processes end with them)."""
        super().shutdown(cancel_pending=cancel_pending)
        self.pool.shutdown(wait=True, cancel_futures=cancel_pending)
