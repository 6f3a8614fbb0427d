"""Column-wise point table and JSON codec shared by every store (memory and HDF5).

Both stores keep the points in a :class:`PointTable` and encode the explorer state with
:func:`encode_json`, so a :class:`~spinexplore.store.MemoryStore` returns exactly what an
:class:`~spinexplore.store.ExplorationStore` returns after a trip through the disk.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from spinexplore.results import PhaseType, PointRecord, PointStatus, SimulationResult

#: dtype of stored spin configurations (see docs/store-format.md, "Spins").
SPIN_DTYPE = np.float32

_STRING_COLUMNS = ("worker", "error")
_NUMERIC_COLUMNS = {
    "status": np.int8,
    "phase": np.int8,
    "iteration": np.int64,
    "confidence": np.float64,
    "energy": np.float64,
    "duration": np.float64,
}


# ---------------------------------------------------------------------------------- JSON
def _plain(obj: Any, where: str) -> Any:
    """``obj`` with numpy scalars/arrays turned into Python ones; non-str keys rejected."""
    if isinstance(obj, Mapping):
        out = {}
        for key, value in obj.items():
            if not isinstance(key, str):
                raise TypeError(
                    f"{where} has key {key!r} of type {type(key).__name__}; JSON keys must be str. "
                    f"Convert it with str() before storing"
                )
            out[key] = _plain(value, f"{where}[{key!r}]")
        return out
    if isinstance(obj, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist(), where)
    raise TypeError(
        f"{where} holds {obj!r:.60} of type {type(obj).__name__}, which JSON cannot store; "
        f"allowed: dict (str keys), list, tuple, str, int, float, bool, None and numpy scalars/arrays"
    )


def encode_json(obj: Any, name: str) -> str:
    """Encode a JSON-able mapping exactly (ints of any size stay ints, floats use ``repr``).

    Raises
    ------
    TypeError
        If ``obj`` is not a mapping or holds something JSON cannot represent.
    """
    if not isinstance(obj, Mapping):
        raise TypeError(f"{name} must be a mapping (a JSON-able dict); got {type(obj).__name__} {obj!r:.60}")
    plain = _plain(obj, name)
    try:
        return json.dumps(plain, allow_nan=True, separators=(",", ":"))
    except ValueError as exc:  # circular reference
        raise TypeError(f"{name} cannot be encoded as JSON: {exc}") from None


def decode_json(text: str) -> dict[str, Any]:
    """Inverse of :func:`encode_json` (a fresh object on each call)."""
    return json.loads(text)


# ---------------------------------------------------------------------------------- table
class PointTable:
    """Points of one exploration as growable numpy columns (row ``i`` is point index ``i``).

    ``spin_ref`` holds, per point, where its spins live (-1: none); its meaning belongs to
    the store (a sidecar file number for the HDF5 store, a key for the memory store).
    """

    def __init__(self, n_dims: int) -> None:
        self.n_dims = n_dims
        self.n = 0
        self.params = np.empty((0, n_dims))
        self.cols: dict[str, np.ndarray] = {k: np.empty(0, dt) for k, dt in _NUMERIC_COLUMNS.items()}
        self.strings: dict[str, np.ndarray] = {k: np.empty(0, object) for k in _STRING_COLUMNS}
        self.spin_ref = np.empty(0, np.int32)
        self.obs_names: list[str] = []
        self.obs = np.empty((0, 0))

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
        cap = len(self.spin_ref)
        if n_new > cap:
            cap = max(n_new, 2 * cap, 64)
            self.params = _resize(self.params, cap, np.nan)
            for k in self.cols:
                self.cols[k] = _resize(self.cols[k], cap, 0)
            for k in self.strings:
                self.strings[k] = _resize(self.strings[k], cap, "")
            self.spin_ref = _resize(self.spin_ref, cap, -1)
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

    def apply(self, records: Sequence[PointRecord], spin_refs: Mapping[int, int]) -> None:
        """Upsert validated ``records``; ``spin_refs`` maps index -> spin location."""
        if records:
            self._grow(max(self.n, 1 + max(r.index for r in records)))
        c, s = self.cols, self.strings
        for r in records:
            i = r.index
            self.params[i] = r.params
            c["status"][i] = int(r.status)
            c["iteration"][i] = r.iteration
            s["worker"][i] = storable_text(r.worker)
            self.obs[i] = np.nan
            res = r.result
            if res is None:
                c["phase"][i] = -1
                c["confidence"][i] = c["energy"][i] = c["duration"][i] = np.nan
                s["error"][i] = ""
            else:
                c["phase"][i] = int(res.phase)
                c["confidence"][i] = res.confidence
                c["energy"][i] = res.energy
                c["duration"][i] = res.duration
                s["error"][i] = storable_text(res.error or "")
                for key, value in res.scalar_observables().items():
                    col = self._obs_col(storable_text(key))  # may widen self.obs: look it up first
                    self.obs[i, col] = value
            self.spin_ref[i] = spin_refs.get(i, -1)

    # -------------------------------------------------------------- export / import
    def arrays(self) -> dict[str, np.ndarray]:
        """The live rows of every column (views, not copies)."""
        n = self.n
        out = {"params": self.params[:n], "spin_ref": self.spin_ref[:n], "observables": self.obs[:n]}
        out.update({k: v[:n] for k, v in self.cols.items()})
        out.update({k: v[:n] for k, v in self.strings.items()})
        return out

    @classmethod
    def from_arrays(cls, n_dims: int, data: Mapping[str, np.ndarray], obs_names: Sequence[str]) -> PointTable:
        """Rebuild a table from the columns written by :meth:`arrays`."""
        table = cls(n_dims)
        n = len(data["status"])
        table.n = n
        table.params = np.array(data["params"], dtype=float).reshape(n, n_dims)
        table.cols = {k: np.array(data[k], dtype=dt) for k, dt in _NUMERIC_COLUMNS.items()}
        table.strings = {k: np.array(list(data[k]), dtype=object).reshape(n) for k in _STRING_COLUMNS}
        table.spin_ref = np.array(data["spin_ref"], dtype=np.int32)
        table.obs_names = [str(x) for x in obs_names]
        table.obs = np.array(data["observables"], dtype=float).reshape(n, len(table.obs_names))
        return table

    def check(self) -> None:
        """Raise ``ValueError`` when a column holds a value no writer produces."""
        st, ph = self.cols["status"], self.cols["phase"]
        if st.size and (st.min() < 0 or st.max() >= len(PointStatus)):
            raise ValueError(f"status column holds values outside 0..{len(PointStatus) - 1}")
        if ph.size and (ph.min() < -1 or ph.max() >= len(PhaseType)):
            raise ValueError(f"phase column holds values outside -1..{len(PhaseType) - 1}")

    def to_records(self, spins: Callable[[int, int], np.ndarray | None] | None = None) -> list[PointRecord]:
        """All points as :class:`PointRecord`; ``spins(index, ref)`` fetches saved spins."""
        a = self.arrays()
        out = []
        for i in range(self.n):
            phase = int(a["phase"][i])
            result = None
            if phase >= 0:
                row = a["observables"][i]
                obs = {k: float(v) for k, v in zip(self.obs_names, row) if not math.isnan(v)}
                ref = int(a["spin_ref"][i])
                result = SimulationResult(
                    phase=PhaseType(phase),
                    confidence=float(a["confidence"][i]),
                    energy=float(a["energy"][i]),
                    observables=obs,
                    duration=float(a["duration"][i]),
                    error=a["error"][i] or None,
                    spins=spins(i, ref) if (spins is not None and ref >= 0) else None,
                )
            out.append(
                PointRecord(
                    index=i, params=a["params"][i], status=PointStatus(int(a["status"][i])),
                    iteration=int(a["iteration"][i]), result=result, worker=a["worker"][i],
                )
            )
        return out

    # -------------------------------------------------------------- views for people
    def summary(self, header: Sequence[str], names: Sequence[str]) -> str:
        """A few lines: header, point counts by status and by phase, observables."""
        a = self.arrays()
        lines = list(header)
        lines.append(f"points: {self.n}")
        st = Counter(int(x) for x in a["status"])
        lines.append("status: " + (", ".join(f"{PointStatus(k).name} {v}" for k, v in sorted(st.items())) or "-"))
        ph = Counter(int(x) for x in a["phase"] if x >= 0)
        lines.append("phases: " + (", ".join(f"{PhaseType(k).name} {v}" for k, v in sorted(ph.items(), key=lambda kv: -kv[1])) or "-"))
        if self.n:
            it = a["iteration"]
            lines.append(f"iterations: {int(it.min())}..{int(it.max())}")
            dur = a["duration"][np.isfinite(a["duration"])]
            if dur.size:
                lines.append(f"simulation time: total {dur.sum():.4g} s, median {np.median(dur):.3g} s")
        lines.append("observables: " + (", ".join(self.obs_names) or "-"))
        lines.append("dimensions: " + ", ".join(names))
        return "\n".join(lines)

    def to_dataframe(self, names: Sequence[str]) -> Any:
        """A pandas DataFrame, one row per point (index = point index)."""
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
        cols["phase"] = [PhaseType(int(x)).name if x >= 0 else None for x in a["phase"]]
        for k in ("confidence", "energy", "duration", "iteration"):
            cols[k] = a[k].copy()
        cols["worker"] = list(a["worker"])
        cols["error"] = [e or None for e in a["error"]]
        for j, name in enumerate(self.obs_names):
            cols[name if name not in cols else f"obs_{name}"] = a["observables"][:, j].copy()
        df = pd.DataFrame(cols, index=pd.RangeIndex(self.n, name="index"))
        return df


def storable_text(value: Any) -> str:
    """``str(value)`` as HDF5 can hold it: NUL -> U+FFFD, unencodable surrogates -> '?'."""
    return str(value).replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


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
