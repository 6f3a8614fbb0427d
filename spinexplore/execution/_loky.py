"""The ``loky`` backend: joblib's reusable process executor (its vendored loky), for throughput.

loky cannot stop one running task and loses every in-flight task when a worker dies. So:

- a map with a ``timeout`` runs on the ``process`` backend instead (a ``RuntimeWarning`` says
  so): only that backend can kill one task;
- when a worker dies, the tasks that were in flight are rerun one by one on the ``process``
  backend, so that only the culprit fails; the map then goes on with a fresh loky executor.
"""

from __future__ import annotations

import concurrent.futures as cf
import signal
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from spinexplore._validation import check_int
from spinexplore.execution import _remote, _worker
from spinexplore.execution._futures import FuturesExecutor
from spinexplore.execution.base import ItemFeed, Outcome
from spinexplore.execution.process import ProcessExecutor

__all__ = ["LokyExecutor"]


def _init_loky_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when workers stop


class LokyExecutor(FuturesExecutor):
    """Run simulations on loky's reusable executor (shared with joblib in this process).

    Parameters
    ----------
    n_workers : int
        Number of loky workers.
    pin_threads : bool, default=True
        Start workers with numba/BLAS/OpenMP thread counts set to 1.
    keep_tmpdirs : bool, default=False
        Keep each worker's temp dir after shutdown.
    tmp_root : str or None, default=None
        Where the fallback ``process`` pool puts its worker temp dirs.
    chunksize : int or "auto", default="auto"
        Items per loky task; ``"auto"`` aims at about 20 ms of work per task.
    """

    batch_seconds = 0.02

    def __init__(self, n_workers: int, *, pin_threads: bool = True, keep_tmpdirs: bool = False,
                 tmp_root: str | None = None, chunksize: int | str = "auto") -> None:
        n_workers = check_int("n_workers", n_workers, minimum=1)
        super().__init__(None, n_workers=n_workers, isolate=False, chunksize=chunksize,
                         pin_threads=pin_threads, keep_tmpdirs=keep_tmpdirs, tmp_root=tmp_root)
        self._fallback: ProcessExecutor | None = None

    def _get_fallback(self) -> ProcessExecutor:
        if self._fallback is None:
            pin, keep, root = self.options
            self._fallback = ProcessExecutor(self.n_workers, pin_threads=pin, keep_tmpdirs=keep, tmp_root=root)
        return self._fallback

    def _loky(self) -> Any:
        """loky's reusable executor (a new one after a crash broke the previous one)."""
        from joblib.externals.loky import get_reusable_executor  # joblib is a dependency

        env = {name: "1" for name in _worker.PIN_VARS} if self.options[0] else None
        self.executor = get_reusable_executor(max_workers=self.n_workers, env=env,
                                              initializer=_init_loky_worker, timeout=300)
        return self.executor

    def _submit(self, payload: bytes, batch: list[tuple[int, Any]], timeout: float | None) -> cf.Future:
        executor = self.executor if self.executor is not None else self._loky()
        return executor.submit(_remote.remote_batch, payload, batch, None, False, *self.options)

    def map_unordered(
        self, fn: Callable[[Any], Any], items: Iterable[Any], *, timeout: float | None = None
    ) -> Iterator[Outcome]:
        """Run ``fn`` on every item; yield one :class:`Outcome` per item as each finishes.

        With ``timeout`` set, the map runs on the ``process`` backend (with a warning).
        """
        if timeout is not None:
            warnings.warn(
                f"the 'loky' backend cannot stop a running task; this map runs on the 'process' backend "
                f"to enforce timeout={timeout} (use backend='process', or timeout=None for loky)",
                RuntimeWarning, stacklevel=2,
            )
            return self._get_fallback().map_unordered(fn, items, timeout=timeout)
        return super().map_unordered(fn, items)

    def _recover(self, payload: bytes, feed: ItemFeed, timeout: float | None,
                 lost: list[tuple[list[int], BaseException]], in_flight: dict[cf.Future, list[int]],
                 broken: BaseException | None) -> list[Outcome]:
        """A worker died: rerun every in-flight task in isolation, then start a fresh executor."""
        indices = [i for batch, _ in lost for i in batch]
        for future, batch in in_flight.items():
            future.cancel()
            indices.extend(batch)
        in_flight.clear()
        indices.sort()
        rerun = self._get_fallback().map_payload(payload, [feed[i] for i in indices], None, chunksize=1)
        outcomes = [Outcome(indices[o.index], o.status, o.value, o.error, o.duration, o.worker) for o in rerun]
        self._loky()
        return outcomes

    def _cancel_running(self, futures: list[cf.Future]) -> None:
        for future in futures:
            future.cancel()
        if self.executor is not None:  # running loky tasks cannot be cancelled: stop the workers
            self.executor.shutdown(wait=False, kill_workers=True)
            self.executor = None

    def shutdown(self, *, cancel_pending: bool = True) -> None:
        """Stop the loky workers and the fallback pool; remove the workers' temp dirs."""
        if self.executor is not None:
            self.executor.shutdown(wait=not cancel_pending, kill_workers=True)
            self.executor = None
        if self._fallback is not None:
            self._fallback.shutdown(cancel_pending=cancel_pending)
            self._fallback = None
        super().shutdown(cancel_pending=cancel_pending)
