"""``ExplorationStore``: one crash-safe HDF5 file per exploration.

Crash safety (details in ``docs/store-format.md``): HDF5 files are not safe to modify in
place, so every :meth:`ExplorationStore.write` builds the complete file in memory, writes it
to ``<path>.tmp``, ``fsync``-s it, renames it over ``<path>`` with ``os.replace`` (atomic on
POSIX) and ``fsync``-s the directory. Whatever instant the process dies, ``<path>`` is either
the previous checkpoint or the new one. Spin configurations, which would make that rewrite
O(total size), go to one new write-once file per checkpoint under ``<path>.spins/``; each is
durable before the main file that refers to it is committed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spinexplore._validation import check_choice
from spinexplore.results import PointRecord
from spinexplore.space import ParameterSpace
from spinexplore.store._lock import StoreLock
from spinexplore.store._reader import load_file, open_h5
from spinexplore.store._table import PointTable, check_spins, decode_json, encode_json
from spinexplore.store._writer import (
    SPIN_FILE,
    file_image,
    fill_main,
    fill_spins,
    fsync_dir,
    library_versions,
    now,
    write_durably,
)
from spinexplore.store.base import SCHEMA_VERSION, StoreError

__all__ = ["DEFAULT_FILENAME", "ExplorationStore"]

#: File name the CLI uses inside an exploration directory.
DEFAULT_FILENAME = "exploration.h5"


class ExplorationStore:
    """The HDF5 file of one exploration. Build it with :meth:`create` or :meth:`open`.

    Attributes
    ----------
    path : pathlib.Path
        The main file (``exploration.h5``).
    space : ParameterSpace
        The explored space, as stored.
    read_only : bool
        True when opened with ``mode="r"``.
    save_spins : bool
        Whether spin configurations are kept (fixed at creation).

    Examples
    --------
    >>> import tempfile, os
    >>> from spinexplore import ParameterSpace
    >>> d = tempfile.mkdtemp()
    >>> space = ParameterSpace({"h": (0.0, 1.0)})
    >>> with ExplorationStore.create(os.path.join(d, "exploration.h5"), space=space, config={"seed": 1}) as s:
    ...     s.write([], {"iteration": 0})
    >>> ExplorationStore.open(os.path.join(d, "exploration.h5")).read()
    ([], {'iteration': 0})
    """

    def __init__(self, path: Path, *, _token: object = None) -> None:
        if _token is not _PRIVATE:
            raise TypeError("use ExplorationStore.create(path, ...) or ExplorationStore.open(path)")
        self.path = path
        self.read_only = True
        self.save_spins = False
        self._lock: StoreLock | None = None
        self._closed = False
        self._stamp: tuple[int, int, int] | None = None

    # ================================================================== construction
    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        *,
        space: ParameterSpace,
        config: Mapping[str, Any],
        overwrite: bool = False,
        save_spins: bool = False,
    ) -> ExplorationStore:
        """Create a new store, open for writing (it holds the lock until :meth:`close`).

        Parameters
        ----------
        path : str or path-like
            The file to create, e.g. ``"run1/exploration.h5"``; its directory must exist.
        space : ParameterSpace
        config : mapping
            JSON-able settings: model, solver, strategy, surrogate, seed...
        overwrite : bool, default=False
            Replace an existing store. The old file stays intact until the new one is
            complete (atomic rename).
        save_spins : bool, default=False
            Keep ``result.spins`` (as float32, compressed, under ``<path>.spins/``).

        Raises
        ------
        FileExistsError
            ``path`` exists and ``overwrite`` is False.
        IsADirectoryError, FileNotFoundError, PermissionError
            ``path`` is a directory, its directory is missing or not writable.
        StoreLockedError
            Another process is writing this store.
        """
        if not isinstance(space, ParameterSpace):
            raise TypeError(f"space must be a ParameterSpace; got {type(space).__name__} {space!r:.60}")
        config_json = encode_json(config, "config")
        for name, flag in (("overwrite", overwrite), ("save_spins", save_spins)):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False; got {flag!r}")
        p = _check_path(path)
        if not p.parent.is_dir():
            raise FileNotFoundError(
                f"cannot create {p}: directory {p.parent} does not exist; create it first (mkdir -p)"
            )
        if not os.access(p.parent, os.W_OK | os.X_OK):
            raise PermissionError(f"cannot create {p}: directory {p.parent} is not writable; choose another path")
        store = cls(p, _token=_PRIVATE)
        store._lock = StoreLock(str(p))
        store._lock.acquire()
        try:
            if p.exists() and not overwrite:
                raise FileExistsError(
                    f"{p} already exists; continue it with ExplorationStore.open({str(p)!r}, 'a') "
                    f"(`spinexplore resume {p.parent}`), or pass overwrite=True to replace it"
                )
            store.read_only = False
            store.save_spins = bool(save_spins)
            store.space = space
            store._config_json = config_json
            store._state_json = "{}"
            store._table = PointTable(space.n_dims)
            store._created = now()
            store._checkpoint = 0
            store._versions = library_versions()
            store._commit()
            store._clean()
        except BaseException:
            store._lock.release()
            raise
        return store

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], mode: str = "r", *, space: ParameterSpace | None = None
    ) -> ExplorationStore:
        """Open an existing store to read it (``"r"``) or to continue writing it (``"a"``).

        Parameters
        ----------
        path : str or path-like
        mode : {"r", "a"}, default="r"
            ``"a"`` takes the write lock and removes what a killed writer left behind.
        space : ParameterSpace, optional
            When given, the store's space must equal it (guards a resume against the wrong file).

        Raises
        ------
        FileNotFoundError, IsADirectoryError, PermissionError
        StoreError
            Not an HDF5 file, damaged, written by a newer schema, or a different space.
        StoreLockedError
            ``mode="a"`` and another process is writing this store.
        """
        check_choice("mode", mode, ["r", "a"])
        if space is not None and not isinstance(space, ParameterSpace):
            raise TypeError(f"space must be a ParameterSpace or None; got {type(space).__name__}")
        p = _check_path(path)
        if not p.exists():
            raise FileNotFoundError(
                f"no exploration store at {p}; create one with ExplorationStore.create({str(p)!r}, space=..., config=...)"
            )
        store = cls(p, _token=_PRIVATE)
        if mode == "a":
            if not (os.access(p, os.W_OK) and os.access(p.parent, os.W_OK | os.X_OK)):
                raise PermissionError(
                    f"cannot open {p} for writing: the file or its directory is read-only; "
                    f"open it with mode='r' to read it"
                )
            store._lock = StoreLock(str(p))
            store._lock.acquire()
        try:
            store._load()
            if space is not None and space != store.space:
                raise StoreError(
                    f"{p} explores a different parameter space: stored {store.space!r}, "
                    f"requested {space!r}; resume with the stored space or start a new store"
                )
            if mode == "a":
                store.read_only = False
                store._versions = library_versions()
                store._clean()
        except BaseException:
            if store._lock is not None:
                store._lock.release()
            raise
        return store

    # ================================================================== public API
    @property
    def config(self) -> dict[str, Any]:
        """The settings given at creation (a fresh copy)."""
        return decode_json(self._config_json)

    @property
    def n_points(self) -> int:
        """Number of points stored."""
        return self._table.n

    @property
    def spins_dir(self) -> Path:
        """Folder of the spin sidecar files (``<path>.spins``)."""
        return self.path.with_name(self.path.name + ".spins")

    def write(self, records: Sequence[PointRecord], state: Mapping[str, Any]) -> None:
        """Upsert ``records`` by index and replace the explorer state; durable on return.

        Parameters
        ----------
        records : sequence of PointRecord
            New points and points that changed since the last write, in any order; new
            indices must continue the stored ones without gaps.
        state : mapping
            JSON-able explorer state (iteration, RNG state with 128-bit ints, history...),
            returned unchanged by :meth:`read` (tuples come back as lists).

        Raises
        ------
        TypeError, ValueError
            Bad records or a state JSON cannot hold; nothing is written.
        StoreError
            The store is read-only or closed.
        """
        self._check_writable()
        recs = self._table.validate(records)
        state_json = encode_json(state, "state")
        spins = {}
        if self.save_spins:
            spins = {r.index: check_spins(r.index, r.result.spins) for r in recs
                     if r.result is not None and r.result.spins is not None}
        checkpoint = self._checkpoint + 1
        if spins:
            self._write_spins(checkpoint, spins)
        try:
            self._table.apply(recs, dict.fromkeys(spins, checkpoint))
            self._state_json, self._checkpoint = state_json, checkpoint
            self._commit()
        except BaseException:  # keep memory equal to the disk: back to the last commit
            self._load()
            raise

    def read(self, *, spins: bool = True) -> tuple[list[PointRecord], dict[str, Any]]:
        """All records in index order and the last state written.

        Parameters
        ----------
        spins : bool, default=True
            Load saved spin configurations into ``result.spins`` (float64 arrays holding the
            stored float32 values). Pass False to skip that I/O.
        """
        self._refresh()
        return self._table.to_records(self._spin_loader() if spins else None), decode_json(self._state_json)

    def read_spins(self, index: int) -> np.ndarray | None:
        """The saved spins of point ``index``, shape (N, 3), or None."""
        self._refresh()
        if not 0 <= index < self._table.n:
            raise IndexError(f"index must be in 0..{self._table.n - 1}; got {index!r}")
        ref = int(self._table.spin_ref[index])
        return None if ref < 0 else self._spin_loader()(index, ref)

    def summary(self) -> str:
        """A short text report: file, schema, times, space, counts by status and phase."""
        self._refresh()
        header = [
            (f"exploration store {self.path} (schema {SCHEMA_VERSION}, "
             f"{'read-only' if self.read_only else 'open for writing'})"),
            f"created {self._created}, checkpoint {self._checkpoint}",
            f"space: {self.space!r}",
            f"spins saved: {'yes' if self.save_spins else 'no'}",
        ]
        return self._table.summary(header, self.space.names)

    def to_dataframe(self) -> Any:
        """One row per point (parameters, status, phase, scores, observables); needs pandas."""
        self._refresh()
        return self._table.to_dataframe(self.space.names)

    def close(self) -> None:
        """Release the write lock; the file is already complete. Harmless twice."""
        self._closed = True
        if self._lock is not None:
            self._lock.release()

    def __enter__(self) -> ExplorationStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        lock = getattr(self, "_lock", None)
        if lock is not None:
            lock.release()

    def __repr__(self) -> str:
        mode = "r" if self.read_only else "a"
        return f"ExplorationStore({str(self.path)!r}, mode={mode!r}, n_points={self.n_points})"

    # ================================================================== internals
    def _check_writable(self) -> None:
        if self._closed:
            raise StoreError(f"{self.path}: the store is closed; open it again with ExplorationStore.open(path, 'a')")
        if self.read_only:
            raise StoreError(f"{self.path} is open read-only; open it with mode='a' to write")

    def _commit(self) -> None:
        data = file_image(lambda f: fill_main(
            f, table=self._table, space=self.space, config_json=self._config_json,
            state_json=self._state_json, created=self._created, checkpoint=self._checkpoint,
            versions=self._versions, save_spins=self.save_spins))
        tmp = self.path.with_name(self.path.name + ".tmp")
        write_durably(tmp, data)
        os.replace(tmp, self.path)
        fsync_dir(self.path.parent)
        self._stamp = _stamp(self.path)

    def _write_spins(self, checkpoint: int, spins: Mapping[int, np.ndarray]) -> None:
        if not self.spins_dir.is_dir():
            self.spins_dir.mkdir()
            fsync_dir(self.path.parent)
        image = file_image(lambda f: fill_spins(f, checkpoint, spins))
        write_durably(self.spins_dir / SPIN_FILE.format(checkpoint), image)
        fsync_dir(self.spins_dir)

    def _spin_loader(self):
        """``load(index, ref)``; it keeps the last sidecar file read (points of one checkpoint)."""
        cache: dict[str, Any] = {"ref": None, "spins": {}}

        def load(index: int, ref: int) -> np.ndarray:
            path = self.spins_dir / SPIN_FILE.format(ref)
            try:
                if cache["ref"] != ref:
                    with open_h5(path) as f:
                        cache["spins"] = {k: ds[()] for k, ds in f["spins"].items()}
                    cache["ref"] = ref
                return np.asarray(cache["spins"][str(index)], dtype=float)
            except (OSError, KeyError) as exc:
                raise StoreError(
                    f"spins of point {index} are missing or damaged in {path} ({exc}); "
                    f"read without them with read(spins=False)"
                ) from None

        return load

    def _clean(self) -> None:
        """Remove what a killed writer left: the temporary file and unreferenced spin files."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.unlink(missing_ok=True)
        if self.spins_dir.is_dir():
            used = {SPIN_FILE.format(int(r)) for r in np.unique(self._table.spin_ref[: self._table.n]) if r >= 0}
            for entry in self.spins_dir.iterdir():
                if entry.name not in used and entry.name.startswith("spins-"):
                    entry.unlink(missing_ok=True)

    def _refresh(self) -> None:
        """Read-only stores follow the file on disk (a writer may have committed since)."""
        if self.read_only and not self._closed and _stamp(self.path) != self._stamp:
            self._load()

    def _load(self) -> None:
        loaded = load_file(self.path)
        self._stamp = loaded.pop("stamp")
        for key, value in loaded.items():
            setattr(self, key, value)


class _Private:
    pass


_PRIVATE = _Private()


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _check_path(path: Any) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or path-like; got {type(path).__name__} {path!r:.60}")
    p = Path(path).expanduser().absolute()
    if p.is_symlink():  # replace the file the link points to, not the link
        p = p.resolve()
    if p.is_dir():
        raise IsADirectoryError(
            f"path {str(p)!r} is a directory; pass the store file, e.g. {str(p / DEFAULT_FILENAME)!r}"
        )
    return p
