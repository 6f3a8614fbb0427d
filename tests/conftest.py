"""Settings shared by the whole suite.

The fast selection runs with a per-test timeout of 60 s (``timeout`` in ``pyproject.toml``), so
one hang costs a minute, not ten; a test marked ``slow`` (end-to-end physics, fault injection,
benchmarks' quick modes) gets 600 s unless it names its own ``@pytest.mark.timeout``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

# tests/helpers/ is imported as ``helpers`` by the test modules (--import-mode=importlib puts no
# test directory on the path by itself)
sys.path.insert(0, str(Path(__file__).parent))

SLOW_TIMEOUT_S = 600
#: Env var naming the lock file that the kernel warm-up process holds (see tests/helpers/warm_kernels.py).
WARM_LOCK_ENV = "TESTS_KERNEL_WARMUP_LOCK"
WARM_WAIT_S = 600  # a safety net: past it a worker runs its tests and compiles for itself


def _whole_suite(config: pytest.Config) -> bool:
    """True for a run of the suite or of folders (not of chosen files or tests)."""
    here = config.invocation_params.dir
    args = [a.split("::")[0] for a in config.args] or [str(config.rootpath / p) for p in config.getini("testpaths")]
    return all((here / a).is_dir() for a in args)


def pytest_configure(config: pytest.Config) -> None:
    """In the process that starts the run (the xdist controller, or the only process): compile
    the solver's numba kernels once, in a background process, while the tests are collected.

    Only for a run of the whole suite or of folders; ``TESTS_KERNEL_WARMUP=0`` turns it off."""
    if hasattr(config, "workerinput") or config.option.collectonly or WARM_LOCK_ENV in os.environ:
        return
    if os.environ.get("TESTS_KERNEL_WARMUP", "1") == "0" or not _whole_suite(config):
        return
    import fcntl

    fd, lock = tempfile.mkstemp(prefix="spinexplore-warm-", suffix=".lock")
    fcntl.flock(fd, fcntl.LOCK_EX)  # held by the child through the inherited descriptor
    warm = Path(__file__).parent / "helpers" / "warm_kernels.py"
    config._spinexplore_warm = (subprocess.Popen([sys.executable, str(warm)], pass_fds=(fd,)), lock)
    os.close(fd)
    os.environ[WARM_LOCK_ENV] = lock  # the xdist workers inherit it


def pytest_unconfigure(config: pytest.Config) -> None:
    started = getattr(config, "_spinexplore_warm", None)
    if started is not None:
        proc, lock = started
        proc.kill()  # already done unless the run ended first
        proc.wait()
        os.environ.pop(WARM_LOCK_ENV, None)
        Path(lock).unlink(missing_ok=True)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Send the functions and classes of the test modules to worker processes by value, as for a
    notebook: by reference, every worker (a fresh interpreter) would import the test module and
    with it pytest and the whole package, about 1.5 s of CPU per worker started. A module that
    tests pickling by reference says ``PICKLE_BY_REFERENCE = True``."""
    import cloudpickle

    tests = Path(__file__).parent
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if (path and Path(path).is_relative_to(tests) and not getattr(module, "PICKLE_BY_REFERENCE", False)
                and Path(path).name != "conftest.py"):
            cloudpickle.register_pickle_by_value(module)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Before the first test of a worker: wait until the kernel warm-up released its lock."""
    lock = os.environ.get(WARM_LOCK_ENV)
    if lock is None or session.config.option.collectonly or not session.items:
        return
    import fcntl

    try:
        fd = os.open(lock, os.O_RDONLY)
    except FileNotFoundError:  # the run that started it has ended
        return
    try:
        deadline = time.monotonic() + WARM_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
    finally:
        os.close(fd)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("slow") is not None and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT_S))
