"""The ``loky`` backend: joblib's reusable process executor, for throughput.

loky cannot stop one running task and loses every in-flight task when a worker dies. So:

- a map with a ``timeout`` runs on the ``process`` backend instead (a ``RuntimeWarning`` says
  so): only that backend can kill one task;
- when a worker dies, the tasks that were in flight are rerun one by one on the ``process``
  backend, so that only the culprit fails; the map then goes on with a fresh loky executor.
"""

from __future__ import annotations

import concurrent.futures as cf
import concurrent.futures.process
import os
import shutil
import signal
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import cloudpickle

from spinexplore._validation import check_int
from spinexplore.execution import _worker
from spinexplore.execution.base import (
    Outcome,
    OutcomeStatus,
    _ContextMixin,
    auto_batch_size,
    check_fn,
    check_timeout,
)
from spinexplore.execution.process import ProcessExecutor

__all__ = ["LokyExecutor"]


def _init_loky_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when workers stop


class LokyExecutor(_ContextMixin):
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

    def __init__(self, n_workers: int, *, pin_threads: bool = True, keep_tmpdirs: bool = False,
                 tmp_root: str | None = None, chunksize: int | str = "auto") -> None:
        try:
            import loky  # noqa: F401
        except ImportError as exc:  # pragma: no cover - joblib vendors loky; loky itself is optional
            raise ImportError("the 'loky' backend needs loky: pip install loky") from exc
        self.n_workers = check_int("n_workers", n_workers, minimum=1)
        if chunksize != "auto":
            check_int("chunksize", chunksize, minimum=1)
        self.chunksize = chunksize
        self._mean_duration: float | None = None
        self.pin_threads, self.keep_tmpdirs, self.tmp_root = bool(pin_threads), bool(keep_tmpdirs), tmp_root
        self._fallback: ProcessExecutor | None = None
        self._executor: Any = None
        self._tmpdirs: set[str] = set()

    def _get_fallback(self) -> ProcessExecutor:
        if self._fallback is None:
            self._fallback = ProcessExecutor(self.n_workers, pin_threads=self.pin_threads,
                                             keep_tmpdirs=self.keep_tmpdirs, tmp_root=self.tmp_root)
        return self._fallback

    def _get_loky(self) -> Any:
        from loky import get_reusable_executor

        env = {name: "1" for name in _worker.PIN_VARS} if self.pin_threads else None
        self._executor = get_reusable_executor(max_workers=self.n_workers, env=env,
                                               initializer=_init_loky_worker, timeout=300)
        return self._executor

    def map_unordered(
        self, fn: Callable[[Any], Any], items: Sequence[Any], *, timeout: float | None = None
    ) -> Iterator[Outcome]:
        """Run ``fn`` on every item; yield one :class:`Outcome` per item as each finishes.

        With ``timeout`` set, the map runs on the ``process`` backend (with a warning).
        """
        check_fn(fn)
        timeout = check_timeout(timeout)
        if timeout is not None:
            warnings.warn(
                f"the 'loky' backend cannot stop a running task; this map runs on the 'process' backend "
                f"to enforce timeout={timeout} (use backend='process', or timeout=None for loky)",
                RuntimeWarning, stacklevel=2,
            )
            return self._get_fallback().map_unordered(fn, items, timeout=timeout)
        try:
            payload = cloudpickle.dumps(fn)
        except Exception as exc:
            raise TypeError(f"fn could not be pickled with cloudpickle: {type(exc).__name__}: {exc}") from exc
        return self._map(payload, list(items))

    def _map(self, payload: bytes, items: list[Any]) -> Iterator[Outcome]:
        pending = deque(range(len(items)))
        in_flight: dict[cf.Future, list[int]] = {}
        executor = self._get_loky()
        finished = False
        try:
            while pending or in_flight:
                broken = False
                while pending and len(in_flight) < 2 * self.n_workers:
                    size = self.chunksize
                    if size == "auto":
                        size = auto_batch_size(self._mean_duration, len(pending), self.n_workers, 0.02)
                    batch = [pending.popleft() for _ in range(min(size, len(pending)))]
                    try:
                        future = executor.submit(_worker.remote_batch, payload, [(i, items[i]) for i in batch],
                                                 None, False, self.pin_threads, self.keep_tmpdirs, self.tmp_root)
                    except (cf.process.BrokenProcessPool, RuntimeError):  # a worker died meanwhile
                        pending.extendleft(reversed(batch))
                        broken = True
                        break
                    in_flight[future] = batch
                if broken:  # every in-flight task fails soon: wait for all of them
                    done, _ = cf.wait(list(in_flight), timeout=10.0)
                else:
                    done, _ = cf.wait(list(in_flight), timeout=1.0, return_when=cf.FIRST_COMPLETED)
                outcomes: list[Outcome] = []
                lost: list[int] = []
                for future in done:
                    batch = in_flight.pop(future)
                    try:
                        rows = future.result()
                    except cf.process.BrokenProcessPool:
                        lost.extend(batch)
                        continue
                    for index, status, value, error, duration, worker, tmpdir in rows:
                        self._tmpdirs.add(tmpdir)
                        m = self._mean_duration
                        self._mean_duration = duration if m is None else 0.8 * m + 0.2 * duration
                        outcomes.append(Outcome(index, OutcomeStatus(status), value, error, duration, worker))
                if lost or broken:  # a worker died: the in-flight tasks are gone; rerun them in isolation
                    for future, batch in in_flight.items():
                        future.cancel()
                        lost.extend(batch)
                    in_flight.clear()
                    outcomes.extend(self._rerun_isolated(payload, items, sorted(lost)))
                    executor = self._get_loky()
                yield from outcomes
            finished = True
        finally:
            if not finished:
                for future in in_flight:
                    future.cancel()
                if in_flight:  # Ctrl+C or an early stop: the running tasks cannot be cancelled
                    executor.shutdown(wait=False, kill_workers=True)

    def _rerun_isolated(self, payload: bytes, items: list[Any], indices: list[int]) -> list[Outcome]:
        fallback = self._get_fallback()
        saved_chunksize, fallback.chunksize = fallback.chunksize, 1
        try:
            return [Outcome(indices[o.index], o.status, o.value, o.error, o.duration, o.worker)
                    for o in fallback._map_payload(payload, [items[i] for i in indices], None)]
        finally:
            fallback.chunksize = saved_chunksize

    def shutdown(self, *, cancel_pending: bool = True) -> None:
        """Stop the loky workers and the fallback pool; remove the workers' temp dirs."""
        if self._executor is not None:
            self._executor.shutdown(wait=not cancel_pending, kill_workers=True)
            self._executor = None
        if self._fallback is not None:
            self._fallback.shutdown(cancel_pending=cancel_pending)
            self._fallback = None
        if not self.keep_tmpdirs:
            for path in self._tmpdirs:
                shutil.rmtree(path, ignore_errors=True)
        self._tmpdirs.clear()
