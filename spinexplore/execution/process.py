"""The ``process`` backend: a small pool of worker processes with hard per-task timeouts.

Each worker is a fresh interpreter (``subprocess``, no fork of the parent) in its own session,
talking to the parent over one socket. The parent sends the simulation once per map (pickled
with cloudpickle, so notebook functions and lambdas work) and batches of items; the worker
answers one message per item. At a task's deadline the parent SIGKILLs that worker's process
group and starts a replacement; the other workers carry on. Workers ignore SIGINT, so Ctrl+C
reaches only the parent, which kills the busy workers and re-raises.
"""

from __future__ import annotations

import itertools
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection, wait
from typing import Any

import cloudpickle

from spinexplore._validation import check_int
from spinexplore.execution import _worker
from spinexplore.execution.base import (
    ItemFeed,
    Outcome,
    OutcomeStatus,
    _ContextMixin,
    auto_batch_size,
    dump_fn,
    running_mean,
    check_timeout,
    timeout_error,
)

__all__ = ["ProcessExecutor"]

_TOKENS = itertools.count(1)
_BOOT = "import sys; from spinexplore.execution._worker import main; main(sys.argv[1:])"
_BATCH_SECONDS = 0.02  # auto batching aims at this much work per message
_PREFETCH_BELOW = 0.05  # tasks shorter than this get a second batch queued in the worker
_MAX_START_FAILURES = 3


class _Spawner:
    """Starts worker processes from one long-lived thread.

    Linux's parent-death signal fires when the *thread* that forked a child ends; starting
    every worker from the main thread or from this daemon thread ties the workers' lives to
    the parent process rather than to a short-lived thread (dask runs tasks in such threads).
    """

    _lock = threading.Lock()
    _queue = None

    @classmethod
    def popen(cls, *args: Any, **kwargs: Any) -> subprocess.Popen:
        if threading.current_thread() is threading.main_thread():
            return subprocess.Popen(*args, **kwargs)
        import queue

        with cls._lock:
            if cls._queue is None:
                cls._queue = queue.SimpleQueue()
                threading.Thread(target=cls._loop, name="spinexplore-spawner", daemon=True).start()
        reply: queue.SimpleQueue = queue.SimpleQueue()
        cls._queue.put((args, kwargs, reply))
        ok, result = reply.get()
        if not ok:
            raise result
        return result

    @classmethod
    def _loop(cls) -> None:
        while True:
            args, kwargs, reply = cls._queue.get()
            try:
                reply.put((True, subprocess.Popen(*args, **kwargs)))
            except BaseException as exc:  # pragma: no cover - e.g. out of file descriptors
                reply.put((False, exc))


class _Worker:
    __slots__ = ("popen", "conn", "pid", "tmpdir", "fn_token", "batch", "started", "label")

    def __init__(self, popen: subprocess.Popen, conn: Connection) -> None:
        self.popen, self.conn = popen, conn
        self.pid = popen.pid
        self.tmpdir: str | None = None  # set by the worker's "ready" message
        self.fn_token = 0
        self.batch: deque[int] = deque()
        self.started = 0.0
        self.label = f"pid{popen.pid}"

    @property
    def ready(self) -> bool:
        return self.tmpdir is not None


def _kill(worker: _Worker, keep_tmpdirs: bool) -> int:
    """SIGKILL the worker's process group, reap it, remove its temp dir; return its exit code."""
    try:
        os.killpg(worker.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    code = worker.popen.wait()
    worker.conn.close()
    if worker.tmpdir and not keep_tmpdirs:
        shutil.rmtree(worker.tmpdir, ignore_errors=True)
    return code


def _stop_all(workers: list[_Worker], keep_tmpdirs: bool, grace: float) -> None:
    for w in workers:
        if not w.batch:
            try:
                w.conn.send_bytes(pickle.dumps(("stop",)))
            except OSError:
                pass
    deadline = time.monotonic() + grace
    for w in workers:
        if not w.batch:
            try:
                w.popen.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        _kill(w, keep_tmpdirs)
    workers.clear()


def _death_reason(code: int) -> str:
    if code < 0:
        try:
            return f"worker died (signal {signal.Signals(-code).name})"
        except ValueError:
            return f"worker died (signal {-code})"
    return f"worker died (exit code {code})"


class ProcessExecutor(_ContextMixin):
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
        if chunksize != "auto":
            check_int("chunksize", chunksize, minimum=1)
        self.chunksize = chunksize
        self.pin_threads = bool(pin_threads)
        self.keep_tmpdirs = bool(keep_tmpdirs)
        self.tmp_root = None if tmp_root is None else os.fspath(tmp_root)
        self._workers: list[_Worker] = []
        self._tmpdirs: dict[str, str] = {}  # label -> tmpdir, for remote_batch
        self._mean_duration: float | None = None
        self._last_payload, self._last_token = b"", 0
        self._finalizer = weakref.finalize(self, _stop_all, self._workers, self.keep_tmpdirs, 0.0)

    # ------------------------------------------------------------------ workers
    def _start_worker(self) -> _Worker:
        parent_sock, child_sock = socket.socketpair()
        env = _worker.pinned_env() if self.pin_threads else dict(os.environ)
        paths = [p for p in sys.path if p]
        env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        fd = child_sock.fileno()
        args = [sys.executable, "-c", _BOOT, str(fd), str(os.getpid()),
                "1" if self.keep_tmpdirs else "0", self.tmp_root or ""]
        try:
            popen = _Spawner.popen(args, pass_fds=(fd,), env=env, start_new_session=True, stdin=subprocess.DEVNULL)
        finally:
            child_sock.close()
        conn = Connection(parent_sock.detach())
        worker = _Worker(popen, conn)
        self._workers.append(worker)
        return worker

    def _ensure_workers(self) -> None:
        while len(self._workers) < self.n_workers:
            self._start_worker()

    def _tmpdir_of(self, label: str) -> str | None:
        return self._tmpdirs.get(label)

    def _kill_busy_nowait(self) -> int:
        """Kill busy workers from another thread; the map that owns them sees them die."""
        busy = [w for w in list(self._workers) if w.batch]
        for w in busy:
            try:
                os.killpg(w.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        return len(busy)

    # ------------------------------------------------------------------ mapping
    def map_unordered(
        self, fn: Callable[[Any], Any], items: Iterable[Any], *, timeout: float | None = None
    ) -> Iterator[Outcome]:
        """Run ``fn`` on every item; yield one :class:`Outcome` per item as each finishes.

        Parameters
        ----------
        fn : callable
            Called as ``fn(item)`` in a worker; sent with cloudpickle.
        items : iterable
            The items (each pickled with cloudpickle); an iterable that is not a sequence is
            pulled lazily, only when a worker is free (:class:`~.base.ItemFeed`).
        timeout : float or None, default=None
            Seconds one item may run; then its worker is killed and replaced, and the item
            becomes ``timeout``.

        Raises
        ------
        TypeError
            If ``fn`` is not callable or cannot be pickled.
        KeyboardInterrupt
            Re-raised after the busy workers were killed.
        """
        payload = dump_fn(fn)
        timeout = check_timeout(timeout)
        return self._map_payload(payload, items, timeout)

    def _map_payload(self, payload: bytes, items: Iterable[Any], timeout: float | None) -> Iterator[Outcome]:
        if payload != self._last_payload:  # the same simulation again: workers keep their copy
            self._last_payload, self._last_token = payload, next(_TOKENS)
        token = self._last_token
        feed = ItemFeed(items)
        finished = False
        try:
            yield from self._run(payload, token, feed, timeout)
            finished = True
        finally:
            if not finished:  # Ctrl+C, an error, or the consumer stopped early
                for w in [w for w in self._workers if w.batch]:
                    self._workers.remove(w)
                    _kill(w, self.keep_tmpdirs)

    def _run(self, payload: bytes, token: int, feed: ItemFeed, timeout: float | None) -> Iterator[Outcome]:
        self._ensure_workers()
        start_failures = 0
        encoded: dict[int, bytes] = {}
        while not feed.exhausted or any(w.batch for w in self._workers):
            outcomes: list[Outcome] = []
            for w in self._workers:
                size = self._batch_size(feed.n_to_share(self.n_workers))
                if w.ready and not feed.exhausted and self._wants_work(w, size):
                    batch = self._encode(feed, feed.take(size), encoded, outcomes)
                    if batch:
                        self._dispatch(w, payload, token, encoded, batch)
            if outcomes:  # items that could not be pickled
                yield from outcomes
                continue
            now = time.monotonic()
            wait_for = 1.0
            if timeout is not None:
                deadlines = [w.started + timeout for w in self._workers if w.batch]
                if deadlines:
                    wait_for = min(wait_for, max(0.0, min(deadlines) - now))
            wait([w.conn for w in self._workers], wait_for)
            for w in list(self._workers):
                alive = self._drain(w, outcomes)
                if alive and timeout is not None and w.batch and time.monotonic() > w.started + timeout:
                    outcomes.append(self._replace(w, feed, OutcomeStatus.TIMEOUT, timeout_error(timeout),
                                                  time.monotonic() - w.started))
                elif not alive:
                    if not w.ready:
                        start_failures += 1
                        if start_failures >= _MAX_START_FAILURES:
                            code = _kill(w, self.keep_tmpdirs)
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

    def _batch_size(self, n_pending: int) -> int:
        if self.chunksize == "auto":
            return auto_batch_size(self._mean_duration, n_pending, self.n_workers, _BATCH_SECONDS)
        return int(self.chunksize)

    def _wants_work(self, w: _Worker, size: int) -> bool:
        """Idle, or (for short tasks) down to its last batch: a queued batch hides the round trip."""
        if not w.batch:
            return True
        short = self._mean_duration is not None and self._mean_duration < _PREFETCH_BELOW
        return short and len(w.batch) <= size

    def _dispatch(self, w: _Worker, payload: bytes, token: int, encoded: dict[int, bytes], batch: list[int]) -> None:
        try:
            if w.fn_token != token:
                w.conn.send_bytes(pickle.dumps(("fn", token, payload)))
                w.fn_token = token
            w.conn.send_bytes(pickle.dumps(("run", token, [(i, encoded[i]) for i in batch])))
        except OSError:
            pass  # the worker is dead; the next drain notices it and requeues the batch
        if not w.batch:
            w.started = time.monotonic()
        w.batch.extend(batch)

    def _drain(self, w: _Worker, outcomes: list[Outcome]) -> bool:
        """Read every message ``w`` has sent; return False if the worker has died."""
        try:
            while w.conn.poll():
                msg = pickle.loads(w.conn.recv_bytes())
                if msg[0] == "ready":
                    w.tmpdir = msg[2]
                    self._tmpdirs[w.label] = msg[2]
                    continue
                _, index, status, value_payload, error, duration, t_end = msg
                if w.batch and w.batch[0] == index:
                    w.batch.popleft()
                w.started = t_end  # the next item of the batch started when this one ended
                value = None
                if status == "ok":
                    try:
                        value = pickle.loads(value_payload)
                    except Exception as exc:
                        status = "failed"
                        error = f"the simulation's return value could not be unpickled: {type(exc).__name__}: {exc}"
                self._mean_duration = running_mean(self._mean_duration, duration)
                outcomes.append(Outcome(index, OutcomeStatus(status), value, error, duration, w.label))
        except (EOFError, OSError):
            return False
        return w.popen.poll() is None

    def _replace(self, w: _Worker, feed: ItemFeed, status: OutcomeStatus, error: str | None,
                 duration: float | None) -> Outcome | None:
        """Kill ``w``, start a replacement, requeue its unfinished items; outcome for the current one."""
        self._workers.remove(w)
        code = _kill(w, self.keep_tmpdirs)
        self._start_worker()
        if not w.batch:
            return None
        index = w.batch.popleft()
        feed.requeue(w.batch)
        if error is None:
            error = _death_reason(code)
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
        _stop_all(self._workers, self.keep_tmpdirs, 0.0 if cancel_pending else 5.0)
        self._tmpdirs.clear()
