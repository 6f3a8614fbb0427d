"""The floor of the execution layer: the Executor protocol, task outcomes and small helpers.

Everything else in :mod:`spinexplore.execution` imports from here and nothing here imports
from the rest of the package beyond :mod:`spinexplore._validation`, so worker processes and
every backend can use it. The layers, bottom to top: ``base`` (this module), ``_worker`` (code
that runs in worker processes), ``process`` (the local pool), ``sequential``, ``_remote`` (the
batch runner of remote workers), ``_futures`` and the backends built on it (``_loky``,
``_dask``, ``_mpi``), and ``registry`` (``BACKENDS``, ``get_executor``) on top.
"""

from __future__ import annotations

import enum
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from spinexplore._constraints import N_JOBS
from spinexplore._validation import check_int, check_real

__all__ = [
    "BatchedMap",
    "ContextManagerMixin",
    "Executor",
    "ItemFeed",
    "Outcome",
    "OutcomeStatus",
    "auto_batch_size",
    "check_fn",
    "check_timeout",
    "dump_fn",
    "resolve_n_jobs",
    "running_mean",
    "timeout_error",
]


class OutcomeStatus(str, enum.Enum):
    """How one task ended.

    The one definition of the status names: worker processes send ``status.value`` (a plain
    string) over their pipes and the parent turns it back with ``OutcomeStatus(value)``.
    ``CANCELLED`` is what :class:`~spinexplore.execution._futures.FuturesExecutor` reports for
    the items of a batch stopped before they ran, and what the ``process`` backend reports for
    an item whose worker was stopped by SIGTERM, SIGINT or SIGHUP (a batch scheduler signals
    the whole job): the item did nothing wrong, and the runner leaves it to be rerun.
    """

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
    return workers_for(N_JOBS.check("n_jobs", n_jobs))


def workers_for(n_jobs: int) -> int:
    """:func:`resolve_n_jobs` of an ``n_jobs`` already checked (at the edge: the run's settings)."""
    if n_jobs > 0:
        return n_jobs
    return max(1, (os.cpu_count() or 1) + 1 + n_jobs)


def check_timeout(timeout: Any) -> float | None:
    """Validate a per-task timeout: None or a positive number of seconds."""
    return check_real("timeout", timeout, minimum=0.0, strict_min=True, allow_none=True)


def check_fn(fn: Any) -> None:
    """Raise ``TypeError`` unless ``fn`` is callable."""
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
    """The error text of an item stopped at its timeout: ``"timed out after 2.0 s"``."""
    return f"timed out after {float(timeout)} s"


class ContextManagerMixin:
    """``with executor:`` calls ``executor.shutdown()`` on the way out."""

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


class BatchedMap:
    """What the ``process`` backend and the ``concurrent.futures`` adapter share.

    Both pickle the simulation once per map and hand items out in batches (one message to a
    worker, one submitted task) sized from the durations measured so far.
    :class:`~spinexplore.execution.process.ProcessExecutor` and
    :class:`~spinexplore.execution._futures.FuturesExecutor` set :attr:`batch_seconds`, call
    :meth:`init_batching` in their constructor, :meth:`record_duration` for every finished item
    and :meth:`batch_size` before they hand out a batch, and implement :meth:`map_payload`;
    this class supplies :meth:`map_unordered`. They must have an ``n_workers`` attribute.

    Attributes
    ----------
    chunksize : int or "auto"
        Items per batch, or ``"auto"``.
    mean_duration : float or None
        Running mean of the items' durations in seconds (:func:`running_mean`); None until
        the first item has finished.
    """

    #: Seconds of work one batch should carry when ``chunksize="auto"``.
    batch_seconds: float = 0.02
    n_workers: int

    def init_batching(self, chunksize: int | str) -> None:
        """Check and store ``chunksize`` (a positive int or ``"auto"``); forget past durations."""
        if chunksize != "auto":
            check_int("chunksize", chunksize, minimum=1)
        self.chunksize = chunksize
        self.mean_duration: float | None = None

    def record_duration(self, duration: float) -> None:
        """Fold the duration of one finished item into :attr:`mean_duration`."""
        self.mean_duration = running_mean(self.mean_duration, duration)

    def batch_size(self, n_pending: int, chunksize: int | str | None = None) -> int:
        """Items to put in the next batch, ``n_pending`` being those left to share out.

        ``chunksize`` overrides :attr:`chunksize` for this call (``1`` reruns items one by
        one); ``"auto"`` sizes the batch with :func:`auto_batch_size`.
        """
        chunksize = self.chunksize if chunksize is None else chunksize
        if chunksize == "auto":
            return auto_batch_size(self.mean_duration, n_pending, self.n_workers, self.batch_seconds)
        return int(chunksize)

    def map_unordered(
        self, fn: Callable[[Any], Any], items: Iterable[Any], *, timeout: float | None = None
    ) -> Iterator[Outcome]:
        """Run ``fn`` on every item; yield one :class:`Outcome` per item as each finishes.

        Parameters
        ----------
        fn : callable
            Called as ``fn(item)`` in a worker; sent with cloudpickle (notebook functions and
            lambdas work).
        items : iterable
            The items (pickled too); an iterable that is not a sequence is pulled lazily, only
            when a worker is free (:class:`ItemFeed`).
        timeout : float or None, default=None
            Seconds one item may run; then the item becomes ``timeout`` (see the class for
            how each backend stops it).

        Raises
        ------
        TypeError
            If ``fn`` is not callable or cannot be pickled, or ``timeout`` is not a number
            (before any work).
        ValueError
            If ``timeout`` is not positive (before any work).
        KeyboardInterrupt
            Re-raised after the work in flight was stopped (workers killed, tasks cancelled).
        """
        return self.map_payload(dump_fn(fn), items, check_timeout(timeout))

    def map_payload(self, payload: bytes, items: Iterable[Any], timeout: float | None, *,
                    chunksize: int | str | None = None) -> Iterator[Outcome]:
        """:meth:`map_unordered` for a simulation already pickled (:func:`dump_fn`).

        Nothing is checked: ``timeout`` comes from :func:`check_timeout`. ``chunksize``
        overrides :attr:`chunksize` for this map only (None keeps it).
        """
        raise NotImplementedError
