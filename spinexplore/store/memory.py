"""An in-memory store with the same behaviour as the HDF5 one, for tests and notebooks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from spinexplore.results import PointRecord
from spinexplore.space import ParameterSpace
from spinexplore.store._table import PointTable, check_spins, decode_json, encode_json, with_vocabulary
from spinexplore.store._views import TableViews

__all__ = ["MemoryStore"]


class MemoryStore(TableViews):
    """Keeps an exploration in memory, encoded exactly as :class:`ExplorationStore` encodes it.

    What :meth:`read` returns is what the HDF5 store would return after a trip through the
    disk: only scalar observables, ``error=""`` read back as ``None``, spins as float32
    values (when ``save_spins``), the state through JSON (tuples come back as lists).

    Parameters
    ----------
    space : ParameterSpace
        The explored space.
    config : mapping
        JSON-able settings (model, solver, strategy, seed...).
    save_spins : bool, default=False
        Keep ``result.spins`` of the records written.

    Examples
    --------
    >>> from spinexplore import ParameterSpace
    >>> store = MemoryStore(ParameterSpace({"h": (0.0, 1.0)}), {"seed": 1})
    >>> store.write([], {"iteration": 0})
    >>> store.read()
    ([], {'iteration': 0})
    """

    read_only = False
    path = None

    def __init__(self, space: ParameterSpace, config: Mapping[str, Any], *, save_spins: bool = False) -> None:
        if not isinstance(space, ParameterSpace):
            raise TypeError(f"space must be a ParameterSpace; got {type(space).__name__}")
        self._config_json = encode_json(config, "config")
        self.space = space
        self.save_spins = bool(save_spins)
        self._table = PointTable(space.n_dims)
        self._spins: dict[int, np.ndarray] = {}
        self._state_json = "{}"
        self._n_refs = 0
        self._checkpoint = 0

    @property
    def config(self) -> dict[str, Any]:
        """The settings given at creation (a fresh copy)."""
        return decode_json(self._config_json)

    def write(self, records: Sequence[PointRecord], state: Mapping[str, Any]) -> None:
        """Upsert ``records`` by index and replace the state (see ``ExplorationStore.write``)."""
        recs = self._table.validate(records)
        state, vocab = with_vocabulary(state, recs)
        state_json = encode_json(state, "state")
        refs: dict[int, int] = {}
        if self.save_spins:
            spins = {r.index: check_spins(r.index, r.result.spins) for r in recs
                     if r.result is not None and r.result.spins is not None}
            for index, arr in spins.items():
                self._spins[self._n_refs] = arr
                refs[index] = self._n_refs
                self._n_refs += 1
        old = {int(r) for r in self._table.spin_ref[: self._table.n]}
        self._table.apply(recs, refs, vocab)
        for ref in old - {int(r) for r in self._table.spin_ref[: self._table.n]}:
            self._spins.pop(ref, None)
        self._state_json = state_json
        self._checkpoint += 1

    def read(self, *, spins: bool = True) -> tuple[list[PointRecord], dict[str, Any]]:
        """All records in index order and the last state written (fresh objects)."""
        get = (lambda i, ref: self._spins[ref].astype(float)) if spins else None
        return self._table.to_records(get, self._vocabulary()), decode_json(self._state_json)

    def _summary_header(self) -> list[str]:
        return ["in-memory exploration store", f"checkpoint {self._checkpoint}", f"space: {self.space!r}"]

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MemoryStore({self.space!r}, n_points={self.n_points})"
