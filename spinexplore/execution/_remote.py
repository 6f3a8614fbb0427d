"""The batch runner that remote workers call (dask, MPI, loky, a wrapped ``concurrent.futures`` pool).

:class:`~spinexplore.execution._futures.FuturesExecutor` submits :func:`remote_batch` with a
pickled simulation and a batch of items. In the remote worker it runs each item either in a
child process (a one-worker :class:`~spinexplore.execution.process.ProcessExecutor` per
thread, reused: hard timeout, crash isolation) or, without ``isolate``, right there. This
module sits above :mod:`~.process` and below the backends that submit it.
"""

from __future__ import annotations

import atexit
import os
import threading
from typing import Any

from spinexplore.execution import _worker
from spinexplore.execution.process import ProcessExecutor

__all__ = ["cancel_local_tasks", "remote_batch", "shutdown_local_pools"]

#: One row per item: ``(index, status value, value, error, duration, worker, tmpdir)``.
Row = tuple[int, str, Any, str | None, float, str, str | None]

_local = threading.local()
_local_pools: list[ProcessExecutor] = []
_local_lock = threading.Lock()
_cancel_epoch = 0
_fn_cache: dict[bytes, Any] = {}
_pinned = False


def _local_pool(pin_threads: bool, keep_tmpdirs: bool, tmp_root: str | None) -> ProcessExecutor:
    """This thread's one-worker pool (started on first use, kept for the next batches)."""
    pool = getattr(_local, "pool", None)
    if pool is None:
        pool = ProcessExecutor(1, pin_threads=pin_threads, keep_tmpdirs=keep_tmpdirs, tmp_root=tmp_root)
        _local.pool = pool
        with _local_lock:
            _local_pools.append(pool)
    return pool


def remote_batch(
    payload: bytes,
    batch: list[tuple[int, Any]],
    timeout: float | None,
    isolate: bool,
    pin_threads: bool = True,
    keep_tmpdirs: bool = False,
    tmp_root: str | None = None,
) -> list[Row]:
    """Run a batch of ``(index, item)`` in this (remote) worker and return one row per item.

    With ``isolate`` each item runs in a child process of this worker (one per thread, reused),
    killed at ``timeout``; a crash of the child fails only that item. Without it the items run
    here, the timeout is not enforced and a crash takes this worker down. A batch stopped by
    :func:`cancel_local_tasks` returns the rows it has; the caller reports the others as
    cancelled.

    Parameters
    ----------
    payload : bytes
        The simulation, pickled with cloudpickle.
    batch : list of (int, object)
        The items with their indices in the caller's map.
    timeout : float or None
        Seconds one item may run (with ``isolate``).
    isolate : bool
        Run each item in a child process.
    pin_threads, keep_tmpdirs, tmp_root
        As for :class:`~spinexplore.execution.process.ProcessExecutor`.

    Returns
    -------
    list of tuple
        ``(index, status, value, error, duration, worker, tmpdir)`` per finished item, where
        ``status`` is an :class:`~.base.OutcomeStatus` value and ``worker`` is
        ``"pid<pid>@<host>"``.
    """
    out: list[Row] = []
    if isolate:
        pool = _local_pool(pin_threads, keep_tmpdirs, tmp_root)
        epoch = _cancel_epoch
        gen = pool.map_payload(payload, [item for _, item in batch], timeout)
        try:
            for o in gen:
                out.append((batch[o.index][0], o.status.value, o.value, o.error, o.duration,
                            f"{o.worker}@{_worker.HOST}", pool.tmpdir_of(o.worker)))
                if _cancel_epoch != epoch:
                    break
        finally:
            gen.close()
        return out
    global _pinned
    if pin_threads and not _pinned:
        _pinned = True
        _worker.pin_threads_now()
    fn = _fn_cache.get(payload)
    if fn is None:
        _fn_cache.clear()
        fn = _fn_cache[payload] = _worker.load_fn(payload)
    tmp = str(_worker.worker_tmpdir())
    for index, item in batch:
        status, value, error, dur = _worker.run_item(fn, item)
        out.append((index, status.value, value, error, dur, f"pid{os.getpid()}@{_worker.HOST}", tmp))
    return out


def cancel_local_tasks() -> int:
    """Stop the batches running in this process: kill their child workers. Returns how many."""
    global _cancel_epoch
    _cancel_epoch += 1
    with _local_lock:
        pools = list(_local_pools)
    return sum(pool.kill_busy() for pool in pools)


def shutdown_local_pools() -> int:
    """Shut down the child workers this process started for remote batches. Returns how many."""
    with _local_lock:
        pools = list(_local_pools)
        _local_pools.clear()
    for pool in pools:
        pool.shutdown()
    return len(pools)


atexit.register(shutdown_local_pools)
