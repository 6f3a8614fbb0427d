"""The ``sequential`` backend: one task after another, in a worker process or in this one."""

from __future__ import annotations

import os
import shutil
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from spinexplore.execution import _worker
from spinexplore.execution.base import (
    ContextManagerMixin,
    Outcome,
    OutcomeStatus,
    check_fn,
    check_timeout,
    timeout_error,
)
from spinexplore.execution.process import ProcessExecutor

__all__ = ["SequentialExecutor"]


class _InProcessTimeout(_worker.ExecutorSignal):
    """Raised by SIGALRM inside an in-process task that ran past its timeout."""


class SequentialExecutor(ContextManagerMixin):
    """Runs tasks one after another.

    By default each task runs in one worker process of the ``process`` backend, so that a
    timeout stops it even inside compiled code and a crash (``os._exit``, segfault) fails only
    that task. ``isolate=False`` runs tasks in this process instead, for debugging (``pdb``,
    shared state): then a timeout is enforced with ``SIGALRM`` only for Python code in the main
    thread, and a crash of a task ends the whole run.

    Parameters
    ----------
    isolate : bool, default=True
        Run tasks in a separate worker process.
    **options
        Passed to :class:`~spinexplore.execution.process.ProcessExecutor` when isolated
        (``keep_tmpdirs``, ``pin_threads``, ``tmp_root``).
    """

    n_workers = 1

    def __init__(self, *, isolate: bool = True, **options: Any) -> None:
        self.isolate = isolate
        self.options = options
        self._pool: ProcessExecutor | None = None
        self._tmpdir = None
        if isolate:
            self._pool = ProcessExecutor(1, **options)
        elif options:
            raise TypeError(f"SequentialExecutor(isolate=False) takes no other options; got {sorted(options)}")

    def map_unordered(
        self, fn: Callable[[Any], Any], items: Iterable[Any], *, timeout: float | None = None
    ) -> Iterator[Outcome]:
        """Yield one :class:`Outcome` per item, in order (a lazy iterable is pulled one by one)."""
        if self._pool is not None:
            return self._pool.map_unordered(fn, items, timeout=timeout)
        check_fn(fn)
        return self._run_here(fn, items, check_timeout(timeout))

    def _run_here(self, fn: Callable[[Any], Any], items: Iterable[Any], timeout: float | None) -> Iterator[Outcome]:
        if self._tmpdir is None:
            self._tmpdir = _worker.make_tmpdir()
        use_alarm = timeout is not None and threading.current_thread() is threading.main_thread()
        label = f"pid{os.getpid()}"
        for index, item in enumerate(items):
            previous_dir = _worker.set_tmpdir(self._tmpdir)
            if use_alarm:
                old = signal.signal(signal.SIGALRM, _raise_in_process_timeout)
                signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                status, value, error, dur = _worker.run_item(fn, item)
            except _InProcessTimeout:
                status, value, error, dur = OutcomeStatus.TIMEOUT, None, timeout_error(timeout), timeout
            finally:
                if use_alarm:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                    signal.signal(signal.SIGALRM, old)
                _worker.set_tmpdir(previous_dir)
            yield Outcome(index, status, value, error, dur, label)

    def shutdown(self, *, cancel_pending: bool = True) -> None:
        """Stop the worker process (isolated) or remove the temp dir (in-process)."""
        if self._pool is not None:
            self._pool.shutdown(cancel_pending=cancel_pending)
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None


def _raise_in_process_timeout(signum: int, frame: Any) -> None:
    raise _InProcessTimeout()
