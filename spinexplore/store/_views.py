"""Read-side views shared by both stores: counts, state, summary, DataFrame."""

from __future__ import annotations

from typing import Any

from spinexplore.labels import Vocabulary
from spinexplore.store._table import PointTable, decode_json

__all__ = ["TableViews"]


class TableViews:
    """Mixin: what people read from a store, computed from its :class:`PointTable`.

    A store provides ``_table``, ``space``, ``_state_json``, ``_checkpoint`` and
    ``_summary_header()``; a store whose data can change on disk overrides ``_refresh()``.
    """

    _table: PointTable
    _state_json: str
    _checkpoint: int
    space: Any

    def _refresh(self) -> None:
        """Follow the data source (the HDF5 store rereads the files a writer changed)."""

    def _summary_header(self) -> list[str]:  # pragma: no cover - every store overrides it
        raise NotImplementedError

    @property
    def n_points(self) -> int:
        """Number of points stored."""
        self._refresh()
        return self._table.n

    @property
    def checkpoint(self) -> int:
        """Number of checkpoints written so far (for a reader: the last complete one it sees)."""
        self._refresh()
        return self._checkpoint

    def _vocabulary(self) -> Vocabulary:
        """The phase vocabulary of the last checkpoint (built-in for an old store), cached per state."""
        cached = getattr(self, "_vocab_cache", None)
        if cached is None or cached[0] is not self._state_json:
            cached = (self._state_json, Vocabulary.from_state(decode_json(self._state_json)))
            self._vocab_cache = cached
        return cached[1]

    @property
    def vocabulary(self) -> Vocabulary:
        """The phase labels of the stored points: ids, names, display names, colours."""
        self._refresh()
        return self._vocabulary().copy()

    def read_state(self) -> dict[str, Any]:
        """The explorer state of the last checkpoint, without building the records."""
        self._refresh()
        return decode_json(self._state_json)

    def counts(self) -> dict[str, Any]:
        """``{"n_points", "checkpoint", "status": {name: count}, "phase": {name: count}}``.

        Computed from the columns, without building records: what ``spinexplore status``
        needs (the phase counts cover finished points only).
        """
        self._refresh()
        return {"n_points": self._table.n, "checkpoint": self._checkpoint, **self._table.counts(self._vocabulary())}

    def summary(self) -> str:
        """A short text report: where, counts by status and phase, observables, dimensions."""
        self._refresh()
        return self._table.summary(self._summary_header(), self.space.names, self._vocabulary())

    def to_dataframe(self) -> Any:
        """One row per point (parameters, status, phase, scores, observables); needs pandas."""
        self._refresh()
        return self._table.to_dataframe(self.space.names, self._vocabulary())
