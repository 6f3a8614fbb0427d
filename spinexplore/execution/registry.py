"""The top of the execution layer: backends by name (``BACKENDS``) and :func:`get_executor`.

As in :mod:`concurrent.futures`, the registry knows every backend and no backend knows the
registry. The backends with optional dependencies (``loky``, ``dask``, ``mpi``) and the
adapter for a ``concurrent.futures.Executor`` are imported only when asked for.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Sequence
from typing import Any

from spinexplore._registry import Registry
from spinexplore._constraints import N_JOBS
from spinexplore.execution.base import Executor, workers_for
from spinexplore.execution.process import ProcessExecutor
from spinexplore.execution.sequential import SequentialExecutor

__all__ = ["BACKENDS", "build_executor", "get_executor", "register_executor"]


def _sequential(n_jobs: int = 1, **options: Any) -> Executor:
    return SequentialExecutor(**options)


def _process(n_jobs: int = -1, **options: Any) -> Executor:
    return ProcessExecutor(workers_for(n_jobs), **options)


def _loky(n_jobs: int = -1, **options: Any) -> Executor:
    from spinexplore.execution._loky import LokyExecutor

    return LokyExecutor(workers_for(n_jobs), **options)


def _dask(n_jobs: int = -1, **options: Any) -> Executor:
    from spinexplore.execution._dask import DaskExecutor

    return DaskExecutor(n_jobs, **options)


def _mpi(n_jobs: int = -1, **options: Any) -> Executor:
    from spinexplore.execution._mpi import MPIExecutor

    return MPIExecutor(n_jobs, **options)


#: Backend name -> factory ``factory(n_jobs, **options) -> Executor``. The built-in names are
#: listed alphabetically (as error messages and the command line show them); names added
#: with :func:`register_executor` follow in the order they were registered. ``dask`` and
#: ``mpi`` need optional packages (``BACKENDS.check_available(name)``).
BACKENDS: Registry = Registry("backend", {
    "dask": _dask,
    "loky": _loky,
    "mpi": _mpi,
    "process": _process,
    "sequential": _sequential,
}, requires={"dask": (("distributed",), "dask"), "mpi": (("mpi4py",), "mpi")})


def register_executor(name: str, factory: Callable[..., Executor], *, requires: Sequence[str] = (),
                      extra: str | None = None) -> None:
    """Make ``get_executor(n_jobs, backend=name, **options)`` call ``factory(n_jobs, **options)``.

    Parameters
    ----------
    name : str
        Backend name; an existing name is replaced.
    factory : callable
        ``factory(n_jobs, **options)`` returning an object that follows :class:`Executor`.
    requires : sequence of str, optional
        Optional modules the backend imports; while one is missing, the backend is refused
        with an ``ImportError`` before any work (naming ``pip install spinexplore[extra]``
        when ``extra`` is given).

    Raises
    ------
    spinexplore.errors.InputTypeError
        If ``name`` is not a non-empty string or ``factory`` is not callable (a ``TypeError``).

    Examples
    --------
    >>> from spinexplore.execution import SequentialExecutor, get_executor, register_executor
    >>> register_executor("inline", lambda n_jobs, **options: SequentialExecutor(isolate=False))
    >>> [o.value for o in get_executor(1, "inline").map_unordered(abs, [-2, 3])]
    [2, 3]
    >>> del BACKENDS["inline"]
    """
    BACKENDS.register(name, factory, requires=requires, extra=extra)


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
    n_jobs = N_JOBS.check("n_jobs", n_jobs)  # the table's constraint (spinexplore.settings)
    if backend is None or isinstance(backend, str):
        return build_executor(n_jobs, backend, **options)
    if isinstance(backend, Executor):
        if options:
            raise TypeError(f"options {sorted(options)} cannot be applied to an Executor instance {backend!r}")
        return backend
    if isinstance(backend, concurrent.futures.Executor):
        from spinexplore.execution._futures import FuturesExecutor

        return FuturesExecutor(backend, n_workers=None if n_jobs == 1 else workers_for(n_jobs), **options)
    raise TypeError(
        f"backend must be a name from {list(BACKENDS)}, an Executor or a concurrent.futures.Executor; "
        f"got {backend!r} ({type(backend).__name__})"
    )


def build_executor(n_jobs: int, backend: str | None = None, **options: Any) -> Executor:
    """The executor of a backend name (None: ``"sequential"`` for one job, else ``"process"``)
    for an ``n_jobs`` already checked at the edge (:class:`spinexplore.settings.RunSettings`,
    :func:`get_executor`); an unknown name is refused by :data:`BACKENDS`."""
    if backend is None:
        backend = "sequential" if n_jobs == 1 else "process"
    return BACKENDS.create(backend, n_jobs, **options)
