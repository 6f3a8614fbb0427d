"""Reading a store back (main file, then its journal), with the checks that turn bad files into clear errors."""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from spinexplore.space import ParameterSpace
from spinexplore.store._journal import JOURNAL_FORMAT, JournalDamaged, read_journal
from spinexplore.store._table import PointTable
from spinexplore.store._writer import FORMAT_NAME, check_seal, text_crc32
from spinexplore.store.base import SCHEMA_VERSION, StoreError

#: Oldest schema this version reads (schema 1 is the first released layout).
OLDEST_SCHEMA = 1
_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_NUMERIC = ("params", "status", "phase", "iteration", "confidence", "energy", "duration",
            "observables", "spins_file")
_COLUMNS = {1: _NUMERIC + ("observable_names", "worker", "error"),
            2: _NUMERIC + ("observable_names", "worker", "worker_names", "error_index", "error_text")}
_COLUMNS[3] = _COLUMNS[2]  # schema 3: label ids >= 10 named by state["vocabulary"]
#: a reader whose main file a writer replaced while it was reading retries at least this many
#: times, and for at least _RETRY_SECONDS, waiting a random, growing pause between tries so that
#: it lands between two compactions of a writer that compacts faster than one read takes
_RETRIES = 20
_RETRY_SECONDS = 60.0


def _text(ds) -> str:
    value = ds[()]
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _strings(ds) -> np.ndarray:
    return np.array([x.decode("utf-8") if isinstance(x, bytes) else str(x) for x in ds[()]], dtype=object)


def has_hdf5_signature(fh: BinaryIO, size: int) -> bool:
    """True when the HDF5 signature sits at offset 0, 512, 1024, 2048... (user block)."""
    offset = 0
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


#: Seconds (plus one per 5 MB) a separate process may take to parse a file without checksum
#: before it is declared damaged (the HDF5 library loops forever on some damaged files).
PROBE_SECONDS = 30.0
_PROBE = """
import sys, h5py
def visit(name, obj):
    for key in obj.attrs:
        obj.attrs[key]
    if isinstance(obj, h5py.Dataset):
        obj[()]
with h5py.File(sys.argv[1], "r", locking=False) as f:
    visit("/", f)
    f.visititems(visit)
"""


def probe(path: Path, size: int, fd: int | None = None) -> None:
    """Parse every object of ``path`` (the open file ``fd`` when given) in a separate process
    with a time limit.

    For files written without a checksum (:func:`~spinexplore.store._writer.seal`: by
    spinexplore 0.1, or rewritten by another tool): a damaged one can make the HDF5 library
    loop or abort, which must not happen in this process. Raises ``ValueError`` saying what
    happened.
    """
    import signal
    import subprocess
    import sys

    limit = PROBE_SECONDS + size / 5e6
    target, fds = path, ()
    try:
        done = subprocess.run([sys.executable, "-c", _PROBE, str(target)], capture_output=True, timeout=limit,
                              stdin=subprocess.DEVNULL, pass_fds=fds if target != path else ())
    except subprocess.TimeoutExpired:
        raise ValueError(f"the HDF5 library did not finish parsing it within {limit:.0f} s (it loops on "
                         "some damaged files)") from None
    if done.returncode < 0:
        raise ValueError(f"parsing it crashed the HDF5 library ({signal.Signals(-done.returncode).name})")
    if done.returncode:
        last = (done.stderr.decode(errors="replace").strip().splitlines() or ["?"])[-1]
        raise ValueError(f"the HDF5 library cannot parse it ({last})")


def _same_file(path: Path, fd: int | None) -> Path:
    """A name for the file open as ``fd`` (``/dev/fd/N``: the very bytes checked, even when
    ``path`` was replaced since), else ``path``."""
    if fd is not None:
        name = Path(f"/dev/fd/{fd}")
        try:
            if os.path.samestat(os.stat(name), os.fstat(fd)):
                return name
        except OSError:
            pass
    return path


def open_checked(path: Path, fh: BinaryIO | None = None):
    """An open read-only h5py file of ``path`` that is known to be intact before HDF5 parses it.

    A file spinexplore sealed is checked against its checksum; an older file without a seal
    is first parsed in a separate process with a time limit (:func:`probe`). Files are only
    ever replaced whole by a writer's rename, never changed in place; a replacement between the
    check and the open changes the file's stamp, and :func:`load_store` reads it again.

    Raises
    ------
    ValueError
        The file is damaged (what is wrong, in words).
    OSError
        It cannot be read.
    """
    own = fh is None
    if own:
        fh = open(path, "rb")
    try:
        fd = fh.fileno()
        if not check_seal(fh):
            probe(path, os.fstat(fd).st_size, fd)
        return open_h5(path)  # a file replaced meanwhile changes the stamp: load_store reads again
    finally:
        if own:
            fh.close()


def stamp(path: Path) -> tuple[int, int, int] | None:
    """Identity of the file at ``path`` (inode, mtime, size), None when missing."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def journal_path(path: Path) -> Path:
    return path.with_name(path.name + ".journal")


def load_store(path: Path, *, writer: bool = False) -> dict[str, Any]:
    """The last complete checkpoint: the main file with the frames of its journal applied.

    A writer may compact while we read (replace the main file and delete the journal):
    the read is retried until the main file is the same before and after. With ``writer``
    a damaged last journal frame is not an error: ``_journal_damaged`` says what is damaged
    (the writer keeps the journal aside before it compacts).

    Raises
    ------
    StoreError
        Not HDF5, not a store, a schema this version cannot read, or damaged.
    """
    start, tries, pause = time.monotonic(), 0, 0.005
    while True:
        loaded = load_file(path)
        try:
            replay(path, loaded, 0, writer=writer)
        except StoreError:
            if stamp(path) == loaded["stamp"]:
                raise
        else:
            if stamp(path) == loaded["stamp"]:
                return loaded
        # a compaction meanwhile (the journal is the next one): read again, after a pause
        tries += 1
        if tries >= _RETRIES and time.monotonic() - start > _RETRY_SECONDS:
            raise StoreError(f"{path} kept changing while it was read (a writer compacting it); retry")  # pragma: no cover
        time.sleep(random.uniform(0.0, pause))
        pause = min(2 * pause, 0.5)


def replay(path: Path, loaded: dict[str, Any], offset: int, *, raw: bytes | None = None,
           writer: bool = False) -> None:
    """Apply the journal's frames from ``offset`` to ``loaded`` (an ``ExplorationStore.__dict__``).

    A journal of an older generation of this store whose checkpoints are all in the main file
    (a compaction killed before it deleted it) is ignored (``_journal_stale``). Any other
    journal that does not continue the main file, and (unless ``writer``) a damaged last
    frame, raise :class:`StoreError` naming both files: nothing is dropped silently.
    """
    jpath = journal_path(path)
    loaded.setdefault("_journal_end", 0)
    loaded.setdefault("_journal_frames", 0)
    loaded.setdefault("_journal_torn", False)
    loaded.setdefault("_journal_stamp", None)
    loaded.setdefault("_journal_stale", False)
    loaded.setdefault("_journal_damaged", None)
    if loaded["_store_id"] is None:  # schema 1: no journal belongs to it
        if offset == 0 and jpath.exists():
            raise StoreError(f"{jpath} sits beside {path}, which was written by spinexplore 0.1 (store schema 1) "
                             f"and has no journal; nothing was changed. Move the journal aside "
                             f"(it belongs to another store) to open {path.name}")
        return
    jstamp = stamp(jpath)
    try:
        found = read_journal(jpath, store_id=loaded["_store_id"], generation=loaded["_generation"],
                             n_dims=loaded["space"].n_dims, offset=offset, data=raw)
        if not found.matches:
            _not_matching(path, jpath, loaded, found)
            loaded["_journal_stale"] = True
            loaded["_journal_damaged"] = found.damaged
            loaded["_journal_stamp"] = jstamp
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
        if found.damaged and not writer:
            raise StoreError(
                f"{jpath} (the checkpoint journal of {path.name}) is damaged: {found.damaged}. The store is "
                f"intact up to checkpoint {loaded['_checkpoint']} ({len(found.frames)} checkpoint(s) read from "
                f"the journal); the damaged one cannot be read. Nothing was changed. Restore a copy of both "
                f"files, or continue from checkpoint {loaded['_checkpoint']}: `spinexplore resume` (or "
                f"ExplorationStore.open(path, 'a')) keeps the damaged journal aside and says where"
            )
        loaded["_journal_damaged"] = found.damaged
    except StoreError:
        raise
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


def _not_matching(path: Path, jpath: Path, loaded: dict[str, Any], found: Any) -> None:
    """Return when the journal is a stale one of this store; else raise a StoreError naming both files."""
    head = found.header or {}
    jid, jgen = head.get("store_id"), head.get("generation")
    sid, gen, k = loaded["_store_id"], loaded["_generation"], loaded["_checkpoint"]
    if (head.get("format") == JOURNAL_FORMAT and jid == sid and isinstance(jgen, int) and jgen < gen
            and max(found.checkpoints, default=0) <= k):
        return  # a compaction folded it into the main file and was killed before deleting it
    newest = max(found.checkpoints, default=None)
    holds = (f"checkpoints {min(found.checkpoints)}..{newest}" if found.checkpoints else "no complete checkpoint")
    if head.get("format") != JOURNAL_FORMAT:
        what = f"{jpath.name} is not a spinexplore journal (format {head.get('format')!r})"
        advice = f"move it aside to open the store at checkpoint {k}"
    elif jid == sid:
        what = (f"{jpath.name} continues generation {jgen} of this store and holds {holds}, but {path.name} "
                f"is generation {gen} at checkpoint {k}")
        advice = (f"{path.name} looks older than its journal (restored from an older copy?): put back the "
                  f"newest {path.name}; or move the journal aside to continue from checkpoint {k}")
    else:
        what = (f"{jpath.name} belongs to store {jid} (generation {jgen}, {holds}) but {path.name} is store "
                f"{sid} (generation {gen}, checkpoint {k})")
        advice = (f"one of the two files was replaced, or damaged (a changed bit in {path.name}'s 'store_id' "
                  f"looks like this): restore both from a copy; or, to continue from {path.name} alone "
                  f"(checkpoint {k}, without the journal's checkpoints), move the journal aside")
    raise StoreError(f"the journal {jpath} does not match the store {path}: {what}. Nothing was changed; {advice}")


def load_file(path: Path) -> dict[str, Any]:
    """Read the main file at ``path`` (schema 1 or 2) into the attributes of an ``ExplorationStore``.

    Raises
    ------
    StoreError
        Not HDF5, not a spinexplore store, a schema this version cannot read, or damaged.
    """
    try:
        fh = open(path, "rb")
    except PermissionError as exc:
        raise StoreError(f"{path} cannot be read ({exc.strerror}); check its permissions") from None
    with fh:
        stat = os.fstat(fh.fileno())
        st = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if not has_hdf5_signature(fh, stat.st_size):
            raise StoreError(
                f"{path} is not an HDF5 file (no HDF5 signature, {stat.st_size} bytes); "
                f"pass the exploration.h5 file that spinexplore wrote"
            )
        try:
            f = open_checked(path, fh)
        except (OSError, ValueError) as exc:
            raise StoreError(
                f"{path} is damaged and was not read: {exc}. Nothing was changed. spinexplore replaces "
                f"this file atomically, so the damage came from outside it (disk, copy, another program). "
                f"What can be recovered: {_recoverable(path)}"
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


def _recoverable(path: Path) -> str:
    """The recovery advice for a damaged main file: what else of the store is on disk."""
    jpath = journal_path(path)
    spins = path.with_name(path.name + ".spins")
    kept = [p.name for p in (jpath, spins) if p.exists()]
    advice = f"restore {path.name} from a copy (backup) into {path.parent}"
    if kept:
        advice += (f"; {' and '.join(kept)} beside it were left as they are and continue that copy if it is "
                   f"the same run (then `spinexplore resume` or ExplorationStore.open(path, 'a') applies them)")
    return advice + ". Without one, HDF5 tools such as h5dump may salvage parts of it"


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
