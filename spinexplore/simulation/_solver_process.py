"""The solver process of an :class:`~spinexplore.simulation.ExternalSimulation` and its files:
where it runs, how its process group is started and killed, how its stdout and stderr are read
(streaming: only the end of a file is kept), and how values cross to and from JSON.

POSIX only (process groups and ``os.killpg``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["WHOLE_STDOUT_BYTES", "arrays", "base_tmpdir", "child_setup_fn", "jsonable", "kill_group",
           "last_json_line", "read_end", "tail_lines"]

_STDERR_LINES = 20
_TAIL_BYTES = 65536
#: A solver's stdout up to this size is also parsed as a whole (pretty-printed JSON); a longer
#: one (a log) is read line by line for its last JSON line, so it costs no memory.
WHOLE_STDOUT_BYTES = 16 * 2**20



def base_tmpdir() -> Path:
    """The current worker's temp dir, or the system temp dir when the execution layer is absent."""
    try:
        from spinexplore.execution import worker_tmpdir
    except ImportError:
        return Path(tempfile.gettempdir())
    return Path(worker_tmpdir())


def read_end(path: Path, n_bytes: int) -> str:
    """The last ``n_bytes`` of a file as text ("" when it cannot be read)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - n_bytes))
            return fh.read().decode(errors="replace")
    except OSError:
        return ""


def tail_lines(path: Path, n: int = _STDERR_LINES) -> str:
    """The last ``n`` lines of a file (read from its last 64 kB only)."""
    lines = read_end(path, _TAIL_BYTES).rstrip().splitlines()
    return "\n".join(lines[-n:])


def last_json_line(path: Path) -> str | None:
    """The last line of a file that looks like a JSON object, read 1 MB at a time: memory stays
    bounded whatever the size of the file (a line longer than :data:`WHOLE_STDOUT_BYTES`, such
    as progress bars joined by carriage returns, is skipped)."""
    last, carry = None, b""
    try:
        with open(path, "rb") as fh:
            while True:
                chunk = fh.read(2**20)
                if not chunk:
                    break
                lines = (carry + chunk).split(b"\n")
                carry = lines.pop()
                if len(carry) > WHOLE_STDOUT_BYTES:
                    carry = b"\0"  # the rest of this line cannot be a result either
                for line in lines:
                    if line.lstrip().startswith(b"{"):
                        last = line
    except OSError:
        return None
    if carry.lstrip().startswith(b"{"):
        last = carry
    return None if last is None else last.decode(errors="replace")


def kill_group(pgid: int, proc: subprocess.Popen, grace: float) -> None:
    """SIGTERM the whole process group, wait up to ``grace`` s, then SIGKILL it."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    try:  # also catches children that ignored SIGTERM or outlived the leader
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


_PRCTL: Any = None


def child_setup_fn() -> Any:
    """The ``preexec_fn`` of the solver: a process group of its own (in the worker's session;
    ``process_group=0`` of Python 3.11, also on 3.10) and, on Linux, SIGKILL when the thread
    that started it dies.

    ``prctl`` is looked up here, in the parent, so that the child only calls a loaded C
    function between fork and exec (no import, no lock).
    """
    global _PRCTL
    if _PRCTL is None:
        _PRCTL = False
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
            except (OSError, AttributeError):
                pass
    prctl = _PRCTL
    setpgid = os.setpgid

    def setup() -> None:  # pragma: no cover - runs in the child
        setpgid(0, 0)
        if prctl:
            prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL

    return setup


def jsonable(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def arrays(obj: Any) -> Any:
    """Lists in a parsed result become ndarrays (observables such as S(q), or spins)."""
    if isinstance(obj, list):
        return np.asarray(obj, dtype=float)
    return obj
