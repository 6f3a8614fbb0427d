"""get_executor, argument errors, streaming, early stop, reuse, options of the process backend."""

from __future__ import annotations

import concurrent.futures as cf
import os
import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinexplore.execution import (
    BACKENDS,
    Executor,
    OutcomeStatus,
    ProcessExecutor,
    SequentialExecutor,
    get_executor,
    register_executor,
    resolve_n_jobs,
    worker_tmpdir,
)


def test_default_backend_follows_n_jobs():
    with get_executor(1) as ex:
        assert isinstance(ex, SequentialExecutor) and ex.n_workers == 1
    with get_executor(2) as ex:
        assert isinstance(ex, ProcessExecutor) and ex.n_workers == 2
    with get_executor(-1) as ex:
        assert ex.n_workers == os.cpu_count()


def test_resolve_n_jobs_counts_back_from_all_cores():
    cores = os.cpu_count()
    assert resolve_n_jobs(3) == 3
    assert resolve_n_jobs(-1) == cores
    assert resolve_n_jobs(-2) == max(1, cores - 1)
    assert resolve_n_jobs(-10 * cores) == 1


def test_n_jobs_zero_is_rejected():
    with pytest.raises(ValueError, match="n_jobs must be a positive number of workers or negative .*got 0"):
        get_executor(0)


def test_unknown_backend_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"backend must be one of \[.*'dask'.*'process'.*\]; got 'ray'"):
        get_executor(2, "ray")


def test_wrong_backend_type():
    with pytest.raises(TypeError, match="backend must be a name"):
        get_executor(2, 42)


def test_missing_dask_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"pip install spinexplore\[dask\]"):
        get_executor(2, "dask")


def test_missing_mpi_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py.futures", None)
    with pytest.raises(ImportError, match=r"pip install spinexplore\[mpi\]"):
        get_executor(2, "mpi")


def test_executor_instance_is_returned_unchanged_and_registry_works():
    seq = SequentialExecutor(isolate=False)
    assert isinstance(seq, Executor)
    assert get_executor(4, seq) is seq
    register_executor("inline", lambda n_jobs, **kw: SequentialExecutor(isolate=False))
    try:
        assert "inline" in BACKENDS
        ex = get_executor(3, "inline")
        assert [o.value for o in ex.map_unordered(lambda x: x * x, [1, 2, 3])] == [1, 4, 9]
    finally:
        del BACKENDS["inline"]


@pytest.mark.parametrize("timeout, exc, match", [
    (0, ValueError, "timeout must be > 0.0; got 0.0"),
    (-1.0, ValueError, "timeout must be > 0.0"),
    ("1", TypeError, "timeout must be a real number"),
])
def test_bad_timeout_is_rejected_before_any_work(timeout, exc, match):
    ex = SequentialExecutor(isolate=False)
    with pytest.raises(exc, match=match):
        ex.map_unordered(print, [1], timeout=timeout)


def test_fn_must_be_callable_and_picklable():
    ex = ProcessExecutor(1)
    with pytest.raises(TypeError, match="fn must be a callable"):
        ex.map_unordered(42, [1])
    import threading

    lock = threading.Lock()
    with pytest.raises(TypeError, match="fn could not be pickled with cloudpickle"):
        ex.map_unordered(lambda x, lock=lock: x, [1])
    assert ex.worker_pids() == []  # nothing was started


def test_results_stream_in_completion_order(h, tmp_path):
    """Task 0 runs until the test opens its gate, which it does only after another result came
    back: so results stream out as they finish, while task 0 still runs (no timing involved;
    the other tasks may queue behind task 0 in its worker, so only the first is awaited)."""
    gate = tmp_path / "gate"
    with ProcessExecutor(2) as ex:
        gen = ex.map_unordered(h.gated, [(str(gate), "slow"), (None, 1), (None, 2), (None, 3)])
        first = next(gen)
        assert first.index != 0 and first.ok
        gate.touch()
        rest = list(gen)
    assert sorted(o.index for o in [first, *rest]) == [0, 1, 2, 3]
    assert {(o.index, o.value) for o in [first, *rest]} == {(0, "slow"), (1, 1), (2, 2), (3, 3)}


def test_closing_the_generator_kills_the_running_tasks(h):
    with ProcessExecutor(2) as ex:
        gen = ex.map_unordered(h.sleepy, [60, 0.05, 60])
        first = next(gen)
        assert first.index == 1
        busy = set(ex.worker_pids())
        t0 = time.monotonic()
        gen.close()
        assert time.monotonic() - t0 < 2.0
        assert not h.wait_gone(busy - {first.value}, 2.0)
        # the executor is still usable after an early stop
        assert sorted(o.value for o in ex.map_unordered(abs, [-1, -2])) == [1, 2]


def test_keep_tmpdirs_keeps_them(tmp_path, h):
    ex = ProcessExecutor(1, keep_tmpdirs=True, tmp_root=tmp_path)
    [o] = list(ex.map_unordered(h.fault, [("ok", 1)]))
    ex.shutdown()
    path = o.value["tmpdir"]
    assert path.startswith(str(tmp_path)) and os.path.isdir(path)
    assert not h.wait_gone([o.value["pid"]])


def test_pin_threads_false_keeps_the_environment(monkeypatch, h):
    monkeypatch.setenv("NUMBA_NUM_THREADS", "2")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    with ProcessExecutor(1, pin_threads=False) as ex:
        [o] = list(ex.map_unordered(h.fault, [("ok", 1)]))
    assert o.value["numba_threads"] == "2" and o.value["omp_threads"] is None


def test_numba_in_worker_uses_one_thread():
    def numba_threads(_):
        import numba

        return numba.config.NUMBA_NUM_THREADS, numba.get_num_threads()

    with ProcessExecutor(1) as ex:
        [o] = list(ex.map_unordered(numba_threads, [0]))
    assert o.value == (1, 1)


def test_in_process_sequential_runs_here_with_a_soft_timeout(h):
    calls = []

    def fn(x):
        calls.append(x)
        if x == 2:
            time.sleep(60)
        return str(worker_tmpdir())

    ex = SequentialExecutor(isolate=False)
    t0 = time.monotonic()
    outcomes = list(ex.map_unordered(fn, [1, 2, 3], timeout=0.3))
    assert time.monotonic() - t0 < 5
    assert calls == [1, 2, 3]  # ran in this process: the closure saw the calls
    assert [o.status for o in outcomes] == [OutcomeStatus.OK, OutcomeStatus.TIMEOUT, OutcomeStatus.OK]
    assert outcomes[1].error == "timed out after 0.3 s"
    tmp = outcomes[0].value
    assert os.path.isdir(tmp) and outcomes[2].value == tmp
    ex.shutdown()
    assert not os.path.exists(tmp)


def test_wrapped_executor_without_isolation_warns_about_timeout():
    with cf.ThreadPoolExecutor(2) as pool:
        ex = get_executor(2, pool, isolate=False)
        assert ex.n_workers == 2
        with pytest.warns(RuntimeWarning, match="timeout=5.0 is not enforced"):
            outcomes = list(ex.map_unordered(lambda x: -x, range(5), timeout=5.0))
        ex.shutdown()
    assert sorted(o.value for o in outcomes) == [-4, -3, -2, -1, 0]


def test_items_that_cannot_be_pickled_fail_alone():
    import threading

    with ProcessExecutor(1) as ex:
        outcomes = sorted(ex.map_unordered(lambda x: x, [1, threading.Lock(), 3]), key=lambda o: o.index)
    assert [o.status for o in outcomes] == [OutcomeStatus.OK, OutcomeStatus.FAILED, OutcomeStatus.OK]
    assert "the item could not be pickled" in outcomes[1].error


_shared = {}


@settings(max_examples=15, deadline=None)
@given(values=st.lists(st.integers(-1000, 1000), max_size=30), chunksize=st.sampled_from(["auto", 1, 3, 50]))
def test_every_index_exactly_once_with_its_value(values, chunksize):
    ex = _shared.get("ex")
    if ex is None:
        ex = _shared["ex"] = ProcessExecutor(2)
    ex.chunksize = chunksize
    outcomes = list(ex.map_unordered(lambda v: v * 3 + 1, values))
    assert sorted(o.index for o in outcomes) == list(range(len(values)))
    assert all(o.value == values[o.index] * 3 + 1 for o in outcomes)


def teardown_module():
    if "ex" in _shared:
        _shared.pop("ex").shutdown()


def test_outcome_is_frozen_and_status_is_a_str_enum():
    from dataclasses import FrozenInstanceError

    from spinexplore.execution import Outcome

    o = Outcome(3, OutcomeStatus.TIMEOUT, None, "timed out after 2.0 s", 2.0, "pid1")
    with pytest.raises(FrozenInstanceError):
        o.index = 4
    assert OutcomeStatus("cancelled") is OutcomeStatus.CANCELLED and OutcomeStatus.OK == "ok"
    assert not o.ok


def test_dask_takes_a_client_or_an_address_not_both():
    pytest.importorskip("distributed")
    with pytest.raises(ValueError, match="pass either client or address, not both"):
        get_executor(2, "dask", client=object(), address="tcp://127.0.0.1:1")


def test_worker_tmpdir_in_the_parent_is_reused():
    first = worker_tmpdir()
    assert first.is_dir() and first.name.startswith(f"spinexplore_pid{os.getpid()}_")
    assert worker_tmpdir() == first


def _cube(x):
    return x ** 3


def test_a_lazy_map_ends_as_soon_as_its_feed_runs_out(monkeypatch):
    """The process backend waited up to a second on idle workers after a generator of items
    ran out (every batch round of an exploration ended with that second); it now ends at once."""
    import spinexplore.execution.process as process

    ex = process.ProcessExecutor(1)
    idle_waits = []
    real_wait = process.wait

    def watched(conns, timeout=None):
        if all(w.ready for w in ex._workers) and not any(w.batch for w in ex._workers):
            idle_waits.append(timeout)  # a wait with nothing in flight and no worker starting
        return real_wait(conns, timeout)

    monkeypatch.setattr(process, "wait", watched)
    try:
        for _ in range(3):  # the same warm worker, map after map
            outs = list(ex.map_unordered(_cube, (x for x in range(5)), timeout=None))
            assert sorted(o.value for o in outs) == [0, 1, 8, 27, 64]
    finally:
        ex.shutdown()
    assert idle_waits == []
