"""One set of fault checks run over every backend that can run here.

Each backend runs two maps on one executor (so executors are reused):

- map A, ``timeout=TIMEOUT``: good items mixed with a task that sleeps forever, one stuck in a
  numba loop, one that raises, one that calls ``os._exit(1)``, one that segfaults, one that
  returns an unpicklable object and one that returns picklable garbage;
- map B, no timeout: the same without the two hangs (loky runs this one natively; with a
  timeout it hands the map to the ``process`` backend).

Then the executor is shut down and the tests check every outcome, the error texts, the
worker environment and temp dirs, and that no worker process is left.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import re
import time
import warnings

import pytest

from spinexplore.execution import Outcome, OutcomeStatus, get_executor
from spinexplore.results import coerce_result

GOOD = [("ok", x) for x in range(6)]
CRASHES = [("raise", 101), ("exit", 102), ("segfault", 103), ("unpicklable", 104), ("garbage", 105)]
ITEMS_A = GOOD[:3] + [("sleep", 100), ("numba", 106)] + CRASHES + GOOD[3:]
ITEMS_B = GOOD[:3] + CRASHES + GOOD[3:]


def _make(name):
    if name == "sequential":
        return get_executor(1)
    if name == "threads":  # a concurrent.futures.Executor, wrapped
        return get_executor(2, cf.ThreadPoolExecutor(2))
    if name == "dask":
        pytest.importorskip("distributed")
        return get_executor(2, "dask")
    return get_executor(2, name)


BACKEND_PARAMS = ["sequential", "process", "loky", "threads", pytest.param("dask", marks=pytest.mark.slow)]


@pytest.fixture(scope="module", params=BACKEND_PARAMS)
def run(request, h):
    name = request.param
    ex = _make(name)
    t0 = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # loky: "runs on the 'process' backend"
        a = list(ex.map_unordered(h.fault, ITEMS_A, timeout=h.TIMEOUT))
    wall_a = time.monotonic() - t0
    b = list(ex.map_unordered(h.fault, ITEMS_B))
    n_workers = ex.n_workers
    ex.shutdown()
    inner = getattr(ex, "executor", None)
    if isinstance(inner, cf.ThreadPoolExecutor):
        inner.shutdown()
    return {"name": name, "a": a, "b": b, "wall_a": wall_a, "n_workers": n_workers}


def _by_kind(outcomes, items):
    return {items[o.index][0] + ("" if items[o.index][0] != "ok" else str(items[o.index][1])): o for o in outcomes}


def test_every_item_has_exactly_one_outcome(run):
    for key, items in (("a", ITEMS_A), ("b", ITEMS_B)):
        outcomes = run[key]
        assert all(isinstance(o, Outcome) for o in outcomes)
        assert sorted(o.index for o in outcomes) == list(range(len(items)))


def test_good_items_all_succeed_with_their_value(run):
    for key, items in (("a", ITEMS_A), ("b", ITEMS_B)):
        good = [o for o in run[key] if items[o.index][0] == "ok"]
        assert len(good) == len(GOOD)
        for o in good:
            assert o.status is OutcomeStatus.OK, o
            assert o.error is None
            assert o.value["x2"] == 2 * items[o.index][1]
            assert o.duration >= 0.02


@pytest.mark.parametrize("kind", ["sleep", "numba"])
def test_hangs_become_timeout_and_are_stopped(run, h, kind):
    o = _by_kind(run["a"], ITEMS_A)[kind]
    assert o.status is OutcomeStatus.TIMEOUT
    assert o.error == f"timed out after {h.TIMEOUT} s"
    assert h.TIMEOUT <= o.duration < h.TIMEOUT + 3.0


def test_map_with_hangs_finishes_soon_after_the_timeout(run, h):
    # two hangs, each stopped at TIMEOUT; a backend that waited for them would never return
    serial_hangs = 2 if run["n_workers"] == 1 else 1
    assert run["wall_a"] < serial_hangs * h.TIMEOUT + 20.0


@pytest.mark.parametrize("key", ["a", "b"])
def test_exception_is_failed_with_text_and_traceback(run, key):
    items = ITEMS_A if key == "a" else ITEMS_B
    o = _by_kind(run[key], items)["raise"]
    assert o.status is OutcomeStatus.FAILED
    assert o.error.startswith("ValueError: bad point 101")
    assert "Traceback" in o.error and "in fault" in o.error


@pytest.mark.parametrize("key", ["a", "b"])
@pytest.mark.parametrize("kind, reason", [("exit", "worker died (exit code 1)"),
                                          ("segfault", "worker died (signal SIGSEGV)")])
def test_dead_worker_fails_only_its_item(run, key, kind, reason):
    items = ITEMS_A if key == "a" else ITEMS_B
    o = _by_kind(run[key], items)[kind]
    assert o.status is OutcomeStatus.FAILED
    assert o.error == reason


@pytest.mark.parametrize("key", ["a", "b"])
def test_unpicklable_result_is_failed(run, key):
    items = ITEMS_A if key == "a" else ITEMS_B
    o = _by_kind(run[key], items)["unpicklable"]
    assert o.status is OutcomeStatus.FAILED
    assert "cannot be pickled" in o.error and "lock" in o.error


def test_garbage_result_passes_through_and_the_explorer_rejects_it(run):
    o = _by_kind(run["b"], ITEMS_B)["garbage"]
    assert o.status is OutcomeStatus.OK and o.value == {"no": "phase"}
    with pytest.raises(TypeError, match="without a 'phase' key"):
        coerce_result(o.value)


def test_workers_have_pinned_threads(run):
    for o in run["b"]:
        if o.ok and "x2" in o.value:
            assert o.value["numba_threads"] == "1"
            assert o.value["omp_threads"] == "1"


def test_worker_tmpdir_is_per_worker_and_removed(run):
    seen = {}
    for o in run["a"] + run["b"]:
        if o.ok and "x2" in o.value:
            path = o.value["tmpdir"]
            assert re.search(rf"spinexplore_pid{o.value['pid']}_\w+$", path), path
            seen.setdefault(path, set()).add(o.value["pid"])
    assert all(len(pids) == 1 for pids in seen.values())  # never shared between processes
    assert not [p for p in seen if os.path.exists(p)], "temp dirs left after shutdown"


def test_no_worker_process_left(run, h):
    pids = {h.pid_of(o.worker) for o in run["a"] + run["b"] if o.worker}
    pids |= {o.value["pid"] for o in run["a"] + run["b"] if o.ok and "pid" in o.value}
    assert pids and os.getpid() not in pids
    assert not h.wait_gone(pids), f"{run['name']}: workers still running"


def test_loky_reruns_lost_tasks_so_only_the_culprits_fail(h):
    # several crashes among many short tasks: loky loses every in-flight task at each crash
    items = [("exit", i) if i % 7 == 3 else ("ok", i) for i in range(14)]
    with get_executor(2, "loky") as ex:
        outcomes = list(ex.map_unordered(h.fault, items))
    assert sorted(o.index for o in outcomes) == list(range(len(items)))
    for o in outcomes:
        kind = items[o.index][0]
        if kind == "exit":
            assert o.status is OutcomeStatus.FAILED and o.error == "worker died (exit code 1)"
        else:
            assert o.status is OutcomeStatus.OK and o.value["x2"] == 2 * items[o.index][1]
