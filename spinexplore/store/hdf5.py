"""``ExplorationStore``: one crash-safe HDF5 file per exploration, plus its checkpoint journal.

Crash safety (details in ``docs/store-format.md``): HDF5 files are not safe to modify in
place, so the main file is only ever replaced whole (written to ``<path>.tmp``, ``fsync``-ed,
renamed over ``<path>``, directory ``fsync``-ed). A checkpoint (:meth:`ExplorationStore.write`)
does not touch it: it appends one checksummed frame (the new and changed points and the
explorer state) to ``<path>.journal`` and flushes it, in O(batch) time and bytes. Every
:attr:`ExplorationStore.compact_frames` checkpoints, on :meth:`~ExplorationStore.close` and
when a writer opens the store, the journal is folded into a new main file (*compaction*).
Readers apply the journal's complete frames to the main file and drop a torn last frame, so
whatever instant a writer dies they see its last completed checkpoint. Every file carries a
checksum of its HDF5 bytes (its user block), checked before h5py parses it; a journal that does
not continue the main file, or whose last frame was damaged after it was written, is never
dropped silently (an error, or kept aside by a writer). Spin configurations
go to one write-once file per checkpoint under ``<path>.spins/``, durable before the frame
that refers to them.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spinexplore._validation import check_choice
from spinexplore.results import PointRecord
from spinexplore.space import ParameterSpace
from spinexplore.store._files import (
    check_path,
    clean_leftovers,
    keep_aside,
    later_spin_files,
    os_error_text,
    spin_loader,
    write_spin_file,
)
from spinexplore.store._journal import JournalWriter, encode_frame
from spinexplore.store._lock import StoreLock
from spinexplore.store._reader import journal_path
from spinexplore.store._sync import compact, load, refresh
from spinexplore.store._table import (PointTable, batch_from_records, check_spins, decode_json, encode_json,
                                      with_vocabulary)
from spinexplore.store._views import TableViews
from spinexplore.store._writer import SPIN_FILE, library_versions, now
from spinexplore.store.base import SCHEMA_VERSION, StoreError

__all__ = ["DEFAULT_FILENAME", "ExplorationStore"]

#: File name the CLI uses inside an exploration directory.
DEFAULT_FILENAME = "exploration.h5"


class ExplorationStore(TableViews):
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
    schema_version : int
        Layout of the main file on disk (``docs/store-format.md``); a writer upgrades a
        schema-1 file to the current schema when it opens it.
    compact_frames : int
        Checkpoints kept in the journal before it is folded into the main file (class
        attribute, default 1024). Larger: fewer O(n) compactions; smaller: less for a
        reader to replay.

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

    compact_frames = 1024

    def __init__(self, path: Path, *, _token: object = None) -> None:
        if _token is not _PRIVATE:
            raise TypeError("use ExplorationStore.create(path, ...) or ExplorationStore.open(path)")
        self.path = path
        self.read_only = True
        self.save_spins = False
        self.schema_version = SCHEMA_VERSION
        self._lock: StoreLock | None = None
        self._journal: JournalWriter | None = None
        self._closed = False
        self._stamp: tuple[int, int, int] | None = None
        self._journal_stamp: tuple[int, int, int] | None = None
        self._journal_end = 0
        self._journal_frames = 0
        self._journal_torn = False
        self._journal_stale = False
        self._journal_damaged: str | None = None

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
        StoreError
            The file cannot be written (disk full...); nothing is left behind.
        """
        if not isinstance(space, ParameterSpace):
            raise TypeError(f"space must be a ParameterSpace; got {type(space).__name__} {space!r:.60}")
        config_json = encode_json(config, "config")
        for name, flag in (("overwrite", overwrite), ("save_spins", save_spins)):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False; got {flag!r}")
        p = check_path(path, DEFAULT_FILENAME)
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
            store._created = store._updated = now()
            store._checkpoint = 0
            store._versions = library_versions()
            store._store_id = uuid.uuid4().hex
            store._generation = 0
            store._creating = True
            store._compact()
            store._creating = False
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

        A reader takes no lock and sees the last complete checkpoint, also while another
        process writes; it never modifies any file. A writer (``"a"``) takes the lock, folds
        the journal into the main file and removes what a killed writer left behind.

        Parameters
        ----------
        path : str or path-like
        mode : {"r", "a"}, default="r"
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
        p = check_path(path, DEFAULT_FILENAME)
        if not p.exists():
            raise FileNotFoundError(
                f"no exploration store at {p}; create one with ExplorationStore.create({str(p)!r}, space=..., config=...)"
            )
        store = cls(p, _token=_PRIVATE)
        if mode == "a":
            if not (os.access(p, os.W_OK) and os.access(p.parent, os.W_OK | os.X_OK)):
                raise PermissionError(
                    f"cannot open {p} for writing: the file or its directory is read-only; "
                    f"open it read-only to read it (ExplorationStore.open(path, mode='r'), or ActiveLearningExplorer.load(path, read_only=True))"
                )
            store._lock = StoreLock(str(p))
            store._lock.acquire()
        try:
            store._load(writer=mode == "a")
            if space is not None and space != store.space:
                raise StoreError(
                    f"{p} explores a different parameter space: stored {store.space!r}, "
                    f"requested {space!r}; resume with the stored space or start a new store"
                )
            if mode == "a":
                store.read_only = False
                store._versions = library_versions()
                if store._store_id is None:  # schema 1: becomes a schema-2 store with an identity
                    store._store_id = uuid.uuid4().hex
                folded = journal_path(p).exists()
                if store._journal_damaged:
                    store._keep_damaged_aside()
                if store.schema_version < SCHEMA_VERSION or folded:
                    store._compact()
                else:
                    store._journal = JournalWriter(journal_path(p), store._store_id, store._generation)
                store._clean()
        except BaseException:
            store._closed = True
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
    def closed(self) -> bool:
        """True after :meth:`close`: the store can no longer be written."""
        return self._closed

    @property
    def spins_dir(self) -> Path:
        """Folder of the spin sidecar files (``<path>.spins``)."""
        return self.path.with_name(self.path.name + ".spins")

    def write(self, records: Sequence[PointRecord], state: Mapping[str, Any]) -> None:
        """Upsert ``records`` by index and replace the explorer state; durable on return.

        Costs O(len(records)) time and bytes (one journal frame); every
        :attr:`compact_frames` checkpoints the journal is folded into the main file (O(n)).

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
            The store is read-only or closed, or the disk refused the write (full, read-only,
            I/O error): the store stays at its last checkpoint, on disk and in this object.
        """
        self._check_writable()
        recs = self._table.validate(records)
        state, vocab = with_vocabulary(state, recs)
        state_json = encode_json(state, "state")
        spins = {}
        if self.save_spins:
            spins = {r.index: check_spins(r.index, r.result.spins) for r in recs
                     if r.result is not None and r.result.spins is not None}
        checkpoint = self._checkpoint + 1
        batch = batch_from_records(recs, self.space.n_dims, dict.fromkeys(spins, checkpoint), vocab)
        updated = now()
        frame = encode_frame(checkpoint, batch, state_json, updated)
        if self._journal.broken:  # a failed append could not be undone: start a clean journal
            self._compact()
        try:
            if spins:
                write_spin_file(self.spins_dir, self.path.parent, checkpoint, spins)
            self._journal.append(frame)
        except OSError as exc:
            raise StoreError(
                f"{self.path}: checkpoint {checkpoint} could not be written ({os_error_text(exc)}); "
                f"the store still holds checkpoint {self._checkpoint} intact. Free disk space or fix "
                f"the file system, then write again (or resume the run later)"
            ) from None
        self._table.apply_batch(batch)
        self._state_json, self._checkpoint, self._updated = state_json, checkpoint, updated
        if self._journal.n_frames >= self.compact_frames:
            try:
                self._compact()
            except StoreError as exc:  # the checkpoint is durable in the journal: go on
                warnings.warn(str(exc), RuntimeWarning, stacklevel=2)

    def read(self, *, spins: bool = True) -> tuple[list[PointRecord], dict[str, Any]]:
        """All records in index order and the last state written.

        Parameters
        ----------
        spins : bool, default=True
            Load saved spin configurations into ``result.spins`` (float64 arrays holding the
            stored float32 values). Pass False to skip that I/O.
        """
        self._refresh()
        loader = spin_loader(self.spins_dir) if spins else None
        return self._table.to_records(loader, self._vocabulary()), decode_json(self._state_json)

    def read_spins(self, index: int) -> np.ndarray | None:
        """The saved spins of point ``index``, shape (N, 3), or None."""
        self._refresh()
        if not 0 <= index < self._table.n:
            raise IndexError(f"index must be in 0..{self._table.n - 1}; got {index!r}")
        ref = int(self._table.spin_ref[index])
        return None if ref < 0 else spin_loader(self.spins_dir)(index, ref)

    def close(self) -> None:
        """Fold the journal into the main file and release the write lock. Harmless twice.

        When the fold fails (disk full), every checkpoint stays safe in the journal, the next
        writer folds it, and a ``RuntimeWarning`` says so.
        """
        if self._closed:
            return
        self._closed = True
        try:
            if self._journal is not None and self._journal.n_frames and not self.read_only:
                try:
                    self._compact()
                except StoreError as exc:
                    warnings.warn(f"{exc} (every checkpoint is safe in the journal)", RuntimeWarning, stacklevel=2)
        finally:
            if self._journal is not None:
                self._journal.close()
            if self._lock is not None:
                self._lock.release()

    def __enter__(self) -> ExplorationStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        journal = getattr(self, "_journal", None)
        if journal is not None:
            journal.close()
        lock = getattr(self, "_lock", None)
        if lock is not None:
            lock.release()

    def __repr__(self) -> str:
        mode = "r" if self.read_only else "a"
        return f"ExplorationStore({str(self.path)!r}, mode={mode!r}, n_points={self._table.n})"

    # ================================================================== internals
    def _summary_header(self) -> list[str]:
        return [
            (f"exploration store {self.path} (schema {self.schema_version}, "
             f"{'read-only' if self.read_only else 'open for writing'})"),
            f"created {self._created}, checkpoint {self._checkpoint} at {self._updated}",
            f"space: {self.space!r}",
            f"spins saved: {'yes' if self.save_spins else 'no'}",
        ]

    def _check_writable(self) -> None:
        if self._closed:
            raise StoreError(f"{self.path}: the store is closed; open it again with ExplorationStore.open(path, 'a')")
        if self.read_only:
            raise StoreError(f"{self.path} is open read-only; open it with mode='a' to write")

    def _compact(self) -> None:
        """Write the whole store as a new main file (next generation) and drop the journal."""
        compact(self)

    def _clean(self) -> None:
        clean_leftovers(self.path, self.spins_dir, self._table.spin_ref[: self._table.n])

    def _refresh(self) -> None:
        """Read-only stores follow the files on disk (a writer may have committed since)."""
        refresh(self)

    def _load(self, writer: bool = False) -> None:
        load(self, writer=writer)

    def _keep_damaged_aside(self) -> None:
        """Move a journal with a damaged last frame (and the spin files of checkpoints the main
        file does not hold) aside under new names, and warn: they are never deleted."""
        moved = keep_aside(journal_path(self.path), [self.spins_dir / SPIN_FILE.format(k) for k in
                                                     later_spin_files(self.spins_dir, self._checkpoint)])
        warnings.warn(
            f"{journal_path(self.path)} is damaged ({self._journal_damaged}); it was kept aside as {moved[0]}"
            + (f" (with {len(moved) - 1} spin file(s) of its checkpoints)" if len(moved) > 1 else "")
            + f". The store continues from checkpoint {self._checkpoint}, the last one intact; the damaged "
            f"checkpoint is not in it", RuntimeWarning, stacklevel=4)
        self._journal_damaged = None


class _Private:
    pass


_PRIVATE = _Private()
