"""Paths and side files of a store: path checks, spin sidecar files, leftovers of killed writers."""

from __future__ import annotations

import datetime as _dt
import errno
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spinexplore.store._reader import open_checked
from spinexplore.store._writer import SPIN_FILE, file_image, fill_spins, fsync_dir, write_durably
from spinexplore.store.base import StoreError

__all__ = ["check_path", "clean_leftovers", "keep_aside", "later_spin_files", "os_error_text", "spin_loader",
           "write_spin_file"]


def check_path(path: Any, default_name: str) -> Path:
    """``path`` as an absolute :class:`Path` (symlink resolved); ``TypeError``/``IsADirectoryError``."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or path-like; got {type(path).__name__} {path!r:.60}")
    p = Path(path).expanduser().absolute()
    if p.is_symlink():  # replace the file the link points to, not the link
        p = p.resolve()
    if p.is_dir():
        raise IsADirectoryError(
            f"path {str(p)!r} is a directory; pass the store file, e.g. {str(p / default_name)!r}"
        )
    return p


def os_error_text(exc: OSError) -> str:
    """``"No space left on device"``-style text of an OS error, with a hint for the usual ones."""
    text = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        text += " (the disk is full)"
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        text += " (the file system or directory is read-only)"
    return text


def write_spin_file(spins_dir: Path, parent: Path, checkpoint: int, spins: Mapping[int, np.ndarray]) -> None:
    """Write the spin sidecar file of ``checkpoint`` and make it durable (file and directory)."""
    if not spins_dir.is_dir():
        spins_dir.mkdir()
        fsync_dir(parent)
    image = file_image(lambda f: fill_spins(f, checkpoint, spins))
    write_durably(spins_dir / SPIN_FILE.format(checkpoint), image)
    fsync_dir(spins_dir)


def spin_loader(spins_dir: Path) -> Callable[[int, int], np.ndarray]:
    """``load(index, ref)``; it keeps the last sidecar file read (points of one checkpoint)."""
    cache: dict[str, Any] = {"ref": None, "spins": {}}

    def load(index: int, ref: int) -> np.ndarray:
        path = spins_dir / SPIN_FILE.format(ref)
        try:
            if cache["ref"] != ref:
                with open_checked(path) as f:
                    cache["spins"] = {k: ds[()] for k, ds in f["spins"].items()}
                cache["ref"] = ref
            return np.asarray(cache["spins"][str(index)], dtype=float)
        except (OSError, KeyError, ValueError, RuntimeError) as exc:
            raise StoreError(
                f"spins of point {index} are missing or damaged in {path} ({exc}); "
                f"read without them with read(spins=False)"
            ) from None

    return load


_SPIN_NAME = re.compile(r"spins-(\d{6})\.h5")


def later_spin_files(spins_dir: Path, checkpoint: int) -> list[int]:
    """Checkpoint numbers above ``checkpoint`` that have a spin file (written for a later frame)."""
    if not spins_dir.is_dir():
        return []
    found = (_SPIN_NAME.fullmatch(entry.name) for entry in spins_dir.iterdir())
    return sorted(int(m.group(1)) for m in found if m and int(m.group(1)) > checkpoint)


def keep_aside(path: Path, others: Sequence[Path] = ()) -> list[Path]:
    """Rename ``path`` (and ``others``) to ``<name>.damaged-<UTC time>``, never over an existing file.

    Returns the new paths, ``path``'s first. Nothing a store holds is deleted because it does
    not fit: it is moved out of the way, and the caller reports where.
    """
    when = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    moved = []
    for p in (path, *others):
        target, n = p.with_name(f"{p.name}.damaged-{when}"), 1
        while target.exists():
            target, n = p.with_name(f"{p.name}.damaged-{when}-{n}"), n + 1
        os.rename(p, target)
        moved.append(target)
    for directory in {p.parent for p in moved}:
        fsync_dir(directory)
    return moved


def clean_leftovers(path: Path, spins_dir: Path, spin_refs: np.ndarray) -> None:
    """Remove what a killed writer left: the temporary file and unreferenced spin files.

    Only the lock holder calls this, after it has folded the journal into the main file
    (so ``spin_refs`` covers every checkpoint).
    """
    path.with_name(path.name + ".tmp").unlink(missing_ok=True)
    if spins_dir.is_dir():
        used = {SPIN_FILE.format(int(r)) for r in np.unique(spin_refs) if r >= 0}
        for entry in spins_dir.iterdir():
            if entry.name not in used and _SPIN_NAME.fullmatch(entry.name):
                entry.unlink(missing_ok=True)

