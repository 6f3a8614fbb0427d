"""Running simulations in parallel: the Executor protocol, its backends and progress output.

Backends (``get_executor(n_jobs, backend=...)``): ``sequential``, ``process`` (default for
``n_jobs != 1``), ``loky``, ``dask``, ``mpi``, or any ``concurrent.futures.Executor``.
See ``docs/architecture.md`` for what each one guarantees.

Modules, bottom to top (each imports only those below it): ``base`` (protocol, ``Outcome``,
helpers), ``_worker`` (code run in worker processes), ``_spawn`` (starting and killing
workers), ``process``, ``sequential``, ``_remote`` (the batch runner of remote workers),
``_futures`` with ``_loky``, ``_dask`` and ``_mpi``, and ``registry`` (``BACKENDS``,
``get_executor``); ``progress`` stands apart.
"""

from __future__ import annotations

from spinexplore.execution._worker import worker_tmpdir
from spinexplore.execution.base import Executor, Outcome, OutcomeStatus, resolve_n_jobs
from spinexplore.execution.process import ProcessExecutor
from spinexplore.execution.progress import Progress, make_progress
from spinexplore.execution.registry import BACKENDS, get_executor, register_executor
from spinexplore.execution.sequential import SequentialExecutor

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
