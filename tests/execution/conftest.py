"""Shared helpers for the execution tests: a simulation with injectable faults, process checks."""

from __future__ import annotations

import os
import re
import sys
import time

import cloudpickle
import pytest

# Workers cannot import this test module: send its functions by value, as for a notebook.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

TIMEOUT = 1.5  # seconds a faulty task may run in the fault tests


def fault(item):
    """A simulation whose behaviour ``item = (kind, x)`` chooses."""
    kind, x = item
    if kind == "ok":
        time.sleep(0.02)
        from spinexplore.execution import worker_tmpdir

        return {"x2": 2 * x, "pid": os.getpid(), "tmpdir": str(worker_tmpdir()),
                "numba_threads": os.environ.get("NUMBA_NUM_THREADS"),
                "omp_threads": os.environ.get("OMP_NUM_THREADS")}
    if kind == "sleep":
        time.sleep(1e6)
    if kind == "numba":  # a hang inside compiled code that holds the GIL
        import numba

        @numba.njit(cache=False)
        def spin(n):
            s = 0.0
            for i in range(n):
                s += (i % 7) * 0.5
            return s

        return spin(10**14)
    if kind == "raise":
        raise ValueError(f"bad point {x}")
    if kind == "exit":
        os._exit(1)
    if kind == "segfault":
        import ctypes

        ctypes.string_at(0)
    if kind == "unpicklable":
        import threading

        return threading.Lock()
    if kind == "garbage":
        return {"no": "phase"}
    raise AssertionError(kind)


def sleepy(seconds):
    time.sleep(seconds)
    return os.getpid()


def gated(item):
    """``item = (gate, value)``: wait until the file ``gate`` exists (None: no wait), return ``value``.

    Lets a test hold a task until an event of its own (it creates the file), instead of a sleep
    whose length a loaded machine may outrun."""
    gate, value = item
    if gate is not None:
        deadline = time.monotonic() + 300  # a safety net, never the test's condition
        while not os.path.exists(gate):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the test never opened the gate {gate}")
            time.sleep(0.01)
    return value


def pid_of(worker: str) -> int:
    match = re.match(r"pid(\d+)", worker)
    assert match, worker
    return int(match.group(1))


def alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def wait_gone(pids, seconds: float = 10.0) -> set[int]:
    """Wait until every pid is gone; return those still alive after ``seconds``."""
    deadline = time.monotonic() + seconds
    left = set(pids)
    while left and time.monotonic() < deadline:
        left = {p for p in left if alive(p)}
        if left:
            time.sleep(0.05)
    return left


@pytest.fixture(scope="session")
def h():
    """The helpers above, for test modules (which cannot import conftest)."""
    from types import SimpleNamespace

    return SimpleNamespace(fault=fault, sleepy=sleepy, gated=gated, pid_of=pid_of, alive=alive,
                           wait_gone=wait_gone, TIMEOUT=TIMEOUT)
