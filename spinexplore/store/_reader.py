"""Reading a store back (main file, then its journal), with the checks that turn bad files into clear errors."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from spinexplore.space import ParameterSpace
from spinexplore.store._journal import JournalDamaged, read_journal
from spinexplore.store._table import PointTable
from spinexplore.store._writer import FORMAT_NAME, text_crc32
from spinexplore.store.base import SCHEMA_VERSION, StoreError

#: Oldest schema this version reads (schema 1 is the first released layout).
OLDEST_SCHEMA = 1
_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_NUMERIC = ("params", "status", "phase", "iteration", "confidence", "energy", "duration",
            "observables", "spins_file")
_COLUMNS = {1: _NUMERIC + ("observable_names", "worker", "error"),
            2: _NUMERIC + ("observable_names", "worker", "worker_names", "error_index", "error_text")}
_COLUMNS[3] = _COLUMNS[2]  # schema 3: label ids >= 10 named by state["vocabulary"]
#: how often a reader retries when a writer replaced the main file while it was reading
_RETRIES = 20


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


def stamp(path: Path) -> tuple[int, int, int] | None:
    """Identity of the file at ``path`` (inode, mtime, size), None when missing."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def journal_path(path: Path) -> Path:
    return path.with_name(path.name + ".journal")


def load_store(path: Path) -> dict[str, Any]:
    """The last complete checkpoint: the main file with the frames of its journal applied.

    A writer may compact while we read (replace the main file and delete the journal):
    the read is retried until the main file is the same before and after.

    Raises
    ------
    StoreError
        Not HDF5, not a store, a schema this version cannot read, or damaged.
    """
    for _ in range(_RETRIES):
        loaded = load_file(path)
        replay(path, loaded, 0)
        if stamp(path) == loaded["stamp"]:
            return loaded
    raise StoreError(f"{path} kept changing while it was read (a writer compacting it); retry")  # pragma: no cover


def replay(path: Path, loaded: dict[str, Any], offset: int, *, raw: bytes | None = None) -> None:
    """Apply the journal's frames from ``offset`` to ``loaded`` (an ``ExplorationStore.__dict__``)."""
    jpath = journal_path(path)
    loaded.setdefault("_journal_end", 0)
    loaded.setdefault("_journal_frames", 0)
    loaded.setdefault("_journal_torn", False)
    loaded.setdefault("_journal_stamp", None)
    if loaded["_store_id"] is None:  # schema 1: no journal belongs to it
        return
    jstamp = stamp(jpath)
    try:
        found = read_journal(jpath, store_id=loaded["_store_id"], generation=loaded["_generation"],
                             n_dims=loaded["space"].n_dims, offset=offset, data=raw)
        if not found.matches:
            return
        table = loaded["_table"]
        for frame in found.frames:
            k = loaded["_checkpoint"]
            if frame.checkpoint <= k:
                continue
            if frame.checkpoint != k + 1:
                raise JournalDamaged(f"checkpoint {k + 1} is missing (the next frame holds {frame.checkpoint})")
            b = frame.batch
            if b.k and (b.index.min() < 0 or b.index.max() >= table.n + b.k):
                raise ValueError(f"checkpoint {frame.checkpoint} holds indices beyond the store")
            table.apply_batch(b)
            loaded["_state_json"], loaded["_checkpoint"], loaded["_updated"] = (
                frame.state_json, frame.checkpoint, frame.updated)
        table.check()
        json.loads(loaded["_state_json"])
    except JournalDamaged as exc:
        raise StoreError(
            f"{jpath} (the checkpoint journal of {path.name}) is damaged: {exc}. The main file "
            f"holds checkpoint {loaded['_checkpoint']}; restore a copy of both files, or move the "
            f"journal aside to open the store at that checkpoint (the later ones are lost)"
        ) from None
    except OSError as exc:
        raise StoreError(
            f"{jpath} (the checkpoint journal of {path.name}) cannot be read ({exc.strerror or exc}); "
            f"check its permissions and the file system"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreError(
            f"{jpath} (the checkpoint journal of {path.name}) cannot be read ({type(exc).__name__}: "
            f"{exc}); it was not written by this spinexplore or is damaged: restore a copy, or move it "
            f"aside to open the store at checkpoint {loaded['_checkpoint']}"
        ) from None
    loaded["_journal_end"] = found.end
    loaded["_journal_frames"] += len(found.frames)
    loaded["_journal_torn"] = found.torn
    loaded["_journal_stamp"] = jstamp


def load_file(path: Path) -> dict[str, Any]:
    """Read the main file at ``path`` (schema 1 or 2) into the attributes of an ``ExplorationStore``.

    Raises
    ------
    StoreError
        Not HDF5, not a spinexplore store, a schema this version cannot read, or damaged.
    """
    try:
        stat = os.stat(path)
        st = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        signed = has_hdf5_signature(path, stat.st_size)
    except PermissionError as exc:
        raise StoreError(f"{path} cannot be read ({exc.strerror}); check its permissions") from None
    if not signed:
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
    try:
        with f:
            try:
                fmt = f.attrs.get("format")
                fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
                has_version = "schema_version" in f.attrs
            except (OSError, KeyError, ValueError, TypeError, RuntimeError):
                fmt, has_version = None, False
            if fmt != FORMAT_NAME or not has_version:
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
            out = _read(f, version)
    except StoreError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError, IndexError, AttributeError) as exc:
        raise StoreError(
            f"{path} is damaged or incomplete and cannot be read ({type(exc).__name__}: {exc}); "
            f"restore a copy of the file"
        ) from None
    out["stamp"] = st
    return out


def _attr_text(f, name: str, default: str = "") -> str:
    value = f.attrs.get(name, default)
    return value.decode() if isinstance(value, bytes) else str(value)


def _read(f, version: int) -> dict[str, Any]:
    space = ParameterSpace.from_dict(json.loads(_text(f["space"])))
    config_json = _text(f["config"])
    state_json = _text(f["state"])
    json.loads(config_json), json.loads(state_json)  # fail here, not at first use
    g = f["points"]
    missing = [c for c in _COLUMNS[version] if c not in g]
    if missing:
        raise KeyError(f"datasets {missing} missing from group /points")
    data = {c: g[c][()] for c in _NUMERIC}
    n = len(data["status"])
    if version == 1:
        workers = _strings(g["worker"])
        names = [""] + sorted(set(workers.tolist()) - {""})
        codes = {w: i for i, w in enumerate(names)}
        worker_id = np.array([codes[w] for w in workers], dtype=np.int32)
        error = _strings(g["error"])
    else:
        worker_id, names = g["worker"][()], list(_strings(g["worker_names"]))
        where, text = g["error_index"][()], _strings(g["error_text"])
        if len(where) != len(text) or (len(where) and (where.min() < 0 or where.max() >= n)):
            raise ValueError("error_index and error_text do not match the points")
        error = np.full(n, "", dtype=object)
        error[where] = text
    lengths = {c: len(v) for c, v in data.items()} | {"worker": len(worker_id), "error": len(error)}
    if set(lengths.values()) != {n} and n:
        raise ValueError(f"columns of /points have different lengths {lengths}")
    if n != int(f.attrs["n_points"]):
        raise ValueError(f"/points holds {n} rows but attribute n_points is {int(f.attrs['n_points'])}")
    if version >= 2:
        obs_names, texts = list(_strings(g["observable_names"])), list(_strings(g["error_text"]))
        if text_crc32(_text(f["space"]), config_json, state_json, obs_names, names, texts) != int(f.attrs["text_crc32"]):
            raise ValueError("the checksum of its texts (JSON, names, errors) does not match")
    cols = {k: data[k] for k in ("status", "phase", "iteration", "confidence", "energy", "duration")}
    cols["spin_ref"] = data["spins_file"]
    table = PointTable.from_columns(
        space.n_dims, params=data["params"], cols=cols, worker_id=worker_id, worker_names=names,
        error=error, obs_names=list(_strings(g["observable_names"])), obs=data["observables"])
    versions = json.loads(f.attrs["versions"]) if "versions" in f.attrs else {}
    return {
        "space": space,
        "save_spins": bool(int(f.attrs.get("save_spins", 0))),
        "schema_version": version,
        "_config_json": config_json,
        "_state_json": state_json,
        "_table": table,
        "_created": _attr_text(f, "created"),
        "_updated": _attr_text(f, "updated"),
        "_checkpoint": int(f.attrs.get("checkpoint", 0)),
        "_versions": versions,
        "_store_id": _attr_text(f, "store_id") if version >= 2 else None,
        "_generation": int(f.attrs.get("generation", 0)),
    }
