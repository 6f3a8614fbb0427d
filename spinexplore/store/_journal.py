"""The checkpoint journal ``<store>.journal``: checksummed frames appended after the main file.

Layout (little-endian; details and the crash-safety argument in ``docs/store-format.md``)::

    header  b"SXJRNL\\r\\n" | u32 n | n bytes of JSON {"format", "version", "store_id", "generation"} | u32 crc32
    frame   b"SXFR" | u64 checkpoint | u64 m | m bytes of payload | u32 crc32(checkpoint, m, payload)
    payload u32 a | u32 b | a bytes of JSON meta | b bytes of state JSON | columns (raw arrays)

``meta`` is ``{"k", "d", "obs", "worker", "error", "updated"}``; the columns follow in the
order index (int64, k), params (float64, k x d), the ``NUMERIC_COLUMNS`` (k each), observables
(float64, k x len(obs)). A frame is one :class:`~spinexplore.store._table.Batch` plus the
explorer state after it.

A frame that fails its checks (magic, length, CRC) ends the journal. When it is the last
thing in the file and shorter than its own length says, it is a torn append (the writer died
inside ``write``) and is dropped. When it is complete (or contradicts its length) it was
damaged afterwards: ``JournalRead.damaged`` says so, and the store keeps the file aside
instead of dropping it. When a valid frame follows it, :class:`JournalDamaged` is raised,
because dropping it would silently lose checkpoints.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spinexplore.store._table import NUMERIC_COLUMNS, Batch
from spinexplore.store._writer import fsync_dir

__all__ = ["Frame", "JournalDamaged", "JournalRead", "JournalWriter", "encode_frame", "read_journal"]

HEADER_MAGIC = b"SXJRNL\r\n"
FRAME_MAGIC = b"SXFR"
JOURNAL_FORMAT = "spinexplore.journal"
JOURNAL_VERSION = 1
_U32 = struct.Struct("<I")
_FRAME_HEAD = struct.Struct("<4sQQ")  # magic, checkpoint, payload length
_PAYLOAD_HEAD = struct.Struct("<II")


class JournalDamaged(ValueError):
    """Bytes in the middle of a journal are damaged (a valid frame follows a bad one)."""


@dataclass
class Frame:
    """One decoded checkpoint of the journal."""

    checkpoint: int
    batch: Batch
    state_json: str
    updated: str


@dataclass
class JournalRead:
    """What :func:`read_journal` found: frames in order, where reading stopped, and why."""

    frames: list[Frame] = field(default_factory=list)
    end: int = 0  #: offset just after the last valid frame (or header)
    torn: bool = False  #: bytes after ``end`` that are not a valid frame (a torn append)
    matches: bool = True  #: the header names this store and generation
    header: dict | None = None  #: the header's JSON, when it is intact
    damaged: str | None = None  #: what is damaged in a complete last frame or header (not a torn append)
    checkpoints: list[int] = field(default_factory=list)  #: numbers of the valid frames read


# ------------------------------------------------------------------------------ encoding
def journal_header(store_id: str, generation: int) -> bytes:
    body = json.dumps({"format": JOURNAL_FORMAT, "version": JOURNAL_VERSION, "store_id": store_id,
                       "generation": generation}).encode()
    head = _U32.pack(len(body)) + body
    return HEADER_MAGIC + head + _U32.pack(zlib.crc32(head))


def encode_frame(checkpoint: int, batch: Batch, state_json: str, updated: str) -> bytes:
    """The bytes of one frame: the batch, the state after it, and a CRC over all of it."""
    meta = json.dumps({"k": batch.k, "d": int(batch.params.shape[1]) if batch.k else 0,
                       "obs": batch.obs_names, "worker": batch.worker, "error": batch.error,
                       "updated": updated}, ensure_ascii=False).encode()
    state = state_json.encode()
    parts = [_PAYLOAD_HEAD.pack(len(meta), len(state)), meta, state,
             np.ascontiguousarray(batch.index, np.int64).tobytes(),
             np.ascontiguousarray(batch.params, np.float64).tobytes()]
    parts += [np.ascontiguousarray(batch.cols[name], dt).tobytes() for name, dt in NUMERIC_COLUMNS.items()]
    parts.append(np.ascontiguousarray(batch.obs, np.float64).tobytes())
    payload = b"".join(parts)
    head = _FRAME_HEAD.pack(FRAME_MAGIC, checkpoint, len(payload))
    crc = zlib.crc32(payload, zlib.crc32(head[4:]))
    return head + payload + _U32.pack(crc)


def _decode_payload(payload: memoryview, n_dims: int) -> tuple[Batch, str, str]:
    a, b = _PAYLOAD_HEAD.unpack_from(payload, 0)
    pos = _PAYLOAD_HEAD.size
    meta = json.loads(bytes(payload[pos:pos + a]))
    state_json = bytes(payload[pos + a:pos + a + b]).decode()
    pos += a + b
    k, d, names = int(meta["k"]), int(meta["d"]), list(meta["obs"])
    if k and d != n_dims:
        raise ValueError(f"frame has {d} dimensions, the store {n_dims}")

    def take(dtype, count):
        nonlocal pos
        arr = np.frombuffer(payload, dtype=dtype, count=count, offset=pos)
        pos += arr.nbytes
        return arr

    index = take(np.int64, k)
    params = take(np.float64, k * n_dims).reshape(k, n_dims)
    cols = {name: take(dt, k) for name, dt in NUMERIC_COLUMNS.items()}
    obs = take(np.float64, k * len(names)).reshape(k, len(names))
    if pos != len(payload) or len(meta["worker"]) != k or len(meta["error"]) != k:
        raise ValueError("frame payload has the wrong size")
    return Batch(index, params, cols, list(meta["worker"]), list(meta["error"]), names, obs), state_json, meta["updated"]


# ------------------------------------------------------------------------------ reading
_ROW_BYTES = 8 + sum(np.dtype(dt).itemsize for dt in NUMERIC_COLUMNS.values())  # index + numeric columns


def _frame_at(data: memoryview, pos: int) -> tuple[int, memoryview, int] | None:
    """``(checkpoint, payload, end)`` of a valid frame at ``pos``, else None."""
    if pos + _FRAME_HEAD.size + 4 > len(data):
        return None
    magic, checkpoint, m = _FRAME_HEAD.unpack_from(data, pos)
    end = pos + _FRAME_HEAD.size + m + 4
    if magic != FRAME_MAGIC or end > len(data):
        return None
    payload = data[pos + _FRAME_HEAD.size:end - 4]
    crc = zlib.crc32(payload, zlib.crc32(data[pos + 4:pos + _FRAME_HEAD.size]))
    if crc != _U32.unpack_from(data, end - 4)[0]:
        return None
    return checkpoint, payload, end


def _torn(data: memoryview, pos: int) -> bool:
    """True when the bytes from ``pos`` (which hold no valid frame) are an interrupted append.

    An append killed half-way leaves a *prefix* of a frame: fewer bytes than the frame says
    it has, all of them right so far (or zeros: a power cut can extend a file before its data
    reaches the disk). A frame whose length is all there but whose checksum fails, or whose
    first bytes contradict its own length, was damaged after it was written.
    """
    rest = bytes(data[pos:])
    if not rest.strip(b"\x00"):
        return True
    if len(rest) < _FRAME_HEAD.size:
        return FRAME_MAGIC.startswith(rest[:4])
    magic, _, m = _FRAME_HEAD.unpack_from(rest, 0)
    if magic != FRAME_MAGIC or _FRAME_HEAD.size + m + 4 <= len(rest):
        return False  # wrong magic, or the whole frame is there but fails its checksum
    payload = rest[_FRAME_HEAD.size:]
    if len(payload) < _PAYLOAD_HEAD.size:
        return True
    a, b = _PAYLOAD_HEAD.unpack_from(payload, 0)
    if _PAYLOAD_HEAD.size + a > len(payload):
        return _PAYLOAD_HEAD.size + a + b <= m  # the meta is cut off: only its length can be checked
    try:  # the meta is all there: it says how long the frame must be
        meta = json.loads(payload[_PAYLOAD_HEAD.size:_PAYLOAD_HEAD.size + a])
        k, d, n_obs = int(meta["k"]), int(meta["d"]), len(meta["obs"])
    except (ValueError, KeyError, TypeError):
        return False
    return m == _PAYLOAD_HEAD.size + a + b + k * (_ROW_BYTES + 8 * d + 8 * n_obs)


def _valid_frame_after(data: memoryview, pos: int) -> int | None:
    """Offset of a valid frame somewhere after ``pos`` (evidence of damage, not of a torn tail)."""
    raw = data.obj if isinstance(data.obj, bytes) else bytes(data)
    start = raw.find(FRAME_MAGIC, pos + 1)
    while start >= 0:
        if _frame_at(data, start) is not None:
            return start
        start = raw.find(FRAME_MAGIC, start + 1)
    return None


def _header(data: memoryview) -> tuple[dict | None, int, bool]:
    """``(JSON, end, torn)`` of the header; JSON is None when it is missing, torn or damaged."""
    size = len(HEADER_MAGIC) + 4
    if len(data) < size:
        head = bytes(data)
        return None, 0, not head.strip(b"\x00") or HEADER_MAGIC.startswith(head[:len(HEADER_MAGIC)])
    if bytes(data[:len(HEADER_MAGIC)]) != HEADER_MAGIC:
        return None, 0, not bytes(data).strip(b"\x00")
    n = _U32.unpack_from(data, len(HEADER_MAGIC))[0]
    end = size + n + 4
    if end > len(data):  # cut off, unless its length is absurd (a header is ~100 bytes)
        return None, 0, n < 4096
    if zlib.crc32(data[len(HEADER_MAGIC):end - 4]) != _U32.unpack_from(data, end - 4)[0]:
        return None, 0, False
    try:
        head = json.loads(bytes(data[size:end - 4]))
    except ValueError:
        return None, 0, False
    return (head, end, False) if isinstance(head, dict) else (None, 0, False)


def read_journal(path: Path, *, store_id: str, generation: int, n_dims: int, offset: int = 0,
                 data: bytes | None = None) -> JournalRead:
    """Read the frames of ``path`` from ``offset`` (0: check the header first).

    Returns an empty :class:`JournalRead` when the file does not exist. ``matches`` is False
    when its header names another store or generation: then ``header`` holds that header,
    ``frames`` is empty and ``checkpoints`` lists the checkpoint numbers of its valid frames.
    ``torn`` marks an interrupted last append (safe to drop), ``damaged`` a last frame (or
    header) that is complete but fails its checks (to keep aside, never to drop silently).

    Raises
    ------
    JournalDamaged
        A valid frame follows an invalid one (or an invalid header).
    ValueError
        A frame passes its CRC but cannot be decoded (written by something else).
    """
    if data is None:
        try:
            with open(path, "rb") as fh:
                fh.seek(offset)
                data = fh.read()
        except FileNotFoundError:
            return JournalRead()
    view = memoryview(data)
    out = JournalRead(end=offset)
    pos = 0
    decode = True
    if offset == 0:
        if not data:
            return out
        head, pos, torn = _header(view)
        if head is None:
            found = _valid_frame_after(view, -1)
            if found is not None:
                raise JournalDamaged(f"the journal header is damaged but a valid frame sits at byte {found}")
            out.torn = torn
            if not torn:
                out.damaged = f"its header (bytes 0..{len(data)}) is damaged"
            return out
        out.header = head
        if (head.get("format") != JOURNAL_FORMAT or head.get("store_id") != store_id
                or head.get("generation") != generation):
            out.matches = False
            decode = False
        elif head.get("version") != JOURNAL_VERSION:
            raise ValueError(f"journal version {head.get('version')!r}; this spinexplore writes {JOURNAL_VERSION}")
        out.end = pos
    while pos < len(view):
        found = _frame_at(view, pos)
        if found is None:
            later = _valid_frame_after(view, pos)
            if later is not None:
                raise JournalDamaged(
                    f"bytes {offset + pos}..{offset + later} are damaged and a valid checkpoint follows them")
            if _torn(view, pos):
                out.torn = True
            else:
                out.damaged = (f"its last frame (bytes {offset + pos}..{offset + len(view)}) is damaged: it is "
                               f"complete but fails its checksum, so it is not an interrupted write")
            break
        checkpoint, payload, pos = found
        out.checkpoints.append(checkpoint)
        if decode:
            batch, state_json, updated = _decode_payload(payload, n_dims)
            out.frames.append(Frame(checkpoint, batch, state_json, updated))
        out.end = offset + pos
    return out


# ------------------------------------------------------------------------------ writing
class JournalWriter:
    """Appends frames durably (``fdatasync``); undoes a failed append by truncating back."""

    def __init__(self, path: Path, store_id: str, generation: int) -> None:
        self.path, self.store_id, self.generation = path, store_id, generation
        self._fd: int | None = None
        self.size = 0
        self.n_frames = 0
        self.broken = False  #: a failed append could not be undone: compact before the next one

    def append(self, frame: bytes) -> None:
        """Write ``frame`` after the last one and flush it to the disk; all or nothing on return."""
        data = frame
        if self._fd is None:
            data = journal_header(self.store_id, self.generation) + frame
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            self.size = 0
        start = self.size
        try:
            view = memoryview(data)
            pos = start
            while view:
                written = os.pwrite(self._fd, view, pos)
                view, pos = view[written:], pos + written
            _datasync(self._fd)
            if start == 0:
                fsync_dir(self.path.parent)
        except BaseException:
            try:
                os.ftruncate(self._fd, start)
                _datasync(self._fd)
            except OSError:
                self.broken = True
            raise
        self.size = pos
        self.n_frames += 1

    def remove(self) -> None:
        """Close and delete the journal (its frames are in the main file now)."""
        self.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def _datasync(fd: int) -> None:
    (getattr(os, "fdatasync", None) or os.fsync)(fd)
