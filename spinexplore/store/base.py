"""The checkpoint-store seam: the protocol the explorer talks to, the schema version, the errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from spinexplore.results import PointRecord

__all__ = ["SCHEMA_VERSION", "CheckpointStore", "StoreError", "StoreLockedError"]

#: Version of the on-disk layout written by this spinexplore (``docs/store-format.md``).
#: Bump it when the layout changes; readers refuse files with a larger number.
SCHEMA_VERSION = 3


class StoreError(OSError):
    """A store file cannot be used: not HDF5, damaged, from a newer schema, incompatible, read-only.

    It subclasses ``OSError`` because each case is about a file on disk; the message names
    the file, says what is wrong and what to do.
    """


class StoreLockedError(StoreError):
    """Another process (or another store object in this process) is writing the same store."""


@runtime_checkable
class CheckpointStore(Protocol):
    """What the explorer needs from a store: durable upserts, a full read back, and closing."""

    def write(self, records: Sequence[PointRecord], state: Mapping[str, Any]) -> None:
        """Upsert ``records`` by index and replace the explorer state; durable on return."""
        ...

    def read(self) -> tuple[list[PointRecord], dict[str, Any]]:
        """All records in index order and the last state written."""
        ...

    def close(self) -> None:
        """Release the file and its lock; calling it twice is harmless."""
        ...
