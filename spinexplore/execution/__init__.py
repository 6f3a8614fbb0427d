"""Running simulations in parallel: the Executor protocol, its backends and progress output.

Backends (``get_executor(n_jobs, backend=...)``): ``sequential``, ``process`` (default for
``n_jobs != 1``), ``loky``, ``dask``, ``mpi``, or any ``concurrent.futures.Executor``.
See ``docs/architecture.md`` for what each one guarantees.
"""

from __future__ import annotations

from spinexplore.execution._worker import worker_tmpdir
from spinexplore.execution.base import (
    BACKENDS,
    Executor,
    Outcome,
    OutcomeStatus,
    SequentialExecutor,
    get_executor,
    register_executor,
    resolve_n_jobs,
)
from spinexplore.execution.process import ProcessExecutor
from spinexplore.execution.progress import Progress, make_progress

__all__ = [
    "BACKENDS",
    "Executor",
    "Outcome",
    "OutcomeStatus",
    "ProcessExecutor",
    "Progress",
    "SequentialExecutor",
    "get_executor",
    "make_progress",
    "register_executor",
    "resolve_n_jobs",
    "worker_tmpdir",
]
