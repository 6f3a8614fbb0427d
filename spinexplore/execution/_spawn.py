"""The parent's side of a ``process`` worker: start it, stop it, kill it.

A worker is a fresh interpreter (``python -c`` running :func:`~._worker.main`, no fork of the
parent) in its own session, talking to the parent over one socket. This module holds the
parent's handle on one worker and the functions that start, stop and kill workers; the
scheduling of items over them is :class:`~.process.ProcessExecutor`.
"""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from multiprocessing.connection import Connection
from typing import Any

from spinexplore.execution import _worker

__all__ = ["STOP_SIGNALS", "Spawner", "WorkerHandle", "death_reason", "kill", "kill_sessions", "settle",
           "start_worker", "stop_all", "stopped_by_signal"]

#: What a worker interpreter runs: ``python -c BOOT FD PPID KEEP TMP_ROOT``.
BOOT = "import sys; from spinexplore.execution._worker import main; main(sys.argv[1:])"


class Spawner:
    """Starts worker processes from one long-lived thread.

    Linux's parent-death signal fires when the *thread* that forked a child ends; starting
    every worker from the main thread or from this daemon thread ties the workers' lives to
    the parent process rather than to a short-lived thread (dask runs tasks in such threads).
    """

    _lock = threading.Lock()
    _queue = None

    @classmethod
    def popen(cls, *args: Any, **kwargs: Any) -> subprocess.Popen:
        """``subprocess.Popen(*args, **kwargs)``, run in the main thread or the spawner thread."""
        if threading.current_thread() is threading.main_thread():
            return subprocess.Popen(*args, **kwargs)
        import queue

        with cls._lock:
            if cls._queue is None:
                cls._queue = queue.SimpleQueue()
                threading.Thread(target=cls._loop, name="spinexplore-spawner", daemon=True).start()
        reply: queue.SimpleQueue = queue.SimpleQueue()
        cls._queue.put((args, kwargs, reply))
        ok, result = reply.get()
        if not ok:
            raise result
        return result

    @classmethod
    def _loop(cls) -> None:
        while True:
            args, kwargs, reply = cls._queue.get()
            try:
                reply.put((True, subprocess.Popen(*args, **kwargs)))
            except BaseException as exc:  # pragma: no cover - e.g. out of file descriptors
                reply.put((False, exc))


class WorkerHandle:
    """The parent's view of one worker.

    Attributes
    ----------
    popen, conn
        The process and the parent's end of its socket.
    pid : int
        Its process id (also its process group: it runs in its own session).
    tmpdir : str or None
        Its temp dir, from its ``ready`` message; None until then.
    fn_token : int
        Which simulation it holds (0: none yet).
    batch : deque of int
        The item indices sent to it and not answered yet, oldest first.
    started : float
        ``time.monotonic()`` when its current item started (or, while ``loading``, when the
        simulation was sent).
    loading : bool
        True from sending it a simulation until it says it has loaded and warmed it up; the
        timeout of its items counts from then on.
    label : str
        ``"pid<pid>"``, the ``worker`` of its outcomes.
    """

    __slots__ = ("popen", "conn", "pid", "tmpdir", "fn_token", "batch", "started", "loading", "label", "root")

    def __init__(self, popen: subprocess.Popen, conn: Connection, root: str | None = None) -> None:
        self.popen, self.conn = popen, conn
        self.root = root  # where it makes its temp dir (None: the system temp dir)
        self.pid = popen.pid
        self.tmpdir: str | None = None  # set by the worker's "ready" message
        self.fn_token = 0
        self.batch: deque[int] = deque()
        self.started = 0.0
        self.loading = False
        self.label = f"pid{popen.pid}"

    @property
    def ready(self) -> bool:
        """True once the worker has reported its temp dir (it then takes work)."""
        return self.tmpdir is not None


def session_members(sids: set[int]) -> list[int]:
    """Process ids of every process whose session is in ``sids`` (Linux ``/proc``; [] elsewhere)."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    found = []
    for name in names:
        if name.isdigit():
            try:
                if os.getsid(int(name)) in sids:
                    found.append(int(name))
            except OSError:  # gone, or not ours to ask about
                pass
    return found


def kill_sessions(sids: set[int]) -> int:
    """SIGKILL every process left in the sessions ``sids``; return how many were signalled.

    A worker is the leader of its own session, and what it starts stays there even in a process
    group of its own: an external solver, and the children of a wrapper script around it (the
    ``sleep`` of ``bash solver.sh``), which Linux's parent-death signal does not reach. Killing
    the session from the parent's side leaves none of them behind, also when the worker itself
    was SIGKILLed at a timeout and could not clean up. A few rounds, for processes forked
    between a scan and the kill.
    """
    if not sids:
        return 0
    signalled: set[int] = set()
    for _ in range(5):
        new = [pid for pid in session_members(sids) if pid not in signalled and pid != os.getpid()]
        if not new:
            break
        for pid in new:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
            signalled.add(pid)
    return len(signalled)


def kill(worker: WorkerHandle, keep_tmpdirs: bool, *, sessions: bool = True) -> int:
    """SIGKILL the worker's process group, reap it, kill what it left in its session (unless
    ``sessions=False``: the caller does it for many workers at once), remove its temp dir;
    return its exit code."""
    try:
        os.killpg(worker.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    code = worker.popen.wait()
    if sessions:
        kill_sessions({worker.pid})
    worker.conn.close()
    if not keep_tmpdirs:
        if worker.tmpdir:
            shutil.rmtree(worker.tmpdir, ignore_errors=True)
        else:  # stopped before it said where: its dir (if any) carries its pid in the name
            _worker.remove_tmpdirs_of(worker.pid, worker.root)
    return code


def stop_all(workers: list[WorkerHandle], keep_tmpdirs: bool, grace: float) -> None:
    """Ask the idle workers to exit, wait up to ``grace`` seconds, then kill every one.

    ``workers`` is emptied; no worker process is left.
    """
    for w in workers:
        if not w.batch:
            try:
                w.conn.send_bytes(pickle.dumps(("stop",)))
            except OSError:
                pass
    deadline = time.monotonic() + grace
    for w in workers:
        if not w.batch:
            try:
                w.popen.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        kill(w, keep_tmpdirs, sessions=False)
    kill_sessions({w.pid for w in workers})
    workers.clear()


#: Signals that stop rather than crash: SIGTERM/SIGINT (a batch scheduler's wall time, Ctrl+C
#: to a process group, ``kill``) and SIGHUP. A worker that dies of one was stopped from
#: outside: its point is CANCELLED (rerun on resume), not FAILED.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def stopped_by_signal(code: int | None) -> bool:
    """True for the exit code of a process that one of :data:`STOP_SIGNALS` ended."""
    return code is not None and code < 0 and -code in {int(s) for s in STOP_SIGNALS}


def settle(worker: WorkerHandle, seconds: float = 0.5) -> None:
    """Give a worker whose socket closed up to ``seconds`` to finish exiting, so that
    :func:`kill` reports how it really ended (its exit code or signal), not our SIGKILL."""
    try:
        worker.popen.wait(seconds)
    except subprocess.TimeoutExpired:
        pass


def death_reason(code: int) -> str:
    """The error text of a worker that died: ``"worker died (signal SIGSEGV)"``."""
    if stopped_by_signal(code):
        return f"worker stopped by signal {signal.Signals(-code).name}; the point reruns on resume"
    if code < 0:
        try:
            return f"worker died (signal {signal.Signals(-code).name})"
        except ValueError:
            return f"worker died (signal {-code})"
    return f"worker died (exit code {code})"


def start_worker(pin_threads: bool, keep_tmpdirs: bool, tmp_root: str | None) -> WorkerHandle:
    """Start one worker interpreter and return its handle (ready once it says so).

    Parameters
    ----------
    pin_threads : bool
        Start it with numba/BLAS/OpenMP thread counts set to 1.
    keep_tmpdirs : bool
        The worker keeps its temp dir when it stops.
    tmp_root : str or None
        Where the worker makes its temp dir (None: the system temp dir).
    """
    parent_sock, child_sock = socket.socketpair()
    env = _worker.pinned_env() if pin_threads else dict(os.environ)
    paths = [p for p in sys.path if p]
    env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    fd = child_sock.fileno()
    args = [sys.executable, "-c", BOOT, str(fd), str(os.getpid()), "1" if keep_tmpdirs else "0", tmp_root or ""]
    try:
        popen = Spawner.popen(args, pass_fds=(fd,), env=env, start_new_session=True, stdin=subprocess.DEVNULL)
    finally:
        child_sock.close()
    return WorkerHandle(popen, Connection(parent_sock.detach()), tmp_root)
