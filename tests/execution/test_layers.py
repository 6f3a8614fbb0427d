"""The execution layer's structure: imports point down, one registry, the internal API.

The internal API is what the upper modules use of the lower ones: ``ProcessExecutor.map_payload``
(with a per-map chunk size), ``tmpdir_of`` and ``kill_busy``, the ``BatchedMap`` bookkeeping
shared by the ``process`` backend and the ``concurrent.futures`` adapter, and
``_remote.remote_batch``.
"""

from __future__ import annotations

import doctest
import pathlib
import subprocess
import sys
import textwrap
import threading
import time

import cloudpickle
import pytest

import spinexplore.execution as execution
from spinexplore._registry import Registry
from spinexplore.execution import BACKENDS, OutcomeStatus, ProcessExecutor, register_executor
from spinexplore.execution import _remote, _worker, registry
from spinexplore.execution.base import BatchedMap, dump_fn

from helpers.import_graph import subgraph

PACKAGE = pathlib.Path(execution.__file__).parent

#: Every module of the layer, bottom to top: a module may import only those before it.
ORDER = ["base", "progress", "_worker", "_spawn", "process", "sequential", "_remote", "_futures",
         "_loky", "_dask", "_mpi", "registry", "__init__"]


GRAPH = subgraph("spinexplore.execution")


def test_every_module_is_placed_in_the_layer_order():
    on_disk = {p.stem for p in PACKAGE.glob("*.py")}
    assert on_disk == set(ORDER)


@pytest.mark.parametrize("module", ORDER)
def test_imports_point_only_down(module):
    below = set(ORDER[: ORDER.index(module)])
    upward = GRAPH[module] - below
    assert not upward, f"{module} imports {sorted(upward)}, which are not below it in {ORDER}"


def test_the_execution_layer_needs_neither_scikit_learn_nor_numba():
    # The package's own __init__ (explorer, learner) is replaced by a bare package, so that
    # this checks what the execution modules themselves import (a worker imports them all).
    code = textwrap.dedent(f"""
        import sys, types
        top = types.ModuleType("spinexplore")
        top.__path__ = [{str(PACKAGE.parent)!r}]
        sys.modules["spinexplore"] = top
        import spinexplore.execution, spinexplore.execution._worker, spinexplore.execution._remote
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("sklearn", "numba"))
        assert not heavy, heavy
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


# ----------------------------------------------------------------------------- registry

def test_backends_is_the_shared_registry_and_keeps_every_name():
    assert isinstance(BACKENDS, Registry) and BACKENDS.kind == "backend"
    assert execution.BACKENDS is registry.BACKENDS
    assert sorted(BACKENDS) == ["dask", "loky", "mpi", "process", "sequential"]


def test_register_executor_rejects_a_factory_that_is_not_callable():
    with pytest.raises(TypeError, match="factory for backend 'broken' must be callable; got 42"):
        register_executor("broken", 42)
    with pytest.raises(TypeError, match="name must be a non-empty string; got ''"):
        register_executor("", lambda n_jobs: None)
    assert "broken" not in BACKENDS and "" not in BACKENDS


def test_register_executor_docstring_example_runs():
    failed, tried = doctest.testmod(registry)
    assert tried > 0 and failed == 0
    assert "inline" not in BACKENDS


# ----------------------------------------------------------------------------- shared bookkeeping

class _Batcher(BatchedMap):
    n_workers = 4

    def __init__(self, chunksize):
        self.init_batching(chunksize)


def test_batched_map_sizes_batches_from_the_measured_durations():
    b = _Batcher("auto")
    assert b.mean_duration is None and b.batch_size(100) == 1  # nothing measured yet
    b.record_duration(0.001)
    assert b.mean_duration == 0.001
    assert b.batch_size(100) == 13  # 20 ms of work, capped at 100 / (2 * 4) items
    assert b.batch_size(1000) == 20
    b.record_duration(0.011)
    assert b.mean_duration == pytest.approx(0.8 * 0.001 + 0.2 * 0.011)
    assert b.batch_size(1000, chunksize=1) == 1  # a per-call override
    assert _Batcher(7).batch_size(1000) == 7 and _Batcher(7).batch_size(3, chunksize="auto") == 1


@pytest.mark.parametrize("chunksize, exc", [(0, ValueError), (-2, ValueError), ("big", TypeError), (1.5, TypeError)])
def test_batched_map_rejects_a_bad_chunksize(chunksize, exc):
    with pytest.raises(exc, match="chunksize"):
        _Batcher(chunksize)


def test_run_item_reports_outcome_statuses():
    assert _worker.run_item(abs, -3)[:3] == (OutcomeStatus.OK, 3, None)
    status, value, error, _ = _worker.run_item(abs, "x")
    assert status is OutcomeStatus.FAILED and value is None and error.startswith("TypeError")


def test_remote_batch_runs_in_this_worker_without_isolation():
    payload = cloudpickle.dumps(lambda x: 10 * x)
    rows = _remote.remote_batch(payload, [(5, 1), (9, "a")], None, False, pin_threads=False)
    assert [(r[0], r[1], r[2]) for r in rows] == [(5, "ok", 10), (9, "ok", "aaaaaaaaaa")]
    assert all(r[5].endswith(f"@{_worker.HOST}") and pathlib.Path(r[6]).is_dir() for r in rows)


# ----------------------------------------------------------------------------- process internal API

def _sleep_then_square(x):
    time.sleep(x[1])
    return x[0] ** 2


def test_process_internal_api_map_payload_tmpdir_of_and_kill_busy(tmp_path):
    with ProcessExecutor(1, chunksize=3, tmp_root=tmp_path) as ex:
        assert ex.kill_busy() == 0  # nothing running
        payload = dump_fn(_sleep_then_square)
        outcomes = list(ex.map_payload(payload, [(k, 0.0) for k in range(4)], None, chunksize=1))
        assert sorted(o.value for o in outcomes) == [0, 1, 4, 9]
        assert ex.chunksize == 3  # the override held for that map only
        tmp = ex.tmpdir_of(outcomes[0].worker)
        assert tmp is not None and pathlib.Path(tmp).parent == tmp_path
        assert ex.tmpdir_of("pid0") is None

        gen = ex.map_payload(payload, [(2, 60.0)], None)
        killer = threading.Timer(1.0, lambda: killed.append(ex.kill_busy()))
        killed: list[int] = []
        killer.start()
        t0 = time.monotonic()
        (outcome,) = list(gen)
        killer.join()
        assert killed == [1] and time.monotonic() - t0 < 30
        assert outcome.status is OutcomeStatus.FAILED and "SIGKILL" in outcome.error
        # the pool replaced the worker and goes on
        assert [o.value for o in ex.map_payload(payload, [(3, 0.0)], None)] == [9]
