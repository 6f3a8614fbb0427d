"""Run batches through anything with ``submit`` that returns ``concurrent.futures`` futures.

The shared engine of the ``dask`` and ``mpi`` backends and of a wrapped
``concurrent.futures.Executor``. Items travel in batches (fewer, larger tasks for short
simulations); each batch runs :func:`spinexplore.execution._remote.remote_batch` in a worker,
which by default runs every item in a child process of that worker, killed at the timeout.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import shutil
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

from spinexplore._validation import check_int
from spinexplore.execution import _remote
from spinexplore.execution.base import BatchedMap, ContextManagerMixin, ItemFeed, Outcome, OutcomeStatus

__all__ = ["FuturesExecutor"]


class FuturesExecutor(ContextManagerMixin, BatchedMap):
    """Adapter from a ``concurrent.futures.Executor`` to the :class:`Executor` protocol.

    Parameters
    ----------
    executor : concurrent.futures.Executor
        Used as is; it is not shut down by :meth:`shutdown` (its owner does that).
    n_workers : int or None, default=None
        How many tasks it runs at once; None asks ``executor`` (``num_workers`` of an
        ``MPIPoolExecutor``, ``_max_workers`` of the standard pools) and falls back to the
        number of cores.
    isolate : bool, default=True
        Run each item in a child process of the worker that runs the batch: hard timeout,
        crash isolation and thread pinning. False calls ``fn`` in the worker itself: the
        timeout is not enforced and a crash is whatever ``executor`` makes of it.
    chunksize : int or "auto", default="auto"
        Items per task; ``"auto"`` aims at about 0.2 s of work per task.
    pin_threads, keep_tmpdirs, tmp_root
        As for :class:`~spinexplore.execution.process.ProcessExecutor`.
    """

    batch_seconds = 0.2  # auto batching: about this much work per task (a dask task costs ~6 ms)

    def __init__(
        self,
        executor: cf.Executor,
        *,
        n_workers: int | None = None,
        isolate: bool = True,
        chunksize: int | str = "auto",
        pin_threads: bool = True,
        keep_tmpdirs: bool = False,
        tmp_root: str | None = None,
    ) -> None:
        if executor is not None and not callable(getattr(executor, "submit", None)):  # None: subclass submits
            raise TypeError(f"executor must have a submit method; got {executor!r}")
        if n_workers is None:
            n_workers = getattr(executor, "num_workers", None) or getattr(executor, "_max_workers", None)
            n_workers = n_workers or os.cpu_count() or 1
        self.n_workers = check_int("n_workers", n_workers, minimum=1)
        self.init_batching(chunksize)
        self.executor = executor
        self.isolate = bool(isolate)
        self.options = (bool(pin_threads), bool(keep_tmpdirs), None if tmp_root is None else os.fspath(tmp_root))
        self._tmpdirs: set[str] = set()
        self._warned = False

    # ------------------------------------------------------------------ hooks for subclasses
    def _submit(self, payload: bytes, batch: list[tuple[int, Any]], timeout: float | None) -> cf.Future:
        return self.executor.submit(_remote.remote_batch, payload, batch, timeout, self.isolate, *self.options)

    def _cancel_running(self, futures: list[cf.Future]) -> None:
        for future in futures:
            future.cancel()

    # ------------------------------------------------------------------ mapping
    def map_payload(self, payload: bytes, items: Iterable[Any], timeout: float | None, *,
                    chunksize: int | str | None = None) -> Iterator[Outcome]:
        """:meth:`map_unordered` for a simulation already pickled; outcomes come as tasks finish.

        ``timeout`` is enforced when ``isolate`` (a warning says once that it is not
        otherwise); ``chunksize`` overrides :attr:`chunksize` for this map (None keeps it).
        """
        if timeout is not None and not self.isolate and not self._warned:
            self._warned = True
            warnings.warn(
                f"{type(self).__name__}(isolate=False) cannot stop a running simulation: timeout={timeout} "
                "is not enforced and a crash may take the worker down; use isolate=True",
                RuntimeWarning, stacklevel=3,
            )
        return self._map(payload, ItemFeed(items), timeout, chunksize)

    def _slots(self, feed: ItemFeed) -> int:
        """Tasks kept in flight: two per worker for a known list (hides the round trip);
        one per worker for a lazy feed, so that each item is chosen as late as possible."""
        return self.n_workers if feed.lazy else 2 * self.n_workers

    def _map(self, payload: bytes, feed: ItemFeed, timeout: float | None,
             chunksize: int | str | None) -> Iterator[Outcome]:
        in_flight: dict[cf.Future, list[int]] = {}
        finished = False
        try:
            while not feed.exhausted or in_flight:
                broken = None
                while not feed.exhausted and len(in_flight) < self._slots(feed):
                    batch = feed.take(self.batch_size(feed.n_to_share(self.n_workers), chunksize))
                    if not batch:
                        break
                    try:
                        future = self._submit(payload, [(i, feed[i]) for i in batch], timeout)
                    except (cf.BrokenExecutor, RuntimeError) as exc:  # the pool broke or was shut down
                        feed.requeue(batch)
                        broken = exc
                        break
                    in_flight[future] = batch
                if broken is not None:  # the in-flight tasks of a broken pool all end soon
                    done, _ = cf.wait(list(in_flight), timeout=10.0)
                else:
                    done, _ = cf.wait(list(in_flight), timeout=1.0, return_when=cf.FIRST_COMPLETED)
                outcomes: list[Outcome] = []
                lost: list[tuple[list[int], BaseException]] = []
                for future in done:
                    batch = in_flight.pop(future)
                    try:
                        rows = future.result()
                    except KeyboardInterrupt:
                        raise
                    except BaseException as exc:  # noqa: BLE001 - a lost worker, a broken pool
                        lost.append((batch, exc))
                    else:
                        outcomes.extend(self._to_outcomes(rows, batch))
                if lost or broken is not None:
                    outcomes.extend(self._recover(payload, feed, timeout, lost, in_flight, broken))
                yield from outcomes
            finished = True
        finally:
            if not finished and in_flight:
                self._cancel_running(list(in_flight))

    def _recover(self, payload: bytes, feed: ItemFeed, timeout: float | None,
                 lost: list[tuple[list[int], BaseException]], in_flight: dict[cf.Future, list[int]],
                 broken: BaseException | None) -> list[Outcome]:
        """Outcomes for tasks that came back without results (hook; loky reruns them instead).

        The default fails the items of each lost task, and every queued item when the
        executor refuses new tasks (``broken``); a lazy feed is not pulled any further then.
        """
        out = [Outcome(i, OutcomeStatus.FAILED, None, f"the task was lost: {type(exc).__name__}: {exc}", 0.0, "")
               for batch, exc in lost for i in batch]
        if broken is not None:
            reason = f"the executor refused the task: {type(broken).__name__}: {broken}"
            out += [Outcome(i, OutcomeStatus.FAILED, None, reason, 0.0, "") for i in feed.drop_queued()]
            feed.close()
        return out

    def _to_outcomes(self, rows: list[tuple], batch: list[int]) -> list[Outcome]:
        out = []
        seen = set()
        for index, status, value, error, duration, worker, tmpdir in rows:
            seen.add(index)
            if tmpdir:
                self._tmpdirs.add(tmpdir)
            self.record_duration(duration)
            out.append(Outcome(index, OutcomeStatus(status), value, error, duration, worker))
        for index in batch:  # a batch stopped by cancel_local_tasks
            if index not in seen:
                out.append(Outcome(index, OutcomeStatus.CANCELLED, None, "cancelled", 0.0, ""))
        return out

    def shutdown(self, *, cancel_pending: bool = True) -> None:
        """Forget the wrapped executor's temp dirs (removing those on this machine).

        The wrapped executor itself belongs to the caller and stays open.
        """
        if self.isolate and isinstance(self.executor, cf.ThreadPoolExecutor):
            _remote.shutdown_local_pools()  # its threads started child workers in this process
        if not self.options[1]:
            for path in self._tmpdirs:
                shutil.rmtree(path, ignore_errors=True)
        self._tmpdirs.clear()
