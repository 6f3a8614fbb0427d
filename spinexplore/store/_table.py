"""Column-wise point table shared by every store (memory and HDF5), and the batches that update it.

Both stores keep the points in a :class:`PointTable` and update it only through
:meth:`PointTable.apply_batch`: a :class:`Batch` is what one checkpoint changes, the same
object the HDF5 store appends to its journal and replays from it. So a
:class:`~spinexplore.store.MemoryStore` returns exactly what an
:class:`~spinexplore.store.ExplorationStore` returns after a trip through the disk.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from spinexplore.labels import MAX_ID, Vocabulary
from spinexplore.results import PhaseType, PointRecord, PointStatus, SimulationResult
from spinexplore.store._json import decode_json, encode_json, storable_text

__all__ = ["Batch", "PointTable", "batch_from_records", "check_spins", "decode_json", "encode_json",
           "storable_text", "with_vocabulary"]

_OUTCOME_STATUS = {PhaseType.FAILED: PointStatus.FAILED, PhaseType.TIMEOUT: PointStatus.TIMEOUT}


def with_vocabulary(state: Mapping[str, Any], records: Sequence[PointRecord]) -> tuple[Mapping[str, Any], Vocabulary]:
    """The state to store and the vocabulary that encodes ``records``' labels.

    The vocabulary is ``state["vocabulary"]`` (the built-in one when absent). A label the
    state does not know (a record written straight to a store) is added, and the state then
    gets the grown vocabulary, so that every id in the file is named by the file.
    """
    vocab = Vocabulary.from_state(state)
    n_before = len(vocab)
    for r in records:
        if r.result is not None and r.result.ok:
            vocab.id_of(r.result.phase)
    if len(vocab) != n_before and not vocab.is_builtin:
        state = {**state, "vocabulary": vocab.to_json()}
    return state, vocab


def phase_id(record: PointRecord, vocabulary: Vocabulary) -> int:
    """The ``phase`` column of a record: its label id, or -1 without a label (a failure's
    outcome lives in the status column only; its result is told apart from no result by the
    confidence column, which is NaN only without a result)."""
    res = record.result
    if res is None:
        return -1
    if res.ok:
        return vocabulary.id_of(res.phase)
    if _OUTCOME_STATUS.get(res.phase) == record.status:
        return -1
    return int(res.phase)  # an inconsistent pair an old store may hold: kept as written

#: dtype of stored spin configurations (see docs/store-format.md, "Spins").
SPIN_DTYPE = np.float32

#: numeric columns of a point, with their dtypes (the order is the journal's frame order).
NUMERIC_COLUMNS = {
    "status": np.int8,
    "phase": np.int8,
    "iteration": np.int64,
    "confidence": np.float64,
    "energy": np.float64,
    "duration": np.float64,
    "spin_ref": np.int32,
}


@dataclass
class Batch:
    """The rows one checkpoint writes: columns of ``k`` points (new or changed), in any order.

    ``obs`` holds the scalar observables of the batch, one column per name of ``obs_names``
    (NaN: not measured); ``cols`` the :data:`NUMERIC_COLUMNS`.
    """

    index: np.ndarray
    params: np.ndarray
    cols: dict[str, np.ndarray]
    worker: list[str]
    error: list[str]
    obs_names: list[str]
    obs: np.ndarray

    @property
    def k(self) -> int:
        return len(self.index)


def batch_from_records(records: Sequence[PointRecord], n_dims: int, spin_refs: Mapping[int, int],
                       vocabulary: Vocabulary | None = None) -> Batch:
    """Columns of validated ``records``; ``spin_refs`` maps index -> spin location (-1: none);
    ``vocabulary`` gives the label ids (see :func:`with_vocabulary`)."""
    vocabulary = Vocabulary() if vocabulary is None else vocabulary
    k = len(records)
    cols = {name: np.zeros(k, dt) for name, dt in NUMERIC_COLUMNS.items()}
    for name in ("confidence", "energy", "duration"):
        cols[name][:] = np.nan
    cols["phase"][:] = -1
    index = np.empty(k, np.int64)
    params = np.empty((k, n_dims))
    worker, error = [], []
    obs_rows: list[dict[str, float]] = []
    names: dict[str, int] = {}
    for j, r in enumerate(records):
        index[j] = r.index
        params[j] = r.params
        cols["status"][j] = int(r.status)
        cols["iteration"][j] = r.iteration
        cols["spin_ref"][j] = spin_refs.get(r.index, -1)
        worker.append(storable_text(r.worker))
        res = r.result
        row: dict[str, float] = {}
        if res is None:
            error.append("")
        else:
            cols["phase"][j] = phase_id(r, vocabulary)
            cols["confidence"][j] = res.confidence
            cols["energy"][j] = res.energy
            cols["duration"][j] = res.duration
            error.append(storable_text(res.error or ""))
            for key, value in res.scalar_observables().items():
                name = storable_text(key)
                names.setdefault(name, len(names))
                row[name] = value
        obs_rows.append(row)
    obs = np.full((k, len(names)), np.nan)
    for j, row in enumerate(obs_rows):
        for name, value in row.items():
            obs[j, names[name]] = value
    return Batch(index, params, cols, worker, error, list(names), obs)


class PointTable:
    """Points of one exploration as growable numpy columns (row ``i`` is point index ``i``).

    ``spin_ref`` (in ``cols``) holds, per point, where its spins live (-1: none); its meaning
    belongs to the store (a sidecar file number for the HDF5 store, a key for the memory
    store). Workers are kept as codes into ``worker_names`` (code 0 is ``""``), errors as
    text (``""``: none).
    """

    def __init__(self, n_dims: int) -> None:
        self.n_dims = n_dims
        self.n = 0
        self.params = np.empty((0, n_dims))
        self.cols: dict[str, np.ndarray] = {k: np.empty(0, dt) for k, dt in NUMERIC_COLUMNS.items()}
        self.worker_id = np.empty(0, np.int32)
        self.worker_names: list[str] = [""]
        self._worker_codes = {"": 0}
        self.error = np.empty(0, object)
        self.obs_names: list[str] = []
        self.obs = np.empty((0, 0))

    @property
    def spin_ref(self) -> np.ndarray:
        return self.cols["spin_ref"]

    # -------------------------------------------------------------- validation / upsert
    def validate(self, records: Sequence[PointRecord]) -> list[PointRecord]:
        """Check a batch before anything is changed; return it as a list."""
        if isinstance(records, (PointRecord, str, bytes)) or not isinstance(records, Sequence):
            raise TypeError(f"records must be a sequence of PointRecord; got {type(records).__name__}")
        recs = list(records)
        for r in recs:
            if not isinstance(r, PointRecord):
                raise TypeError(f"records must hold PointRecord objects; got {type(r).__name__} {r!r:.60}")
            if r.params.shape != (self.n_dims,):
                raise ValueError(
                    f"record {r.index} has params of shape {r.params.shape}; this store's space has "
                    f"{self.n_dims} free dimensions, so params must have shape ({self.n_dims},)"
                )
            if r.index < 0:
                raise ValueError(f"record index must be >= 0; got {r.index}")
        idx = [r.index for r in recs]
        dup = [i for i, c in Counter(idx).items() if c > 1]
        if dup:
            raise ValueError(f"records hold index {dup[0]} more than once; pass each point once per write")
        new = sorted(i for i in idx if i >= self.n)
        if new and new != list(range(self.n, self.n + len(new))):
            raise ValueError(
                f"new records must extend the store without gaps: it holds indices 0..{self.n - 1}, "
                f"so new indices must start at {self.n}; got {new[:8]}"
            )
        return recs

    def _grow(self, n_new: int) -> None:
        if n_new <= self.n:
            return
        cap = len(self.worker_id)
        if n_new > cap:
            cap = max(n_new, 2 * cap, 64)
            self.params = _resize(self.params, cap, np.nan)
            for k in self.cols:
                self.cols[k] = _resize(self.cols[k], cap, 0)
            self.worker_id = _resize(self.worker_id, cap, 0)
            self.error = _resize(self.error, cap, "")
            self.obs = _resize(self.obs, cap, np.nan)
        self.n = n_new

    def _obs_col(self, name: str) -> int:
        try:
            return self.obs_names.index(name)
        except ValueError:
            self.obs_names.append(name)
            extra = np.full((self.obs.shape[0], 1), np.nan)
            self.obs = np.hstack([self.obs, extra])
            return len(self.obs_names) - 1

    def worker_code(self, name: str) -> int:
        code = self._worker_codes.get(name)
        if code is None:
            code = self._worker_codes[name] = len(self.worker_names)
            self.worker_names.append(name)
        return code

    def apply(self, records: Sequence[PointRecord], spin_refs: Mapping[int, int],
              vocabulary: Vocabulary | None = None) -> None:
        """Upsert validated ``records``; ``spin_refs`` maps index -> spin location."""
        self.apply_batch(batch_from_records(records, self.n_dims, spin_refs, vocabulary))

    def apply_batch(self, b: Batch) -> None:
        """Upsert the rows of ``b`` (a later row of the same index wins)."""
        if not b.k:
            return
        idx = b.index
        self._grow(max(self.n, int(idx.max()) + 1))
        self.params[idx] = b.params
        for name, col in b.cols.items():
            self.cols[name][idx] = col
        self.worker_id[idx] = [self.worker_code(w) for w in b.worker]
        err = np.empty(b.k, object)
        err[:] = b.error
        self.error[idx] = err
        where = [self._obs_col(name) for name in b.obs_names]  # may widen self.obs: first
        self.obs[idx] = np.nan
        if where:
            self.obs[np.ix_(idx, where)] = b.obs

    # -------------------------------------------------------------- export / import
    def arrays(self) -> dict[str, np.ndarray]:
        """The live rows of every column (views, except ``worker``: a fresh array of text)."""
        n = self.n
        out = {"params": self.params[:n], "observables": self.obs[:n], "worker_id": self.worker_id[:n],
               "error": self.error[:n]}
        out.update({k: v[:n] for k, v in self.cols.items()})
        out["worker"] = np.array(self.worker_names, dtype=object)[self.worker_id[:n]]
        return out

    @classmethod
    def from_columns(cls, n_dims: int, *, params: np.ndarray, cols: Mapping[str, np.ndarray],
                     worker_id: np.ndarray, worker_names: Sequence[str], error: np.ndarray,
                     obs_names: Sequence[str], obs: np.ndarray) -> PointTable:
        """Rebuild a table from stored columns; ``ValueError`` when they do not fit together."""
        table = cls(n_dims)
        n = len(cols["status"])
        table.n = n
        table.params = np.asarray(params, dtype=float).reshape(n, n_dims)
        table.cols = {k: np.asarray(cols[k], dtype=dt).reshape(n) for k, dt in NUMERIC_COLUMNS.items()}
        table.worker_id = np.asarray(worker_id, dtype=np.int32).reshape(n)
        names = [str(x) for x in worker_names]
        if not names or names[0] != "" or len(set(names)) != len(names):
            raise ValueError("worker names must start with '' and be unique")
        table.worker_names, table._worker_codes = names, {w: i for i, w in enumerate(names)}
        table.error = np.array(error, dtype=object).reshape(n)
        table.obs_names = [str(x) for x in obs_names]
        table.obs = np.asarray(obs, dtype=float).reshape(n, len(table.obs_names))
        table.check()
        return table

    def check(self) -> None:
        """Raise ``ValueError`` when a column holds a value no writer produces."""
        st, ph, w = self.cols["status"][: self.n], self.cols["phase"][: self.n], self.worker_id[: self.n]
        if st.size and (st.min() < 0 or st.max() >= len(PointStatus)):
            raise ValueError(f"status column holds values outside 0..{len(PointStatus) - 1}")
        if ph.size and (ph.min() < -1 or ph.max() > MAX_ID):
            raise ValueError(f"phase column holds values outside -1..{MAX_ID}")
        if w.size and (w.min() < 0 or w.max() >= len(self.worker_names)):
            raise ValueError(f"worker codes outside 0..{len(self.worker_names) - 1}")

    def counts(self, vocabulary: Vocabulary | None = None) -> dict[str, dict[str, int]]:
        """Points by status name and by phase name (labelled points only, in the vocabulary's
        order), from the columns."""
        vocabulary = Vocabulary() if vocabulary is None else vocabulary
        st = np.bincount(self.cols["status"][: self.n].astype(np.intp), minlength=len(PointStatus))
        ph = self.cols["phase"][: self.n]
        phc = np.bincount(ph[_labelled(ph)].astype(np.intp), minlength=MAX_ID + 1)
        ids = sorted(np.flatnonzero(phc).tolist(), key=vocabulary.order_key)
        return {"status": {s.name: int(st[s.value]) for s in PointStatus if st[s.value]},
                "phase": {vocabulary.name_of(i): int(phc[i]) for i in ids}}

    def to_records(self, spins: Callable[[int, int], np.ndarray | None] | None = None,
                   vocabulary: Vocabulary | None = None) -> list[PointRecord]:
        """All points as :class:`PointRecord`; ``spins(index, ref)`` fetches saved spins;
        ``vocabulary`` names the label ids (the built-in one by default)."""
        vocabulary = Vocabulary() if vocabulary is None else vocabulary
        n = self.n
        c = {k: v[:n].tolist() for k, v in self.cols.items()}
        workers = np.array(self.worker_names, dtype=object)[self.worker_id[:n]].tolist()
        obs = self.obs[:n].tolist()
        names = self.obs_names
        statuses = {int(s): s for s in PointStatus}
        outcome = {int(PointStatus.FAILED): PhaseType.FAILED, int(PointStatus.TIMEOUT): PhaseType.TIMEOUT}
        labels: dict[int, Any] = {}
        out = []
        for i in range(n):
            phase = c["phase"][i]
            result = None
            # a failure's result has phase -1 and a confidence (NaN: the point has no result)
            if phase >= 0 or (c["status"][i] in outcome and c["confidence"][i] == c["confidence"][i]):
                if phase < 0:
                    label = outcome[c["status"][i]]
                else:
                    if phase not in labels:
                        try:
                            labels[phase] = vocabulary.label_of(phase)
                        except KeyError as exc:
                            raise ValueError(f"point {i} has phase id {phase}, which the stored vocabulary "
                                             f"does not name") from exc
                    label = labels[phase]
                ref = c["spin_ref"][i]
                result = SimulationResult(
                    phase=label,
                    confidence=c["confidence"][i],
                    energy=c["energy"][i],
                    observables={k: v for k, v in zip(names, obs[i]) if v == v},  # v != v: NaN
                    duration=c["duration"][i],
                    error=self.error[i] or None,
                    spins=spins(i, ref) if (spins is not None and ref >= 0) else None,
                )
            out.append(
                PointRecord(
                    index=i, params=self.params[i], status=statuses[c["status"][i]],
                    iteration=c["iteration"][i], result=result, worker=workers[i],
                )
            )
        return out

    # -------------------------------------------------------------- views for people
    def summary(self, header: Sequence[str], names: Sequence[str], vocabulary: Vocabulary | None = None) -> str:
        """A few lines: header, point counts by status and by phase, observables."""
        vocabulary = Vocabulary() if vocabulary is None else vocabulary
        a = self.arrays()
        lines = list(header)
        lines.append(f"points: {self.n}")
        st = Counter(int(x) for x in a["status"])
        lines.append("status: " + (", ".join(f"{PointStatus(k).name} {v}" for k, v in sorted(st.items())) or "-"))
        ph = Counter(int(x) for x in a["phase"][_labelled(a["phase"])])
        lines.append("phases: " + (", ".join(f"{vocabulary.name_of(k)} {v}" for k, v in sorted(ph.items(), key=lambda kv: -kv[1])) or "-"))
        if self.n:
            it = a["iteration"]
            lines.append(f"iterations: {int(it.min())}..{int(it.max())}")
            dur = a["duration"][np.isfinite(a["duration"])]
            if dur.size:
                lines.append(f"simulation time: total {dur.sum():.4g} s, median {np.median(dur):.3g} s")
        lines.append("observables: " + (", ".join(self.obs_names) or "-"))
        lines.append("dimensions: " + ", ".join(names))
        return "\n".join(lines)

    def to_dataframe(self, names: Sequence[str], vocabulary: Vocabulary | None = None) -> Any:
        """A pandas DataFrame, one row per point (index = point index; ``phase``: label names)."""
        vocabulary = Vocabulary() if vocabulary is None else vocabulary
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError(
                "to_dataframe() needs pandas, which is not installed; install it with "
                "`pip install pandas` (or `pip install spinexplore[all]`), or read the columns "
                "with store.read() / plain h5py"
            ) from exc
        a = self.arrays()
        cols: dict[str, Any] = {name: a["params"][:, j].copy() for j, name in enumerate(names)}
        cols["status"] = [PointStatus(int(x)).name for x in a["status"]]
        cols["phase"] = [vocabulary.name_of(int(x)) if ok else None for x, ok in zip(a["phase"], _labelled(a["phase"]))]
        for k in ("confidence", "energy", "duration", "iteration"):
            cols[k] = a[k].copy()
        cols["worker"] = list(a["worker"])
        cols["error"] = [e or None for e in a["error"]]
        for j, name in enumerate(self.obs_names):
            cols[name if name not in cols else f"obs_{name}"] = a["observables"][:, j].copy()
        df = pd.DataFrame(cols, index=pd.RangeIndex(self.n, name="index"))
        return df


def _labelled(phase: np.ndarray) -> np.ndarray:
    """Rows with a phase label: not -1, and not FAILED / TIMEOUT (outcomes an old store kept
    in the phase column; they are statuses)."""
    return (phase >= 0) & (phase != int(PhaseType.FAILED)) & (phase != int(PhaseType.TIMEOUT))


def _resize(arr: np.ndarray, cap: int, fill: Any) -> np.ndarray:
    out = np.empty((cap,) + arr.shape[1:], dtype=arr.dtype)
    out[: len(arr)] = arr
    out[len(arr):] = fill
    return out


def check_spins(index: int, spins: Any) -> np.ndarray:
    """Spins of point ``index`` as a C-contiguous float32 (N, 3) array, or ``ValueError``."""
    arr = np.asarray(spins)
    if arr.ndim != 2 or arr.shape[1] != 3 or arr.shape[0] < 1:
        raise ValueError(f"spins of record {index} must have shape (N, 3); got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"spins of record {index} must be finite; got NaN or inf")
    return np.ascontiguousarray(arr, dtype=SPIN_DTYPE)
