"""The Executor protocol, task outcomes, the backend registry and the sequential executor."""

from __future__ import annotations

import concurrent.futures
import enum
import os
import shutil
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from spinexplore._validation import check_n_jobs, check_real
from spinexplore.execution import _worker

__all__ = [
    "BACKENDS",
    "Executor",
    "ItemFeed",
    "Outcome",
    "OutcomeStatus",
    "SequentialExecutor",
    "get_executor",
    "register_executor",
    "resolve_n_jobs",
]


class OutcomeStatus(str, enum.Enum):
    """How one task ended."""

    OK = "ok"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one item of a :meth:`Executor.map_unordered` call.

    Attributes
    ----------
    index : int
        Position of the item in the ``items`` passed to ``map_unordered``.
    status : OutcomeStatus
        ``ok``, ``failed``, ``timeout`` or ``cancelled``.
    value : Any
        What ``fn(item)`` returned when ``status`` is ``ok``; otherwise None.
    error : str or None
        Why it did not succeed: exception text and a short traceback summary,
        ``"timed out after 2.0 s"`` or ``"worker died (signal SIGSEGV)"``.
    duration : float
        Wall time of the call in seconds (up to the kill for a timeout).
    worker : str
        The worker that ran it, ``"pid<pid>"`` or ``"pid<pid>@<host>"``.
    """

    index: int
    status: OutcomeStatus
    value: Any = None
    error: str | None = None
    duration: float = 0.0
    worker: str = ""

    @property
    def ok(self) -> bool:
        """True when the call returned normally."""
        return self.status is OutcomeStatus.OK


@runtime_checkable
class Executor(Protocol):
    """Runs independent tasks; all the explorer knows about parallelism."""

    n_workers: int

    def map_unordered(
        self, fn: Callable[[Any], Any], items: Iterable[Any], *, timeout: float | None = None
    ) -> Iterator[Outcome]:
        """Yield one :class:`Outcome` per item, in completion order.

        ``items`` is a sequence (all known up front) or any other iterable, which is pulled
        only when a worker is free (see :class:`ItemFeed`): the asynchronous runner hands
        out its next point the moment a worker finishes.
        """
        ...

    def shutdown(self, *, cancel_pending: bool = True) -> None:
        """Stop every worker; calling it twice is harmless."""
        ...


class ItemFeed:
    """The items of one ``map_unordered`` call, handed out by index as workers free up.

    A sequence (list, tuple, ndarray) is known up front. Any other iterable is *lazy*: the
    feed calls ``next()`` on it only when a worker asks for work and no requeued item is
    waiting, so a generator can decide what to run next from the results so far (python's
    ``multiprocessing`` pools, by contrast, drain the iterable eagerly). The generator runs in
    the thread that iterates the map, between two yielded outcomes; it must not block, and
    it ends the map by returning.

    Parameters
    ----------
    items : iterable
        The items; item ``i`` is the ``i``-th one produced.
    """

    def __init__(self, items: Iterable[Any]) -> None:
        if isinstance(items, (Sequence, _np_ndarray())) and not isinstance(items, (str, bytes)):
            self._items: list[Any] = list(items)
            self._source: Iterator[Any] | None = None
        else:
            self._items = []
            self._source = iter(items)
        self._queue: deque[int] = deque(range(len(self._items)))

    @property
    def lazy(self) -> bool:
        """True while more items may come from the iterable."""
        return self._source is not None

    def __getitem__(self, index: int) -> Any:
        return self._items[index]

    def __len__(self) -> int:
        """Items known so far (handed out or queued)."""
        return len(self._items)

    @property
    def n_queued(self) -> int:
        """Items known and not handed out (for batch sizing; lazy items are not counted)."""
        return len(self._queue)

    def n_to_share(self, n_workers: int) -> int:
        """Items to spread over ``n_workers`` when sizing a batch: the queued ones, plus, for a
        lazy iterable whose length is unknown, two per worker."""
        return self.n_queued + (2 * n_workers if self.lazy else 0)

    @property
    def exhausted(self) -> bool:
        """No item queued and none to come."""
        return not self._queue and self._source is None

    def take(self, k: int) -> list[int]:
        """Hand out up to ``k`` item indices; fewer (or none) once the items run out."""
        out: list[int] = []
        while len(out) < k:
            if self._queue:
                out.append(self._queue.popleft())
                continue
            if self._source is None:
                break
            try:
                item = next(self._source)
            except StopIteration:
                self._source = None
                break
            self._items.append(item)
            out.append(len(self._items) - 1)
        return out

    def requeue(self, indices: Iterable[int]) -> None:
        """Put handed-out items back at the front, in order (a worker died with them)."""
        self._queue.extendleft(reversed(list(indices)))

    def close(self) -> None:
        """Pull nothing more from a lazy iterable."""
        self._source = None

    def drop_queued(self) -> list[int]:
        """Forget the queued items (an executor that refuses work); return their indices."""
        out = list(self._queue)
        self._queue.clear()
        return out


def _np_ndarray() -> type:
    import numpy

    return numpy.ndarray


def resolve_n_jobs(n_jobs: int) -> int:
    """Number of workers for joblib-style ``n_jobs`` (-1 = all cores, -2 = all but one...)."""
    n_jobs = check_n_jobs(n_jobs)
    if n_jobs > 0:
        return n_jobs
    return max(1, (os.cpu_count() or 1) + 1 + n_jobs)


def check_timeout(timeout: Any) -> float | None:
    """Validate a per-task timeout: None or a positive number of seconds."""
    return check_real("timeout", timeout, minimum=0.0, strict_min=True, allow_none=True)


def check_fn(fn: Any) -> None:
    if not callable(fn):
        raise TypeError(f"fn must be a callable that takes one item; got {fn!r} ({type(fn).__name__})")


def dump_fn(fn: Any) -> bytes:
    """Check that ``fn`` is callable and pickle it with cloudpickle (notebook functions, lambdas)."""
    import cloudpickle

    check_fn(fn)
    try:
        return cloudpickle.dumps(fn)
    except Exception as exc:
        raise TypeError(f"fn could not be pickled with cloudpickle: {type(exc).__name__}: {exc}") from exc


def running_mean(mean: float | None, value: float) -> float:
    """Exponential moving average of task durations (weight 0.2 on the newest)."""
    return value if mean is None else 0.8 * mean + 0.2 * value


def auto_batch_size(mean_duration: float | None, n_pending: int, n_workers: int, target: float) -> int:
    """Items per message so that one carries about ``target`` seconds of work.

    1 until a duration is known; never more than a share of the pending items that keeps
    every worker busy to the end (``n_pending / (2 * n_workers)``).
    """
    if mean_duration is None:
        return 1
    share = max(1, -(-n_pending // (2 * n_workers)))
    return max(1, min(int(target / max(mean_duration, 1e-6)), share))


def timeout_error(timeout: float) -> str:
    return f"timed out after {float(timeout)} s"


class _ContextMixin:
    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


class _InProcessTimeout(BaseException):
    """Raised by SIGALRM inside an in-process task that ran past its timeout."""


class SequentialExecutor(_ContextMixin):
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
        self._pool = None
        self._tmpdir = None
        if isolate:
            from spinexplore.execution.process import ProcessExecutor

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
                status, value, error, dur = "timeout", None, timeout_error(timeout), timeout
            finally:
                if use_alarm:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                    signal.signal(signal.SIGALRM, old)
                _worker.set_tmpdir(previous_dir)
            yield Outcome(index, OutcomeStatus(status), value, error, dur, label)

    def shutdown(self, *, cancel_pending: bool = True) -> None:
        """Stop the worker process (isolated) or remove the temp dir (in-process)."""
        if self._pool is not None:
            self._pool.shutdown(cancel_pending=cancel_pending)
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None


def _raise_in_process_timeout(signum: int, frame: Any) -> None:
    raise _InProcessTimeout()


# ----------------------------------------------------------------------------- registry

def _sequential(n_jobs: int = 1, **options: Any) -> Executor:
    return SequentialExecutor(**options)


def _process(n_jobs: int = -1, **options: Any) -> Executor:
    from spinexplore.execution.process import ProcessExecutor

    return ProcessExecutor(resolve_n_jobs(n_jobs), **options)


def _loky(n_jobs: int = -1, **options: Any) -> Executor:
    from spinexplore.execution._loky import LokyExecutor

    return LokyExecutor(resolve_n_jobs(n_jobs), **options)


def _dask(n_jobs: int = -1, **options: Any) -> Executor:
    from spinexplore.execution._dask import DaskExecutor

    return DaskExecutor(n_jobs, **options)


def _mpi(n_jobs: int = -1, **options: Any) -> Executor:
    from spinexplore.execution._mpi import MPIExecutor

    return MPIExecutor(n_jobs, **options)


#: Backend name -> factory ``factory(n_jobs, **options) -> Executor``.
BACKENDS: dict[str, Callable[..., Executor]] = {
    "sequential": _sequential,
    "process": _process,
    "loky": _loky,
    "dask": _dask,
    "mpi": _mpi,
}


def register_executor(name: str, factory: Callable[..., Executor]) -> None:
    """Make ``get_executor(n_jobs, backend=name, **options)`` call ``factory(n_jobs, **options)``.

    Parameters
    ----------
    name : str
        Backend name; an existing name is replaced.
    factory : callable
        ``factory(n_jobs, **options)`` returning an object that follows :class:`Executor`.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string; got {name!r}")
    if not callable(factory):
        raise TypeError(f"factory must be callable; got {factory!r} ({type(factory).__name__})")
    BACKENDS[name] = factory


def get_executor(
    n_jobs: int = 1,
    backend: str | concurrent.futures.Executor | Executor | None = None,
    **options: Any,
) -> Executor:
    """Return an executor for ``n_jobs`` workers.

    Parameters
    ----------
    n_jobs : int, default=1
        Number of workers, as in joblib: -1 means all cores, -2 all but one; 0 is an error.
    backend : str, Executor, concurrent.futures.Executor or None, default=None
        A name from :data:`BACKENDS`; an object that already follows :class:`Executor`
        (returned unchanged); or a ``concurrent.futures.Executor`` (a thread or process pool,
        ``Client.get_executor()``, an ``MPIPoolExecutor``), wrapped so that each task runs in
        a child process of its worker with a hard timeout (``isolate=False`` to run as is).
        None means ``"sequential"`` when ``n_jobs == 1`` and ``"process"`` otherwise.
    **options
        Passed to the backend: ``keep_tmpdirs``, ``pin_threads``, ``tmp_root``, ``chunksize``
        (``process``, ``loky``, ``dask``, ``mpi``); ``isolate`` (``sequential``, ``dask``,
        ``mpi``, wrapped executors); ``client`` or ``address`` (``dask``).

    Returns
    -------
    Executor

    Raises
    ------
    ValueError
        For ``n_jobs == 0`` or an unknown backend name (the message lists the known ones).
    TypeError
        For a wrong type of ``n_jobs`` or ``backend``.
    ImportError
        When the backend's optional dependency is missing (the message names the extra).
    """
    check_n_jobs(n_jobs)
    if backend is None:
        backend = "sequential" if n_jobs == 1 else "process"
    if isinstance(backend, str):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {sorted(BACKENDS)}; got {backend!r}")
        return BACKENDS[backend](n_jobs, **options)
    if isinstance(backend, Executor):
        if options:
            raise TypeError(f"options {sorted(options)} cannot be applied to an Executor instance {backend!r}")
        return backend
    if isinstance(backend, concurrent.futures.Executor):
        from spinexplore.execution._futures import FuturesExecutor

        return FuturesExecutor(backend, n_workers=None if n_jobs == 1 else resolve_n_jobs(n_jobs), **options)
    raise TypeError(
        f"backend must be a name from {sorted(BACKENDS)}, an Executor or a concurrent.futures.Executor; "
        f"got {backend!r} ({type(backend).__name__})"
    )
