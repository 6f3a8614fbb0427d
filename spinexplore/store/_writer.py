"""Writing store files: whole-file images built in memory, durable writes, the main layout."""

from __future__ import annotations

import datetime as _dt
import os
import platform
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from spinexplore.results import PhaseType, PointStatus
from spinexplore.space import ParameterSpace
from spinexplore.store._table import PointTable, encode_json
from spinexplore.store.base import SCHEMA_VERSION

FORMAT_NAME = "spinexplore.exploration"
SPIN_FILE = "spins-{:06d}.h5"
_image_counter = 0


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
    """Build an HDF5 file in memory with ``fill(h5file)`` and return its bytes."""
    global _image_counter
    h5py = h5py_module()
    _image_counter += 1
    name = f"spinexplore-image-{os.getpid()}-{_image_counter}"
    with h5py.File(name, "w", driver="core", backing_store=False) as f:
        fill(f)
        f.flush()
        return f.id.get_file_image()


def _column(group, name: str, data: np.ndarray, **attrs: Any) -> None:
    """A dataset with one chunk and a Fletcher-32 checksum (plain when empty)."""
    opts = {"chunks": data.shape, "fletcher32": True} if data.size else {}
    ds = group.create_dataset(name, data=data, **opts)
    ds.attrs.update(attrs)


def _enum_attrs(enum: type) -> dict[str, Any]:
    return {"enum_names": [m.name for m in enum], "enum_values": np.array([int(m) for m in enum], np.int8)}


def fill_main(f, *, table: PointTable, space: ParameterSpace, config_json: str, state_json: str,
              created: str, checkpoint: int, versions: dict[str, str], save_spins: bool) -> None:
    """Write the whole main file (layout: docs/store-format.md) into the open HDF5 file ``f``."""
    h5py = h5py_module()
    a = table.arrays()
    text = h5py.string_dtype()
    f.attrs.update({
        "format": FORMAT_NAME,
        "schema_version": SCHEMA_VERSION,
        "spinexplore_version": versions.get("spinexplore", "unknown"),
        "versions": encode_json(versions, "versions"),
        "created": created,
        "updated": now(),
        "checkpoint": checkpoint,
        "n_points": table.n,
        "n_done": int(np.isin(a["status"], [s.value for s in PointStatus if s.is_finished]).sum()),
        "save_spins": int(save_spins),
    })
    for name, value in (("space", encode_json(space.to_dict(), "space")),
                        ("config", config_json), ("state", state_json)):
        f.create_dataset(name, data=value, dtype=text)
    g = f.create_group("points")
    _column(g, "params", a["params"], names=space.names)
    _column(g, "status", a["status"], **_enum_attrs(PointStatus))
    _column(g, "phase", a["phase"], **_enum_attrs(PhaseType), none=-1)
    for name in ("iteration", "confidence", "energy", "duration"):
        _column(g, name, a[name])
    _column(g, "observables", a["observables"])
    _column(g, "spins_file", a["spin_ref"])
    g.create_dataset("observable_names", data=np.array(table.obs_names, dtype=object), dtype=text)
    g.create_dataset("worker", data=a["worker"], dtype=text)
    g.create_dataset("error", data=a["error"], dtype=text)


def fill_spins(f, checkpoint: int, spins: Mapping[int, np.ndarray]) -> None:
    """Write one spin sidecar file: ``/spins/<index>`` float32 (N, 3), gzip + shuffle + Fletcher-32."""
    f.attrs["checkpoint"] = checkpoint
    g = f.create_group("spins")
    for index, arr in spins.items():
        g.create_dataset(str(index), data=arr, chunks=arr.shape, compression="gzip",
                         compression_opts=4, shuffle=True, fletcher32=True)
