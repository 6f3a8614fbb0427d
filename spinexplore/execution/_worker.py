"""Code that runs inside worker processes: the lowest runtime layer of :mod:`spinexplore.execution`.

Thread pinning, the per-worker temp dir, running one item with its error captured, and the
serve loop of the ``process`` backend's workers. It imports only :mod:`~.base` (for
:class:`~.base.OutcomeStatus`); the batch runner of remote workers, which needs a ``process``
pool, lives above it in :mod:`~._remote`. A ``process`` worker is a fresh interpreter started
with ``python -c`` that imports this module before its first task.
"""

from __future__ import annotations

import atexit
import os
import pickle
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spinexplore.execution.base import OutcomeStatus

__all__ = ["worker_tmpdir", "pinned_env", "PIN_VARS"]

#: Environment variables that size the thread pools of BLAS, OpenMP, numexpr and numba.
PIN_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)
TMP_PREFIX = "spinexplore_"
_MAX_ERROR_CHARS = 2000
HOST = socket.gethostname()

_tmpdir: Path | None = None
_tmpdir_owned_by_atexit = False


def pinned_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """Return a copy of ``base`` (default ``os.environ``) with every thread-count variable at 1."""
    env = dict(os.environ if base is None else base)
    env.update({name: "1" for name in PIN_VARS})
    return env


OWNER_FILE = ".spinexplore-owner"
_swept_roots: set[str] = set()


def make_tmpdir(root: str | None = None, *, keep: bool = False) -> Path:
    """Create ``<root>/spinexplore_pid<pid>_<random>/`` and return it.

    The dir holds a small ``.spinexplore-owner`` file (host, pid, ``keep``). The first call in
    a process for a given ``root`` also removes the dirs that workers killed with SIGKILL left
    there: those of this user, made on this host by a process that no longer exists, and not
    kept on purpose (``keep=True``, i.e. ``keep_tmpdirs``, or ``SPINEXPLORE_KEEP_TMPDIRS=1``).
    """
    key = os.path.realpath(root or tempfile.gettempdir())
    if key not in _swept_roots:
        _swept_roots.add(key)
        remove_stale_tmpdirs(key)
    path = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}pid{os.getpid()}_", dir=root))
    try:
        (path / OWNER_FILE).write_text(f"{HOST}\n{os.getpid()}\n{int(bool(keep))}\n")
    except OSError:  # pragma: no cover - a full disk: the dir is still usable, just not swept
        pass
    return path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def remove_stale_tmpdirs(root: str) -> list[str]:
    """Remove the worker temp dirs under ``root`` whose process died; return their paths.

    Only dirs with an owner file that names this host, a dead pid and ``keep = 0``, owned by
    this user, are removed: a dir on a shared file system made by another host, or one kept for
    debugging, is never touched. Nothing is removed when ``SPINEXPLORE_KEEP_TMPDIRS=1``.
    """

    def stale(fields: list[str]) -> bool:
        host, pid, keep = fields[:3]  # ValueError without a complete owner file: kept
        return host == HOST and keep == "0" and not _pid_alive(int(pid))

    return _remove_tmpdirs(root, f"{TMP_PREFIX}pid", stale)


def remove_tmpdirs_of(pid: int, root: str | None) -> list[str]:
    """Remove the temp dirs that the worker ``pid`` (dead and reaped by the caller) made under
    ``root`` before it could report them (a worker stopped during its start-up); return them.

    A dir kept on purpose (``keep = 1`` in its owner file) stays; one without an owner file
    (the worker died between making it and writing the file) goes: its name holds the pid.
    """

    def made_by_pid(fields: list[str]) -> bool:
        if len(fields) >= 3 and fields[2] in ("0", "1"):  # a complete owner file
            host, owner, keep = fields[:3]
            return host == HOST and int(owner) == pid and keep == "0"
        return True  # the worker died before or while it wrote the file; the name holds its pid

    return _remove_tmpdirs(root or tempfile.gettempdir(), f"{TMP_PREFIX}pid{pid}_", made_by_pid)


def _remove_tmpdirs(root: str, prefix: str, removable: Callable[[list[str]], bool]) -> list[str]:
    """Remove this user's dirs under ``root`` whose name starts with ``prefix`` and whose owner
    file's lines (``[]`` without the file) ``removable`` accepts; return their paths. A dir that
    cannot be read, or whose owner file ``removable`` cannot parse, stays. Nothing is removed
    when ``SPINEXPLORE_KEEP_TMPDIRS=1``."""
    if os.environ.get("SPINEXPLORE_KEEP_TMPDIRS") == "1":
        return []
    removed = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return []
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or entry.stat().st_uid != os.getuid():
                continue
            try:
                with open(os.path.join(entry.path, OWNER_FILE), encoding="utf-8") as fh:
                    fields = fh.read().split("\n")
            except FileNotFoundError:
                fields = []
            if not removable(fields):
                continue
        except (OSError, ValueError):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(entry.path)
    return removed


def set_tmpdir(path: Path | None) -> Path | None:
    """Make ``path`` the dir :func:`worker_tmpdir` returns; return the previous one."""
    global _tmpdir
    previous, _tmpdir = _tmpdir, path
    return previous


def worker_tmpdir() -> Path:
    """Return the current worker's own temp dir.

    In a worker of any backend this is ``spinexplore_pid<pid>_<random>/`` under the system
    temp dir, created when the worker starts and removed at shutdown unless the executor was
    made with ``keep_tmpdirs=True``. In the parent process (or the in-process sequential
    executor) it is a dir owned by the executor, or one made on first use and removed when
    the interpreter exits.

    Returns
    -------
    pathlib.Path
        An existing directory that no other worker writes to.
    """
    global _tmpdir, _tmpdir_owned_by_atexit
    if _tmpdir is None or not _tmpdir.is_dir():
        _tmpdir = make_tmpdir()
        if not _tmpdir_owned_by_atexit:
            _tmpdir_owned_by_atexit = True
            atexit.register(_remove_lazy_tmpdir)
    return _tmpdir


def _remove_lazy_tmpdir() -> None:
    if _tmpdir is not None and os.environ.get("SPINEXPLORE_KEEP_TMPDIRS") != "1":
        shutil.rmtree(_tmpdir, ignore_errors=True)


def pin_threads_now() -> None:
    """Limit numba/BLAS/OpenMP threads of an already running process to 1 (best effort)."""
    # NUMBA_NUM_THREADS is left alone in a running process: numba rereads it when it compiles
    # and refuses a value that differs from its launched pool; set_num_threads caps it instead.
    os.environ.update({name: "1" for name in PIN_VARS if name != "NUMBA_NUM_THREADS"})
    if "numba" in sys.modules:
        try:
            sys.modules["numba"].set_num_threads(1)
        except Exception:  # pragma: no cover - numba refuses when its pool is already larger
            pass
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except Exception:  # pragma: no cover - threadpoolctl is optional
        pass


# ----------------------------------------------------------------------------- one item

def format_error(exc: BaseException) -> str:
    """Exception text plus the last three frames of its traceback, at most 2000 characters."""
    frames = traceback.extract_tb(exc.__traceback__)[1:]  # drop run_item's own frame
    text = f"{type(exc).__name__}: {exc}"
    if frames:
        text += "\nTraceback (last frames):\n" + "".join(traceback.format_list(frames[-3:]))
    return text[:_MAX_ERROR_CHARS].rstrip()


class _StopSignalWatch:
    """Notes whether SIGINT or SIGTERM reached this process while one item ran.

    Only in the main thread, and only for signals with a Python handler (which is chained, so
    the handler in place still runs): a worker ignores SIGINT, so there every
    ``KeyboardInterrupt`` comes from the simulation's own code.
    """

    __slots__ = ("fired", "_saved")

    def __init__(self) -> None:
        self.fired = False
        self._saved: list[tuple[int, Any]] = []
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(signum)
            if callable(previous):
                self._saved.append((signum, previous))
                signal.signal(signum, self._chain(previous))

    def _chain(self, previous: Any) -> Any:
        def handler(signum: int, frame: Any) -> Any:
            self.fired = True
            return previous(signum, frame)

        return handler

    def restore(self) -> None:
        for signum, previous in self._saved:
            signal.signal(signum, previous)


def _is_stop_request(exc: KeyboardInterrupt, watch: _StopSignalWatch) -> bool:
    """A signal to this process (Ctrl+C, SIGTERM) and not a KeyboardInterrupt the code raised."""
    errors = sys.modules.get("spinexplore.errors")  # not imported in workers (no scikit-learn)
    return watch.fired or (errors is not None and isinstance(exc, errors.Interrupted))


class ExecutorSignal(BaseException):
    """Base of what an executor raises into a running item to stop it (the in-process
    timeout's ``SIGALRM``): :func:`run_item` lets it through, unlike the simulation's own
    exceptions."""


def run_item(fn: Any, item: Any) -> tuple[OutcomeStatus, Any, str | None, float]:
    """Call ``fn(item)``; return ``(status, value, error, duration)``, ``status`` OK or FAILED.

    Any exception the simulation's own code raises (``SystemExit``, ``GeneratorExit``, a
    ``BaseException`` of its own, a ``KeyboardInterrupt`` it raised itself) makes the item
    FAILED with its text. A ``KeyboardInterrupt`` caused by SIGINT or SIGTERM to
    this process (the user's Ctrl+C with the in-process executor) escapes: that means stop.
    """
    t0 = time.perf_counter()
    watch = _StopSignalWatch()
    try:
        value = fn(item)
    except KeyboardInterrupt as exc:
        if _is_stop_request(exc, watch):
            raise
        first, _, rest = format_error(exc).partition("\n")
        error = f"{first} (raised by the simulation itself; no stop signal reached spinexplore)"
        error = (error + ("\n" + rest if rest else ""))[:_MAX_ERROR_CHARS]
        return OutcomeStatus.FAILED, None, error, time.perf_counter() - t0
    except ExecutorSignal:
        raise
    except BaseException as exc:  # noqa: BLE001 - SystemExit, GeneratorExit, the user's own kinds
        return OutcomeStatus.FAILED, None, format_error(exc), time.perf_counter() - t0
    finally:
        watch.restore()
    return OutcomeStatus.OK, value, None, time.perf_counter() - t0


class _Unloadable:
    """Stands in for a simulation the worker could not unpickle: every call fails with why."""

    def __init__(self, exc: BaseException) -> None:
        self.message = f"the simulation could not be loaded in the worker: {type(exc).__name__}: {exc}"

    def __call__(self, item: Any) -> Any:
        raise RuntimeError(self.message)


def load_fn(payload: bytes) -> Any:
    """Unpickle a simulation; one that cannot be loaded becomes a callable that fails with why."""
    try:
        return pickle.loads(payload)
    except Exception as exc:
        return _Unloadable(exc)


def warm_up(fn: Any) -> Any:
    """Call ``fn.warmup()`` once, if the simulation has one (compiled kernels load there); return ``fn``.

    The ``process`` backend's worker calls it when it loads a simulation, before its first
    item and outside the timeout, so that a replacement worker (started after a timeout or a
    crash) is warm before its first timed item. A warm-up that fails is ignored: the items
    then fail with the reason themselves.
    """
    warm = getattr(fn, "warmup", None)
    if callable(warm):
        try:
            warm()
        except Exception:  # noqa: BLE001 - the items report what is wrong
            pass
    return fn


class WarmUp:
    """Calls ``simulation.warmup()`` in a worker (loads compiled kernels) and lasts >= 0.3 s,
    so that each worker of a pool gets one: the runner maps it over its workers once.

    It lives here, not in the runner, so that a worker unpickling it imports no more than the
    execution layer (the runner's module imports scikit-learn: seconds per worker).
    """

    seconds = 0.3

    def __init__(self, simulation: Any) -> None:
        self.simulation = simulation

    def __call__(self, _: int) -> None:
        t0 = time.perf_counter()
        self.simulation.warmup()
        time.sleep(max(0.0, self.seconds - (time.perf_counter() - t0)))


# ----------------------------------------------------------------------------- process-pool worker

def _set_parent_death_signal(ppid: int) -> None:
    """Ask Linux to SIGKILL this worker when the thread that started it ends (best effort)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        except Exception:  # pragma: no cover
            pass
    if os.getppid() != ppid:  # the parent died before prctl took effect
        os._exit(1)


def serve(fd: int, ppid: int, keep_tmpdir: bool, tmp_root: str | None) -> None:
    """Main loop of a ``process``-backend worker: receive batches, send one result per item."""
    from multiprocessing.connection import Connection

    import cloudpickle

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    _set_parent_death_signal(ppid)
    conn = Connection(fd)
    tmp = make_tmpdir(tmp_root, keep=keep_tmpdir)
    set_tmpdir(tmp)
    fns: dict[int, Any] = {}
    try:
        conn.send_bytes(pickle.dumps(("ready", os.getpid(), str(tmp))))
        while True:
            try:
                msg = pickle.loads(conn.recv_bytes())
            except (EOFError, OSError):
                break
            if msg[0] == "stop":
                break
            if msg[0] == "fn":  # load and warm up outside any timeout, then say so
                fns = {msg[1]: warm_up(load_fn(msg[2]))}
                conn.send_bytes(pickle.dumps(("loaded", msg[1], time.monotonic())))
                continue
            _, token, batch = msg
            fn = fns[token]
            for index, item_payload in batch:
                try:
                    item = pickle.loads(item_payload)
                except Exception as exc:
                    status, value, dur = OutcomeStatus.FAILED, None, 0.0
                    error = f"the item could not be unpickled in the worker: {type(exc).__name__}: {exc}"
                else:
                    status, value, error, dur = run_item(fn, item)
                payload = None
                if status is OutcomeStatus.OK:
                    try:
                        payload = cloudpickle.dumps(value)
                    except Exception as exc:
                        status = OutcomeStatus.FAILED
                        error = (f"the simulation returned a value that cannot be pickled "
                                 f"({type(value).__name__}): {type(exc).__name__}: {exc}")
                conn.send_bytes(pickle.dumps(("done", index, status.value, payload, error, dur, time.monotonic())))
    except OSError:  # the parent closed its end (it stopped): nothing to report to anyone
        pass
    finally:
        if not keep_tmpdir:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str]) -> None:
    """Entry point: ``python -c '...main(sys.argv[1:])' FD PPID KEEP TMP_ROOT``."""
    fd, ppid, keep, root = int(argv[0]), int(argv[1]), argv[2] == "1", argv[3] or None
    serve(fd, ppid, keep, root)
