"""Writing store files: the main layout (schema 3), durable writes, spin sidecar images."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import struct
import zlib
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from spinexplore.labels import Vocabulary
from spinexplore.results import PhaseType, PointStatus
from spinexplore.space import ParameterSpace
from spinexplore.store._table import PointTable, decode_json, encode_json
from spinexplore.store.base import SCHEMA_VERSION

FORMAT_NAME = "spinexplore.exploration"
SPIN_FILE = "spins-{:06d}.h5"
_image_counter = 0

#: The user block (the first 512 bytes, which HDF5 skips) of every file spinexplore writes
#: holds a checksum of the HDF5 bytes after it, checked before h5py parses anything: the HDF5
#: library does not fail cleanly on every damaged file (it can spin forever or abort).
#: ``SEAL_MAGIC | u32 version | u64 length | u32 crc32(HDF5 bytes) | u32 crc32(the 24 bytes before)``
SEAL_MAGIC = b"SXSEAL\r\n"
SEAL_SIZE = 512
_SEAL = struct.Struct("<8sIQI")


def seal(image: bytes) -> bytes:
    """``image`` (an HDF5 file without user block) behind a 512-byte user block holding its checksum."""
    head = _SEAL.pack(SEAL_MAGIC, 1, len(image), zlib.crc32(image))
    head += struct.pack("<I", zlib.crc32(head))
    return head + bytes(SEAL_SIZE - len(head)) + image


def check_seal(fh: BinaryIO) -> bool:
    """Check the seal of the open binary file ``fh`` against the bytes after it (read in chunks).

    Returns False for a file without seal (spinexplore 0.1, or rewritten by another tool).

    Raises
    ------
    ValueError
        The seal or the bytes it covers are damaged (what is wrong, in words).
    """
    fh.seek(0)
    head = fh.read(SEAL_SIZE)
    if len(head) < SEAL_SIZE or not head.startswith(SEAL_MAGIC):
        return False
    _, version, length, want = _SEAL.unpack_from(head, 0)
    (head_crc,) = struct.unpack_from("<I", head, _SEAL.size)
    if head_crc != zlib.crc32(head[:_SEAL.size]) or version != 1:
        raise ValueError(f"its checksum block (bytes 0..{_SEAL.size + 4}) is damaged")
    crc, size = 0, 0
    while chunk := fh.read(1 << 22):
        crc, size = zlib.crc32(chunk, crc), size + len(chunk)
    if size != length:
        raise ValueError(f"it holds {SEAL_SIZE + size} bytes, but {SEAL_SIZE + length} were written "
                         "(truncated or extended)")
    if crc != want:
        raise ValueError("its checksum does not match: bytes changed after spinexplore wrote it")
    return True


def h5py_module():
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - h5py is a core dependency
        raise ImportError("the HDF5 store needs h5py; install it with `pip install h5py`") from exc
    return h5py


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def library_versions() -> dict[str, str]:
    h5py = h5py_module()
    out = {"python": platform.python_version(), "hdf5": h5py.version.hdf5_version}
    for dist in ("spinexplore", "numpy", "h5py", "scipy", "scikit-learn", "numba", "joblib"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` and flush it to the disk (file only; no rename)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def file_image(fill) -> bytes:
    """Build an HDF5 file in memory with ``fill(h5file)``; its bytes, sealed (:func:`seal`)."""
    global _image_counter
    h5py = h5py_module()
    _image_counter += 1
    name = f"spinexplore-image-{os.getpid()}-{_image_counter}"
    # libver v110: object headers and the superblock carry checksums (readable by HDF5 >= 1.10)
    with h5py.File(name, "w", driver="core", backing_store=False, libver=("v110", "latest"),
                   userblock_size=SEAL_SIZE) as f:
        fill(f)
        f.flush()
        return seal(f.id.get_file_image())


def _column(group, name: str, data: np.ndarray, **attrs: Any) -> None:
    """A dataset with one chunk and a Fletcher-32 checksum (plain when empty)."""
    opts = {"chunks": data.shape, "fletcher32": True} if data.size else {}
    ds = group.create_dataset(name, data=data, **opts)
    ds.attrs.update(attrs)


def _enum_attrs(enum: type) -> dict[str, Any]:
    return {"enum_names": [m.name for m in enum], "enum_values": np.array([int(m) for m in enum], np.int8)}


def _label_attrs(state_json: str) -> dict[str, Any]:
    """``enum_names``/``enum_values`` of the phase column: every PhaseType value, then the
    labels of the state's vocabulary (schema 3; the full vocabulary is ``state["vocabulary"]``)."""
    names = {int(p): p.name for p in PhaseType if p.is_physical}
    names.update({e.id: e.name for e in Vocabulary.from_state(decode_json(state_json)).entries()})
    ids = sorted(names)
    return {"enum_names": [names[i] for i in ids], "enum_values": np.array(ids, np.int8)}


def fill_main(f, *, table: PointTable, space: ParameterSpace, config_json: str, state_json: str,
              created: str, checkpoint: int, versions: dict[str, str], save_spins: bool,
              store_id: str, generation: int) -> None:
    """Write the whole main file (schema 3, docs/store-format.md) into the open HDF5 file ``f``."""
    h5py = h5py_module()
    n = table.n
    text = h5py.string_dtype()
    status = table.cols["status"][:n]
    f.attrs.update({
        "format": FORMAT_NAME,
        "schema_version": SCHEMA_VERSION,
        "spinexplore_version": versions.get("spinexplore", "unknown"),
        "versions": encode_json(versions, "versions"),
        "created": created,
        "updated": now(),
        "checkpoint": checkpoint,
        "n_points": n,
        "n_done": int(np.isin(status, [s.value for s in PointStatus if s.is_finished]).sum()),
        "save_spins": int(save_spins),
        "store_id": store_id,
        "generation": generation,
    })
    for name, value in (("space", encode_json(space.to_dict(), "space")),
                        ("config", config_json), ("state", state_json)):
        f.create_dataset(name, data=value, dtype=text)
    g = f.create_group("points")
    _column(g, "params", table.params[:n], names=space.names)
    _column(g, "status", status, **_enum_attrs(PointStatus))
    _column(g, "phase", table.cols["phase"][:n], **_label_attrs(state_json), none=-1)
    for name in ("iteration", "confidence", "energy", "duration"):
        _column(g, name, table.cols[name][:n])
    _column(g, "observables", table.obs[:n])
    _column(g, "spins_file", table.cols["spin_ref"][:n])
    _column(g, "worker", table.worker_id[:n])
    err = table.error[:n]
    where = np.flatnonzero(err != "").astype(np.int64)
    _column(g, "error_index", where)
    errors = list(err[where])
    g.create_dataset("observable_names", data=np.array(table.obs_names, dtype=object), dtype=text)
    g.create_dataset("worker_names", data=np.array(table.worker_names, dtype=object), dtype=text)
    g.create_dataset("error_text", data=np.array(errors, dtype=object), dtype=text)
    f.attrs["text_crc32"] = text_crc32(encode_json(space.to_dict(), "space"), config_json, state_json,
                                       table.obs_names, table.worker_names, errors)


def text_crc32(space_json: str, config_json: str, state_json: str, *lists: Sequence[str]) -> int:
    """CRC-32 of every text of a main file (HDF5 keeps variable-length strings unchecksummed)."""
    crc = 0
    for part in (space_json, config_json, state_json, *("\x00".join(x) for x in lists)):
        crc = zlib.crc32(part.encode() + b"\x01", crc)
    return crc


def write_main(path: Path, **fields: Any) -> None:
    """Write a complete main file at ``path`` (a temporary name) and flush it to the disk.

    The file is built in memory (HDF5 core driver) and written with plain ``os.write``: a
    full disk then raises a clean ``OSError``, where HDF5's own writes may crash the process.
    """
    write_durably(path, file_image(lambda f: fill_main(f, **fields)))


def fill_spins(f, checkpoint: int, spins: Mapping[int, np.ndarray]) -> None:
    """Write one spin sidecar file: ``/spins/<index>`` float32 (N, 3), gzip + shuffle + Fletcher-32."""
    f.attrs["checkpoint"] = checkpoint
    g = f.create_group("spins")
    for index, arr in spins.items():
        g.create_dataset(str(index), data=arr, chunks=arr.shape, compression="gzip",
                         compression_opts=4, shuffle=True, fletcher32=True)
