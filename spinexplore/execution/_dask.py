"""The ``dask`` backend: batches of simulations on a dask.distributed cluster.

Dask has no per-task timeout and cannot stop a running task, so each batch runs every item in
a child process of the dask worker (:func:`~spinexplore.execution._remote.remote_batch`),
killed at the timeout; a crash fails that item only and the dask worker lives on.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
from typing import Any

from spinexplore._constraints import N_JOBS
from spinexplore.execution import _remote
from spinexplore.execution._futures import FuturesExecutor
from spinexplore.execution.base import workers_for

__all__ = ["DaskExecutor"]

_INSTALL_HINT = "the 'dask' backend needs dask.distributed: pip install spinexplore[dask]"


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return distributed


class DaskExecutor(FuturesExecutor):
    """Run simulations on a dask.distributed cluster.

    Parameters
    ----------
    n_jobs : int, default=-1
        Workers of the ``LocalCluster`` started when neither ``client`` nor ``address`` is
        given (-1 = all cores); checked always (the ``n_jobs`` row of
        :mod:`spinexplore.settings`), unused otherwise (the cluster's threads are used).
    client : distributed.Client or None, default=None
        An existing client; it stays open after :meth:`shutdown`.
    address : str or None, default=None
        A scheduler address (``"tcp://host:8786"``); the client made for it is closed at
        :meth:`shutdown`.
    **options
        ``isolate`` (default True), ``chunksize``, ``pin_threads``, ``keep_tmpdirs``,
        ``tmp_root``: see :class:`~spinexplore.execution._futures.FuturesExecutor`.
    """

    def __init__(self, n_jobs: int = -1, *, client: Any = None, address: str | None = None, **options: Any) -> None:
        n_jobs = N_JOBS.check("n_jobs", n_jobs)  # before any import or cluster
        distributed = _import_distributed()
        if client is not None and address is not None:
            raise ValueError(f"pass either client or address, not both; got client={client!r}, address={address!r}")
        self._own_client = self._own_cluster = None
        if client is None:
            if address is not None:
                client = self._own_client = distributed.Client(address)
            else:
                self._own_cluster = distributed.LocalCluster(
                    n_workers=workers_for(n_jobs), threads_per_worker=1, processes=True,
                    dashboard_address=None, silence_logs=logging.ERROR,
                )
                client = self._own_client = distributed.Client(self._own_cluster)
        self.client = client
        workers = client.scheduler_info().get("workers", {})
        n_workers = sum(w.get("nthreads", 1) for w in workers.values()) or 1
        self._dask_futures: dict[cf.Future, Any] = {}
        super().__init__(client.get_executor(pure=False), n_workers=n_workers, **options)

    def _submit(self, payload: bytes, batch: list[tuple[int, Any]], timeout: float | None) -> cf.Future:
        dask_future = self.client.submit(
            _remote.remote_batch, payload, batch, timeout, self.isolate, *self.options, pure=False
        )
        future: cf.Future = cf.Future()

        def copy(f: Any) -> None:
            self._dask_futures.pop(future, None)
            try:
                future.set_result(f.result())
            except BaseException as exc:  # noqa: BLE001 - cancelled or lost: reported per item
                future.set_exception(exc)

        self._dask_futures[future] = dask_future
        dask_future.add_done_callback(copy)
        return future

    def _cancel_running(self, futures: list[cf.Future]) -> None:
        dask_futures = [self._dask_futures.pop(f) for f in futures if f in self._dask_futures]
        self.client.cancel(dask_futures, force=True)
        if self.isolate:  # cancel does not stop a running task: kill its child process
            self.client.run(_remote.cancel_local_tasks)

    def shutdown(self, *, cancel_pending: bool = True) -> None:
        """Stop the child processes on every dask worker; close the client/cluster we made."""
        if self.client is None:
            return
        try:
            self.client.run(_remote.shutdown_local_pools)
        except Exception:  # pragma: no cover - a cluster already gone
            pass
        super().shutdown(cancel_pending=cancel_pending)
        if self._own_client is not None:
            self._own_client.close()
        if self._own_cluster is not None:
            self._own_cluster.close()
        self.client = self._own_client = self._own_cluster = None
