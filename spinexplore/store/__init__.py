"""Checkpoint stores: the crash-safe HDF5 ``ExplorationStore`` and the in-memory ``MemoryStore``.

The on-disk layout is documented in ``docs/store-format.md``.
"""

from __future__ import annotations

from spinexplore.store.base import SCHEMA_VERSION, CheckpointStore, StoreError, StoreLockedError
from spinexplore.store.hdf5 import DEFAULT_FILENAME, ExplorationStore
from spinexplore.store.memory import MemoryStore

__all__ = [
    "DEFAULT_FILENAME",
    "SCHEMA_VERSION",
    "CheckpointStore",
    "ExplorationStore",
    "MemoryStore",
    "StoreError",
    "StoreLockedError",
]
