"""The runner's two helper threads: checkpoint writes and surrogate refits, off the critical path.

Both take snapshots made in the main thread (immutable records, a state dict, copies of the
training arrays) and never touch the learner, so the main thread can hand the next point to a
free worker while a checkpoint is written or a surrogate is fitted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Checkpointer", "FitProcess", "FitProcessStarting", "Refitter", "fit_and_prepare"]


class Checkpointer:
    """Writes ``store.write(records, state)`` every ``every`` results or ``seconds``, in a thread.

    Parameters
    ----------
    store : object with ``write(records, state)``
    snapshot : callable
        ``snapshot() -> (records, state)``: the changed records (taken from the learner) and
        the state to write; called in the main thread.
    restore : callable
        ``restore(records)``: gives records back to the learner when a write failed.
    every : int
        Checkpoint after this many results.
    seconds : float or None
        ... or when this much time passed since the last checkpoint, whichever comes first.
    background : bool
        Write in a thread (the default for parallel runs); False writes in the caller.
    """

    def __init__(self, store: Any, snapshot: Callable[[], tuple[list, dict]], restore: Callable[[list], None],
                 *, every: int, seconds: float | None, background: bool) -> None:
        self.store, self._snapshot, self._restore = store, snapshot, restore
        self.every, self.seconds, self.background = every, seconds, background
        self.n_written = 0
        self.write_time = 0.0
        self._count = 0
        self._last = time.monotonic()
        self._cond = threading.Condition()
        self._job: tuple[list, dict] | None = None
        self._busy = False
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def note(self, n: int = 1) -> bool:
        """Count ``n`` new results; checkpoint when the count or the time says so (return True)."""
        self._count += n
        due = self._count >= self.every or (
            self.seconds is not None and time.monotonic() - self._last >= self.seconds)
        if due:
            self.write()
        return due

    def write(self) -> None:
        """Checkpoint now (queued behind a write in progress when in the background)."""
        self._raise_error()
        records, state = self._snapshot()
        self._count, self._last = 0, time.monotonic()
        if not self.background:
            self._write(records, state)
            return
        with self._cond:
            if self._job is not None:  # merge with a queued, not yet started write
                old_records, _ = self._job
                newer = {r.index for r in records}
                records = [r for r in old_records if r.index not in newer] + records
            self._job = (records, state)
            self._cond.notify_all()
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="spinexplore-checkpoint", daemon=True)
            self._thread.start()

    def flush(self) -> None:
        """Write everything now and wait until it is on disk; raise a write's error here."""
        self.write()
        with self._cond:
            while self._job is not None or self._busy:
                self._cond.wait(0.1)
        self._raise_error()

    def close(self) -> None:
        """Stop the thread (after the queued write)."""
        with self._cond:
            while self._job is not None or self._busy:
                self._cond.wait(0.1)
            thread, self._thread = self._thread, None
            self._cond.notify_all()
        if thread is not None:
            thread.join(timeout=5.0)

    def _write(self, records: list, state: dict) -> None:
        t0 = time.perf_counter()
        try:
            self.store.write(records, state)
        except BaseException:
            self._restore(records)
            raise
        self.n_written += 1
        self.write_time += time.perf_counter() - t0

    def _loop(self) -> None:
        me = threading.current_thread()
        while True:
            with self._cond:
                while self._job is None and self._thread is me:
                    self._cond.wait()
                if self._job is None:
                    return
                (records, state), self._job, self._busy = self._job, None, True
            try:
                self._write(records, state)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
                self._error = exc
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error


class Refitter:
    """Fits a fresh surrogate in a thread whenever enough new labels arrived.

    Parameters
    ----------
    fit_job : callable
        ``fit_job() -> (n_labels, job)`` in the main thread: the number of labelled points
        and a zero-argument callable that fits an unfitted surrogate on a snapshot of them and
        returns what :meth:`poll` should hand back.
    min_new : callable
        ``min_new(n_labels) -> int``: new labels needed before the next refit.
    """

    def __init__(self, fit_job: Callable[[], tuple[int, Callable[[], Any]]],
                 min_new: Callable[[int], int]) -> None:
        self._fit_job, self._min_new = fit_job, min_new
        self._cond = threading.Condition()
        self._started_on = 0
        self._running = False
        self._ready: Any = None
        self._error: BaseException | None = None
        self._closed = False
        self.n_fits = 0
        self.fit_time = 0.0

    def maybe_start(self, n_labels: int) -> bool:
        """Start a refit if none runs and ``n_labels`` grew enough since the last one."""
        if self._running or self._closed or n_labels == 0:
            return False
        if self._started_on and n_labels - self._started_on < self._min_new(self._started_on):
            return False
        n, job = self._fit_job()
        self._started_on, self._running = n, True
        threading.Thread(target=self._run, args=(job,), name="spinexplore-refit", daemon=True).start()
        return True

    def _run(self, job: Callable[[], Any]) -> None:
        t0 = time.perf_counter()
        try:
            result = job()
        except BaseException as exc:  # noqa: BLE001 - reported in the main thread
            result, error = None, exc
        else:
            error = None
        with self._cond:
            self.fit_time += time.perf_counter() - t0
            self.n_fits += 1
            if error is not None:
                self._error = error
            else:
                self._ready = result
            self._running = False
            self._cond.notify_all()

    def poll(self) -> Any:
        """The newest finished fit (once), or None; a fit's error is raised here."""
        with self._cond:
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            ready, self._ready = self._ready, None
            return ready

    def close(self, wait: float = 0.0) -> None:
        """Start no more fits; wait up to ``wait`` seconds for the running one."""
        with self._cond:
            self._closed = True
            if self._running and wait > 0:
                self._cond.wait_for(lambda: not self._running, timeout=wait)


def fit_and_prepare(job: tuple[bytes, Any, Any, Any, int]) -> tuple[Any, int, Any, float, Any]:
    """Fit an unfitted surrogate on a snapshot; evaluate it on the reference points and build
    its proposal context. Runs in the fit process (or, as a fallback, in a thread).

    ``job``: (cloudpickled unfitted surrogate, unit-cube points, labels, weights, n_dims).
    Returns (fitted surrogate, number of labels, reference labels, mean uncertainty, proposal
    context or None).
    """
    import cloudpickle

    from spinexplore.learner._points import reference_metrics
    from spinexplore.strategies import cached_context, prepare

    blob, U, y, w, n_dims = job
    surrogate = cloudpickle.loads(blob)
    surrogate.fit(U, y, sample_weight=w)
    labels, uncertainty = reference_metrics(surrogate, n_dims)
    context = cached_context(surrogate) if prepare(surrogate) else None
    return surrogate, len(y), labels, uncertainty, context


def _import_learning_stack(_: Any) -> bool:
    import importlib

    for name in ("spinexplore.strategies", "spinexplore.surrogates"):  # scikit-learn, scipy load here
        importlib.import_module(name)
    return True


class FitProcessStarting(Exception):
    """The fit process has not said "ready" yet: fit this one surrogate in this process."""


def _process_state(pid: int) -> str | None:
    """The state letter of a process in Linux's ``/proc`` (``"R"``, ``"S"``, ``"T"`` for
    stopped...); None when unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


class FitProcess:
    """One worker process that fits surrogates, so that a fit never holds this process's GIL.

    A fit in a thread of the main process would take the GIL from the thread that hands points
    to the workers: every pipe read or write of that thread then waits for the fit thread to
    let go (Python's "convoy effect", ~5 ms a time), which costs whole seconds per minute on 64
    workers. The fit process is a fresh interpreter of the ``process`` backend (it does not
    import ``__main__``); it starts in the background when the run starts.

    It never holds the run up: until it is ready, :meth:`fit` raises
    :class:`FitProcessStarting` (the caller fits that surrogate itself); when it is stuck
    (stopped by SIGSTOP, not started within :attr:`START_SECONDS`, or a fit running past
    :meth:`fit_limit`) it is killed and :meth:`fit` raises ``RuntimeError`` with why, and
    :attr:`broken` says so from then on (the runner warns and fits in its own process).
    :meth:`close` returns within about a second in every state.
    """

    #: Seconds the fit process may take to start (import scikit-learn) before it is given up.
    START_SECONDS = 120.0
    #: A fit may take this many times the longest one so far, and at least :attr:`MIN_FIT_SECONDS`.
    FIT_FACTOR = 20.0
    MIN_FIT_SECONDS = 600.0
    #: A fit process seen stopped (SIGSTOP) this long is stuck.
    STOPPED_SECONDS = 1.0

    def __init__(self) -> None:
        from spinexplore.execution.process import ProcessExecutor

        self._pool = ProcessExecutor(1, pin_threads=True)
        self._lock = threading.Lock()  # one map of the pool at a time
        self._ready = threading.Event()
        self._t0 = time.monotonic()
        self._longest = 0.0
        self.broken: str | None = None
        self.closed = False
        threading.Thread(target=self._start, name="spinexplore-fit-start", daemon=True).start()

    def _start(self) -> None:
        with self._lock:
            try:
                for outcome in self._pool.map_unordered(_import_learning_stack, [0]):
                    if not outcome.ok and not self.closed:
                        self.broken = f"the fit process failed to start: {outcome.error}"
            except Exception as exc:  # noqa: BLE001 - aborted while starting, out of processes...
                if not self.closed:
                    self.broken = f"the fit process failed to start: {exc}"
            finally:
                self._ready.set()

    def _stopped(self) -> bool:
        """True when the fit process is stopped (SIGSTOP, a debugger) right now."""
        return any(_process_state(pid) in ("T", "t") for pid in self._pool.worker_pids())

    def _give_up(self, why: str) -> None:
        self.broken = why
        self._pool.abort()
        raise RuntimeError(why)

    def fit_limit(self) -> float:
        """Seconds a fit may take before the fit process counts as stuck."""
        return max(self.MIN_FIT_SECONDS, self.FIT_FACTOR * self._longest)

    def fit(self, job: tuple) -> tuple:
        """Run :func:`fit_and_prepare` there.

        Raises
        ------
        FitProcessStarting
            While it is starting (fit this one in the caller's process).
        RuntimeError
            When it failed, or was stuck and has been killed (:attr:`broken` says why).
        """
        if self.broken:
            raise RuntimeError(self.broken)
        if not self._ready.is_set():
            if self._stopped():
                self._give_up("the fit process was stopped (SIGSTOP?) before it was ready; it was killed")
            if time.monotonic() - self._t0 > self.START_SECONDS:
                self._give_up(f"the fit process did not start within {self.START_SECONDS:g} s; it was killed")
            raise FitProcessStarting()
        if self._stopped():
            self._give_up("the fit process was stopped (SIGSTOP?); it was killed")
        done = threading.Event()
        stuck: list[str] = []
        watch = threading.Thread(target=self._watch, args=(done, stuck, self.fit_limit()),
                                 name="spinexplore-fit-watch", daemon=True)
        t0 = time.monotonic()
        with self._lock:
            if self.broken:
                raise RuntimeError(self.broken)
            watch.start()
            try:
                outcomes = list(self._pool.map_unordered(fit_and_prepare, [job]))
            except Exception as exc:  # noqa: BLE001 - aborted by close() or by the watch
                outcomes, error = [], str(exc)
            else:
                error = None
            finally:
                done.set()
        if stuck:
            self.broken = stuck[0]
            raise RuntimeError(stuck[0])
        if not outcomes or not outcomes[0].ok:
            raise RuntimeError((outcomes[0].error if outcomes else error) or "the fit process failed")
        self._longest = max(self._longest, time.monotonic() - t0)
        return outcomes[0].value

    def _watch(self, done: threading.Event, stuck: list[str], limit: float) -> None:
        """While a fit runs: kill the fit process when it is stopped or past ``limit`` seconds."""
        t0 = time.monotonic()
        stopped_since = None
        while not done.wait(0.2):
            now = time.monotonic()
            if self._stopped():
                stopped_since = stopped_since or now
                if now - stopped_since >= self.STOPPED_SECONDS:
                    stuck.append("the fit process was stopped (SIGSTOP?) during a fit; it was killed")
            else:
                stopped_since = None
            if now - t0 > limit:
                stuck.append(f"a fit took longer than {limit:g} s in the fit process; it was killed")
            if stuck:
                self._pool.abort()
                return

    def close(self) -> None:
        """Stop the fit process within about a second, whatever it does (a fit in progress,
        starting, stopped by SIGSTOP): SIGKILL, then reap it if the thread of a fit in
        progress has let go of the pool (it does at once: its worker is dead)."""
        self.closed = True
        self._pool.abort()
        if self._lock.acquire(timeout=1.0):
            try:
                self._pool.shutdown(cancel_pending=True)
            finally:
                self._lock.release()
