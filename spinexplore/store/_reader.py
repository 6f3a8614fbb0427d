"""Reading an exploration file back, with the checks that turn bad files into clear errors."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from spinexplore.space import ParameterSpace
from spinexplore.store._table import PointTable
from spinexplore.store._writer import FORMAT_NAME
from spinexplore.store.base import SCHEMA_VERSION, StoreError

#: Oldest schema this version reads (schema 1 is the first released layout).
OLDEST_SCHEMA = 1
_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_COLUMNS = ("params", "status", "phase", "iteration", "confidence", "energy", "duration",
            "observables", "spins_file", "observable_names", "worker", "error")


def _text(ds) -> str:
    value = ds[()]
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _strings(ds) -> np.ndarray:
    return np.array([x.decode("utf-8") if isinstance(x, bytes) else str(x) for x in ds[()]], dtype=object)


def has_hdf5_signature(path: Path, size: int) -> bool:
    """True when the HDF5 signature sits at offset 0, 512, 1024, 2048... (user block)."""
    offset = 0
    with open(path, "rb") as fh:
        while offset + 8 <= size:
            fh.seek(offset)
            if fh.read(8) == _SIGNATURE:
                return True
            offset = 512 if offset == 0 else 2 * offset
    return False


def open_h5(path: Path):
    """Open read-only without HDF5's file locking (files are never modified in place, and
    locking fails on some parallel file systems, e.g. Lustre without flock)."""
    import h5py

    try:
        return h5py.File(path, "r", locking=False)
    except (TypeError, ValueError):  # pragma: no cover - HDF5 without the locking switch
        return h5py.File(path, "r")


def load_file(path: Path) -> dict[str, Any]:
    """Read the whole store at ``path`` into the attributes of an ``ExplorationStore``.

    Raises
    ------
    StoreError
        Not HDF5, not a spinexplore store, a schema this version cannot read, or damaged.
    """
    stat = os.stat(path)
    stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    if not has_hdf5_signature(path, stat.st_size):
        raise StoreError(
            f"{path} is not an HDF5 file (no HDF5 signature, {stat.st_size} bytes); "
            f"pass the exploration.h5 file that spinexplore wrote"
        )
    try:
        f = open_h5(path)
    except OSError as exc:
        raise StoreError(
            f"{path} is damaged (truncated or corrupted) and cannot be opened: {exc}. "
            f"spinexplore replaces the file atomically, so this damage came from outside it; "
            f"restore a copy of the file"
        ) from None
    with f:
        fmt = f.attrs.get("format")
        fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
        if fmt != FORMAT_NAME or "schema_version" not in f.attrs:
            raise StoreError(
                f"{path} is an HDF5 file but not a spinexplore exploration store "
                f"(attribute 'format' is {fmt!r}); pass the exploration.h5 that spinexplore wrote"
            )
        version = int(f.attrs["schema_version"])
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{path} was written with store schema {version} by spinexplore "
                f"{f.attrs.get('spinexplore_version')!r}; this spinexplore reads schema "
                f"{OLDEST_SCHEMA}..{SCHEMA_VERSION}. Upgrade: pip install -U spinexplore"
            )
        if version < OLDEST_SCHEMA:
            raise StoreError(
                f"{path} has store schema {version}, older than any this spinexplore reads "
                f"({OLDEST_SCHEMA}..{SCHEMA_VERSION}); open it with the spinexplore version that wrote it"
            )
        try:
            return _read_v1(f, stamp)
        except StoreError:
            raise
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise StoreError(
                f"{path} is damaged or incomplete and cannot be read ({type(exc).__name__}: {exc}); "
                f"restore a copy of the file"
            ) from None


def _read_v1(f, stamp) -> dict[str, Any]:
    space = ParameterSpace.from_dict(json.loads(_text(f["space"])))
    config_json = _text(f["config"])
    state_json = _text(f["state"])
    json.loads(config_json), json.loads(state_json)  # fail here, not at first use
    g = f["points"]
    missing = [c for c in _COLUMNS if c not in g]
    if missing:
        raise KeyError(f"datasets {missing} missing from group /points")
    data = {c: g[c][()] for c in _COLUMNS if c not in ("observable_names", "worker", "error")}
    data["worker"], data["error"] = _strings(g["worker"]), _strings(g["error"])
    data["spin_ref"] = data.pop("spins_file")
    names = list(_strings(g["observable_names"]))
    n = len(data["status"])
    lengths = {c: len(v) for c, v in data.items()}
    if set(lengths.values()) != {n} and n:
        raise ValueError(f"columns of /points have different lengths {lengths}")
    if n != int(f.attrs["n_points"]):
        raise ValueError(f"/points holds {n} rows but attribute n_points is {int(f.attrs['n_points'])}")
    table = PointTable.from_arrays(space.n_dims, data, names)
    table.check()
    versions = json.loads(f.attrs["versions"]) if "versions" in f.attrs else {}
    created = f.attrs.get("created", "")
    return {
        "stamp": stamp,
        "space": space,
        "save_spins": bool(int(f.attrs.get("save_spins", 0))),
        "_config_json": config_json,
        "_state_json": state_json,
        "_table": table,
        "_created": created.decode() if isinstance(created, bytes) else str(created),
        "_checkpoint": int(f.attrs.get("checkpoint", 0)),
        "_versions": versions,
    }
