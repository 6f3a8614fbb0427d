"""The ``process`` backend: a small pool of worker processes with hard per-task timeouts.

Each worker is a fresh interpreter (``subprocess``, no fork of the parent) in its own session,
talking to the parent over one socket. The parent sends the simulation once per map (pickled
with cloudpickle, so notebook functions and lambdas work) and batches of items; the worker
answers one message per item. A worker that gets a new simulation loads it and calls its
``warmup()`` (if it has one) before its first item, and only then does the timeout of an item
count: a worker's start-up (a fresh interpreter, unpickling the simulation, loading compiled
kernels) is never charged to a point, also not for a replacement worker. At a task's
deadline the parent SIGKILLs that worker's process group and starts a replacement; the other
workers carry on. Workers ignore SIGINT, so Ctrl+C
reaches only the parent, which kills the busy workers and re-raises.

Besides the :class:`~.base.Executor` protocol, :class:`ProcessExecutor` offers the layers
above it (:mod:`~._remote`, :mod:`~._loky`, the runner's fit process) a small internal API:
:meth:`~ProcessExecutor.map_payload` (a map of an already pickled simulation, with an
optional chunk size), :meth:`~ProcessExecutor.tmpdir_of`, :meth:`~ProcessExecutor.kill_busy` and
:meth:`~ProcessExecutor.abort`.
"""

from __future__ import annotations

import itertools
import os
import pickle
import signal
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from multiprocessing.connection import wait
from typing import Any

import cloudpickle

from spinexplore._validation import check_int
from spinexplore.execution._spawn import (
    WorkerHandle,
    death_reason,
    kill,
    settle,
    start_worker,
    stop_all,
    stopped_by_signal,
)
from spinexplore.execution.base import BatchedMap, ContextManagerMixin, ItemFeed, Outcome, OutcomeStatus, timeout_error

__all__ = ["ProcessExecutor"]

_TOKENS = itertools.count(1)
_PREFETCH_BELOW = 0.05  # tasks shorter than this get a second batch queued in the worker
_MAX_START_FAILURES = 3
#: Seconds a worker may take to load a simulation and run its ``warmup()`` when a map has a
#: timeout (not counted in the timeout of any item); past that its items fail.
LOAD_SECONDS = 300.0


def _deadline(w: WorkerHandle, timeout: float) -> float:
    """When the busy worker ``w`` is killed: ``timeout`` after its current item started, or
    :data:`LOAD_SECONDS` after it was sent a simulation it has not finished loading."""
    return w.started + (max(timeout, LOAD_SECONDS) if w.loading else timeout)


class ProcessExecutor(ContextManagerMixin, BatchedMap):
    """Local pool with hard per-task timeouts and crash isolation.

    Parameters
    ----------
    n_workers : int
        Number of worker processes (>= 1).
    chunksize : int or "auto", default="auto"
        Items sent per message. ``"auto"`` starts at 1 and grows so that a message carries
        about 20 ms of work; timeouts and outcomes stay per item either way.
    pin_threads : bool, default=True
        Start workers with numba/BLAS/OpenMP thread counts set to 1.
    keep_tmpdirs : bool, default=False
        Keep each worker's temp dir after it stops (for debugging).
    tmp_root : str or None, default=None
        Where the worker temp dirs go (default: the system temp dir).

    Notes
    -----
    Workers are started on first use and reused across ``map_unordered`` calls; a worker is
    replaced only when it is killed at a timeout or dies. Start-up costs about 0.1-0.2 s.
    """

    batch_seconds = 0.02  # auto batching aims at this much work per message

    def __init__(
        self,
        n_workers: int,
        *,
        chunksize: int | str = "auto",
        pin_threads: bool = True,
        keep_tmpdirs: bool = False,
        tmp_root: str | None = None,
    ) -> None:
        self.n_workers = check_int("n_workers", n_workers, minimum=1)
        self.init_batching(chunksize)
        self.pin_threads = bool(pin_threads)
        self.keep_tmpdirs = bool(keep_tmpdirs)
        self.tmp_root = None if tmp_root is None else os.fspath(tmp_root)
        self._workers: list[WorkerHandle] = []
        self._tmpdirs: dict[str, str] = {}  # label -> tmpdir, for tmpdir_of
        self._last_payload, self._last_token = b"", 0
        self._abort_lock = threading.Lock()
        self._aborted = False
        self._finalizer = weakref.finalize(self, stop_all, self._workers, self.keep_tmpdirs, 0.0)

    # ------------------------------------------------------------------ workers
    def _start_worker(self) -> WorkerHandle:
        with self._abort_lock:  # a worker is either seen by abort() or never started
            if self._aborted:
                raise RuntimeError("process backend: this pool was aborted; it starts no worker")
            worker = None
            try:
                worker = start_worker(self.pin_threads, self.keep_tmpdirs, self.tmp_root)
                self._workers.append(worker)
            except BaseException:  # Ctrl+C/SIGTERM right after the start: leave no worker
                if worker is not None and worker not in self._workers:
                    kill(worker, self.keep_tmpdirs)
                raise
        return worker

    def abort(self) -> int:
        """SIGKILL every worker now, busy or not, started or starting; start no more. Returns
        how many were signalled.

        Safe from another thread than the one iterating a map (signals only): that map ends at
        once, its unfinished items CANCELLED. :meth:`shutdown` then reaps the workers. For the
        owner of a pool that must stop within a second whatever its workers do (the runner's
        fit process, even SIGSTOPped or still starting).
        """
        with self._abort_lock:
            self._aborted = True
            pids = [w.pid for w in list(self._workers)]
        for pid in pids:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        return len(pids)

    def _ensure_workers(self) -> None:
        while len(self._workers) < self.n_workers:
            self._start_worker()

    # ------------------------------------------------------------------ internal API
    def tmpdir_of(self, label: str) -> str | None:
        """The temp dir of the worker that :attr:`Outcome.worker` names (``"pid<pid>"``).

        Known once the worker has started; None for an unknown label. Used by
        :func:`~spinexplore.execution._remote.remote_batch` to report where items ran.
        """
        return self._tmpdirs.get(label)

    def kill_busy(self) -> int:
        """SIGKILL every busy worker without waiting; return how many were killed.

        Safe to call from another thread than the one iterating a map (signals only, no pipe
        is touched): that map sees its workers die, reports their items as failed and starts
        replacements. Used to stop remote batches (:func:`~._remote.cancel_local_tasks`) and
        the runner's fit process at the end of a run.
        """
        busy = [w for w in list(self._workers) if w.batch]
        for w in busy:
            try:
                os.killpg(w.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        return len(busy)

    # ------------------------------------------------------------------ mapping
    def map_payload(self, payload: bytes, items: Iterable[Any], timeout: float | None, *,
                    chunksize: int | str | None = None) -> Iterator[Outcome]:
        """:meth:`map_unordered` for a simulation already pickled with cloudpickle.

        Nothing is checked: ``payload`` comes from :func:`~.base.dump_fn` and ``timeout`` from
        :func:`~.base.check_timeout`. A new ``payload`` is sent to each worker once; the same
        bytes again reuse the workers' copy. At ``timeout`` an item's worker is killed and
        replaced; a worker that dies fails its current item and its other items are requeued.

        Parameters
        ----------
        payload : bytes
            The pickled simulation.
        items : iterable
            As for :meth:`map_unordered`.
        timeout : float or None
            Seconds one item may run.
        chunksize : int, "auto" or None, default=None
            Items per message for this map only; None uses :attr:`chunksize` (``1`` reruns
            items one by one, as the ``loky`` backend does after a crash).

        Yields
        ------
        Outcome
            One per item, in completion order.
        """
        if payload != self._last_payload:  # the same simulation again: workers keep their copy
            self._last_payload, self._last_token = payload, next(_TOKENS)
        token = self._last_token
        feed = ItemFeed(items)
        finished = False
        try:
            yield from self._run(payload, token, feed, timeout, chunksize)
            finished = True
        finally:
            if not finished:  # Ctrl+C, an error, or the consumer stopped early
                for w in [w for w in self._workers if w.batch]:
                    self._workers.remove(w)
                    kill(w, self.keep_tmpdirs)

    def _run(self, payload: bytes, token: int, feed: ItemFeed, timeout: float | None,
             chunksize: int | str | None) -> Iterator[Outcome]:
        self._ensure_workers()
        start_failures = 0
        encoded: dict[int, bytes] = {}
        while not feed.exhausted or any(w.batch for w in self._workers):
            outcomes: list[Outcome] = []
            for w in self._workers:
                size = self.batch_size(feed.n_to_share(self.n_workers), chunksize)
                if w.ready and not feed.exhausted and self._wants_work(w, size):
                    batch = self._encode(feed, feed.take(size), encoded, outcomes)
                    if batch:
                        self._dispatch(w, payload, token, encoded, batch)
            if outcomes:  # items that could not be pickled
                yield from outcomes
                continue
            if feed.exhausted and not any(w.batch for w in self._workers):
                break  # a lazy feed just ran out with nothing in flight: do not wait for nothing
            now = time.monotonic()
            wait_for = 1.0
            if timeout is not None:
                deadlines = [_deadline(w, timeout) for w in self._workers if w.batch]
                if deadlines:
                    wait_for = min(wait_for, max(0.0, min(deadlines) - now))
            wait([w.conn for w in self._workers], wait_for)
            if self._aborted:
                yield from self._end_aborted(feed)
                return
            for w in list(self._workers):
                alive = self._drain(w, outcomes)
                if alive and timeout is not None and w.batch and time.monotonic() > _deadline(w, timeout):
                    if w.loading:  # a warm-up that hangs: the simulation's fault, not the item's
                        outcomes.append(self._replace(
                            w, feed, OutcomeStatus.FAILED,
                            f"the worker did not load the simulation within {LOAD_SECONDS:g} s "
                            "(unpickling it and its warmup())", time.monotonic() - w.started))
                    else:
                        outcomes.append(self._replace(w, feed, OutcomeStatus.TIMEOUT, timeout_error(timeout),
                                                      time.monotonic() - w.started))
                elif not alive:
                    settle(w)
                    if not w.ready:
                        start_failures += 1
                        if start_failures >= _MAX_START_FAILURES:
                            code = kill(w, self.keep_tmpdirs)
                            self._workers.remove(w)
                            raise RuntimeError(
                                f"process backend: a worker failed to start {start_failures} times "
                                f"(last exit code {code}); see its error output above"
                            )
                    outcome = self._replace(w, feed, OutcomeStatus.FAILED, None, None)
                    if outcome is not None:
                        outcomes.append(outcome)
            for o in outcomes:
                encoded.pop(o.index, None)
            yield from outcomes

    def _end_aborted(self, feed: ItemFeed) -> list[Outcome]:
        """After :meth:`abort`: reap the workers, CANCEL every item they held and every queued one."""
        out = []
        for w in list(self._workers):
            self._workers.remove(w)
            kill(w, self.keep_tmpdirs)
            out += [Outcome(i, OutcomeStatus.CANCELLED, None, "the pool was aborted", 0.0, w.label) for i in w.batch]
        feed.close()
        out += [Outcome(i, OutcomeStatus.CANCELLED, None, "the pool was aborted", 0.0, "") for i in feed.drop_queued()]
        return out

    @staticmethod
    def _encode(feed: ItemFeed, indices: list[int], encoded: dict[int, bytes], failed: list[Outcome]) -> list[int]:
        """Pickle the items about to be sent (once: a requeued item keeps its bytes)."""
        batch = []
        for i in indices:
            if i not in encoded:
                try:
                    encoded[i] = cloudpickle.dumps(feed[i])
                except Exception as exc:
                    failed.append(Outcome(i, OutcomeStatus.FAILED, None,
                                          f"the item could not be pickled: {type(exc).__name__}: {exc}", 0.0, "parent"))
                    continue
            batch.append(i)
        return batch

    def _wants_work(self, w: WorkerHandle, size: int) -> bool:
        """Idle, or (for short tasks) down to its last batch: a queued batch hides the round trip."""
        if not w.batch:
            return True
        short = self.mean_duration is not None and self.mean_duration < _PREFETCH_BELOW
        return short and len(w.batch) <= size

    def _dispatch(self, w: WorkerHandle, payload: bytes, token: int, encoded: dict[int, bytes], batch: list[int]) -> None:
        if not w.batch:
            w.started = time.monotonic()
        try:
            if w.fn_token != token:  # the worker loads it and warms it up, then says "loaded"
                w.loading, w.started = True, time.monotonic()
                w.conn.send_bytes(pickle.dumps(("fn", token, payload)))
                w.fn_token = token
            w.conn.send_bytes(pickle.dumps(("run", token, [(i, encoded[i]) for i in batch])))
        except OSError:
            pass  # the worker is dead; the next drain notices it and requeues the batch
        w.batch.extend(batch)

    def _drain(self, w: WorkerHandle, outcomes: list[Outcome]) -> bool:
        """Read every message ``w`` has sent; return False if the worker has died."""
        try:
            while w.conn.poll():
                msg = pickle.loads(w.conn.recv_bytes())
                if msg[0] == "ready":
                    w.tmpdir = msg[2]
                    self._tmpdirs[w.label] = msg[2]
                    continue
                if msg[0] == "loaded":  # the first item's timeout counts from here
                    w.loading, w.started = False, msg[2]
                    continue
                _, index, status, value_payload, error, duration, t_end = msg
                if w.batch and w.batch[0] == index:
                    w.batch.popleft()
                w.started = t_end  # the next item of the batch started when this one ended
                status, value = OutcomeStatus(status), None
                if status is OutcomeStatus.OK:
                    try:
                        value = pickle.loads(value_payload)
                    except Exception as exc:
                        status = OutcomeStatus.FAILED
                        error = f"the simulation's return value could not be unpickled: {type(exc).__name__}: {exc}"
                self.record_duration(duration)
                outcomes.append(Outcome(index, status, value, error, duration, w.label))
        except (EOFError, OSError):
            return False
        return w.popen.poll() is None

    def _replace(self, w: WorkerHandle, feed: ItemFeed, status: OutcomeStatus, error: str | None,
                 duration: float | None) -> Outcome | None:
        """Kill ``w``, start a replacement, requeue its unfinished items; outcome for the current one."""
        self._workers.remove(w)
        code = kill(w, self.keep_tmpdirs)
        self._start_worker()
        if not w.batch:
            return None
        index = w.batch.popleft()
        feed.requeue(w.batch)
        if error is None:
            error = death_reason(code)
            if status is OutcomeStatus.FAILED and stopped_by_signal(code):
                # a batch scheduler signals the whole job: the point did nothing wrong
                status = OutcomeStatus.CANCELLED
        if duration is None:
            duration = max(0.0, time.monotonic() - w.started)
        return Outcome(index, status, None, error, duration, w.label)

    def worker_pids(self) -> list[int]:
        """Process ids of the current workers (for tests and monitoring)."""
        return [w.pid for w in self._workers]

    def shutdown(self, *, cancel_pending: bool = True) -> None:
        """Stop every worker and remove their temp dirs (unless ``keep_tmpdirs``).

        Parameters
        ----------
        cancel_pending : bool, default=True
            True kills the workers at once; False asks idle workers to exit and waits up to
            5 s for them first. Either way no worker process is left.
        """
        stop_all(self._workers, self.keep_tmpdirs, 0.0 if cancel_pending else 5.0)
        self._tmpdirs.clear()
