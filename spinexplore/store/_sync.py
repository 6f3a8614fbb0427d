"""How an ``ExplorationStore`` moves between its files: compaction (writer), following (reader)."""

from __future__ import annotations

import os
from typing import Any

from spinexplore.store._files import os_error_text
from spinexplore.store._journal import JournalWriter
from spinexplore.store._reader import journal_path, load_store, replay, stamp
from spinexplore.store._writer import fsync_dir, write_main
from spinexplore.store.base import SCHEMA_VERSION, StoreError

__all__ = ["compact", "load", "refresh"]


def compact(store: Any) -> None:
    """Write the whole store as a new main file (next generation) and drop the journal."""
    tmp = store.path.with_name(store.path.name + ".tmp")
    generation = store._generation + 1
    try:
        write_main(tmp, table=store._table, space=store.space, config_json=store._config_json,
                   state_json=store._state_json, created=store._created, checkpoint=store._checkpoint,
                   versions=store._versions, save_spins=store.save_spins, store_id=store._store_id,
                   generation=generation)
        os.replace(tmp, store.path)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        if getattr(store, "_creating", False):
            raise StoreError(f"{store.path}: could not create the store ({os_error_text(exc)}); nothing was "
                             f"written. Free disk space or fix the file system and retry") from None
        raise StoreError(
            f"{store.path}: could not write the store's main file ({os_error_text(exc)}); "
            f"the last checkpoint ({store._checkpoint}) is intact. Free disk space or fix the "
            f"file system and retry"
        ) from None
    # From here on the new main file is the store: whatever fails below, the old journal
    # no longer matches its generation and must never be appended to again.
    store._generation, store.schema_version, old = generation, SCHEMA_VERSION, store._journal
    store._journal = JournalWriter(journal_path(store.path), store._store_id, generation)
    store._stamp = stamp(store.path)
    try:
        fsync_dir(store.path.parent)
        if old is not None:
            old.close()
        journal_path(store.path).unlink(missing_ok=True)
    except OSError:  # a stale journal is ignored by readers and truncated by the next append
        pass


def refresh(store: Any) -> None:
    """Read-only stores follow the files on disk (a writer may have committed since)."""
    if not store.read_only or store._closed:
        return
    if stamp(store.path) != store._stamp:
        load(store)
        return
    js = stamp(journal_path(store.path))
    if js == store._journal_stamp:
        return
    old = store._journal_stamp
    if js is None or old is None or js[0] != old[0] or js[2] < store._journal_end:
        load(store)  # a new journal (the writer compacted): start again from the main file
        return
    try:
        replay(store.path, store.__dict__, store._journal_end)
    except StoreError:
        load(store)  # a half-applied replay: reread everything (raises if really damaged)
        return
    if stamp(store.path) != store._stamp:
        load(store)


def load(store: Any, *, writer: bool = False) -> None:
    """(Re)read the main file and its journal into ``store``."""
    loaded = load_store(store.path, writer=writer)
    store._stamp = loaded.pop("stamp")
    for key, value in loaded.items():
        setattr(store, key, value)
