"""One writer per store: a POSIX record lock on ``<store>.lock``.

Why POSIX ``lockf`` and not ``flock``: the kernel drops a POSIX lock when its process dies
(so a ``kill -9`` never leaves a stale lock) and, unlike ``flock``, a child made by ``fork``
does not inherit it (a forked worker pool that outlives a killed explorer does not keep the
store locked). POSIX locks do not exclude a second opener in the *same* process, so a
process-wide registry handles that case. The file records pid, host and start time for the
error message; its presence alone means nothing.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import socket
import threading

from spinexplore.store.base import StoreLockedError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["StoreLock"]

_HELD: dict[str, int] = {}  # realpath of lock file -> id of the StoreLock holding it
_HELD_GUARD = threading.Lock()


def _describe(lock_path: str) -> str:
    try:
        with open(lock_path, encoding="utf-8") as fh:
            info = json.load(fh)
        return f"pid {info.get('pid')} on host {info.get('host')!r}, since {info.get('started')}"
    except (OSError, ValueError):
        return "a process that has not written its pid yet"


class StoreLock:
    """Exclusive write lock for the store at ``store_path``; released by :meth:`release`."""

    def __init__(self, store_path: str) -> None:
        self.store_path = store_path
        self.path = store_path + ".lock"
        self._fd: int | None = None
        self._pid = 0

    def acquire(self) -> None:
        """Take the lock or raise :class:`StoreLockedError` naming the holder."""
        key = os.path.realpath(self.path)
        with _HELD_GUARD:
            if key in _HELD:
                raise StoreLockedError(
                    f"{self.store_path} is already open for writing in this process (pid {os.getpid()} "
                    f"on host {socket.gethostname()!r}); close that store first, or open this one read-only (ExplorationStore.open(path, mode='r'), or ActiveLearningExplorer.load(path, read_only=True))"
                )
            for _ in range(20):
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    if fcntl is not None:
                        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    os.close(fd)
                    raise StoreLockedError(
                        f"{self.store_path} is open for writing by another process ({_describe(self.path)}); "
                        f"stop that process or wait for it to finish, then retry, or open the store "
                        f"read-only (ExplorationStore.open(path, mode='r'), or ActiveLearningExplorer.load(path, read_only=True))"
                    ) from None
                try:  # the file we locked may have been unlinked by a holder releasing it
                    same = os.path.samestat(os.fstat(fd), os.stat(self.path))
                except FileNotFoundError:
                    same = False
                if same:
                    break
                os.close(fd)
            else:  # pragma: no cover - needs a pathological race
                raise StoreLockedError(f"could not take the lock {self.path}; another process keeps replacing it")
            info = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            }
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, json.dumps(info).encode(), 0)
            except OSError as exc:  # disk full: leave no lock file behind, and name the file
                try:
                    os.unlink(self.path)
                except OSError:
                    pass
                os.close(fd)
                raise OSError(exc.errno, exc.strerror, self.path) from None
            self._fd, self._pid = fd, os.getpid()
            _HELD[key] = id(self)

    def release(self) -> None:
        """Drop the lock and remove the lock file; harmless when not held."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if self._pid != os.getpid():  # a forked child: never touch the parent's lock file
            os.close(fd)
            return
        with _HELD_GUARD:
            _HELD.pop(os.path.realpath(self.path), None)
            try:
                os.unlink(self.path)  # while still locked, so nobody locks a doomed file
            except OSError:
                pass
            os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None
