"""Issue 24, items 2, 5 and 14: a damaged byte never makes spinexplore hang, abort, drop or delete.

- The main file carries a checksum of its HDF5 bytes in its user block, checked before h5py
  parses anything (HDF5 can loop forever or abort on some damaged metadata); a file without
  it (older spinexplore) is first parsed in a separate process with a time limit.
- A journal that does not continue the main file is an error naming both files; nothing is
  deleted.
- A complete but damaged last journal frame is not a torn write: readers refuse it, a writer
  keeps it aside (with the spin files of its checkpoint) and says where.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

from spinexplore import ParameterSpace, PhaseType, PointRecord, PointStatus, SimulationResult
from spinexplore.cli import main
from spinexplore.store import ExplorationStore, StoreError
from spinexplore.store import _reader
from spinexplore.store._writer import SEAL_SIZE

from helpers.cli import one_line_error as _error_line
from helpers.cli import snapshot

SPACE = ParameterSpace({"h": (0.0, 1.0), "K": (-1.0, 1.0)})


def _record(i: int, done: bool, spins: bool = False) -> PointRecord:
    if not done:
        return PointRecord(index=i, params=[i / 40, -i / 40], status=PointStatus.PENDING, iteration=0)
    return PointRecord(index=i, params=[i / 40, -i / 40], status=PointStatus.DONE, iteration=0, worker="w",
                       result=SimulationResult(phase=PhaseType(i % 5), confidence=0.5, energy=-i / 7,
                                               duration=0.1, observables={"m": i / 3},
                                               spins=np.full((4, 3), i / 10) if spins else None))


def killed_store(directory: Path, *, n_main: int = 2, n_journal: int = 3, spins: bool = False) -> Path:
    """A store whose writer died after ``n_main`` folded and ``n_journal`` journalled checkpoints."""
    path = directory / "exploration.h5"
    store = ExplorationStore.create(path, space=SPACE, config={"seed": 3}, save_spins=spins)
    for c in range(n_main + n_journal):
        store.write([_record(i, True, spins) for i in range(4 * c - 4, 4 * c) if i >= 0]
                    + [_record(i, False) for i in range(4 * c, 4 * c + 4)], {"c": c + 1})
        if c == n_main - 1:
            store._compact()
    store._journal.close()  # kill -9: no fold on close
    store._lock.release()
    return path


def _flip_store_id(path: Path, *, unseal: bool) -> None:
    data = bytearray(path.read_bytes())
    if unseal:  # a file written before the checksum existed (no user block)
        data = data[SEAL_SIZE:]
    with h5py.File(path, "r") as f:
        sid = f.attrs["store_id"].encode()
    at = bytes(data).index(sid)
    data[at] ^= 0x01  # "3" <-> "2", "a" <-> "`": one bit, as in the probe
    path.write_bytes(bytes(data))


# ---------------------------------------------------------------- item 2
@pytest.mark.parametrize("unseal", [False, True], ids=["checksummed", "old-file-without-checksum"])
def test_a_flipped_bit_in_store_id_is_an_error_and_deletes_nothing(tmp_path, unseal, capsys):
    path = killed_store(tmp_path)
    with ExplorationStore.open(path) as reader:
        assert reader.checkpoint == 5 and reader.counts()["status"]["DONE"] == 16
    _flip_store_id(path, unseal=unseal)
    before = snapshot(tmp_path)
    for command in ("status", "resume", "plot"):
        assert main([command, str(tmp_path)]) == 3, command
        err = _error_line(capsys)
        assert str(path) in err and "exploration.h5.journal" in err and "Nothing was changed" in err, err
    for mode in ("r", "a"):
        with pytest.raises(StoreError):
            ExplorationStore.open(path, mode)
    assert snapshot(tmp_path) == before


def test_a_journal_of_a_newer_generation_names_both_files(tmp_path):
    path = killed_store(tmp_path)
    old_main = path.read_bytes()
    with ExplorationStore.open(path, "a") as store:  # folds the journal: generation + 1
        store.write([_record(20, False)], {"c": 6})
        store.compact_frames = 10**6
        store._journal.n_frames = 0  # keep this journal on close
    path.write_bytes(old_main)  # the main file restored from an older copy
    with pytest.raises(StoreError, match=r"looks older than its journal .*put back the newest exploration.h5"):
        ExplorationStore.open(path, "a")
    assert path.with_name("exploration.h5.journal").exists()


# ---------------------------------------------------------------- item 5
def _metadata_offsets(path: Path) -> list[int]:
    """Offsets of the superblock and of every object header ("OHDR") of an HDF5 file."""
    data = path.read_bytes()
    out, at = [data.index(b"\x89HDF")], data.find(b"OHDR")
    while at >= 0:
        out.append(at)
        at = data.find(b"OHDR", at + 1)
    return out


@pytest.mark.parametrize("where", ["superblock", "object header", "attribute"])
def test_a_damaged_main_file_is_refused_before_hdf5_parses_it(tmp_path, where, capsys, monkeypatch):
    path = killed_store(tmp_path)
    data = bytearray(path.read_bytes())
    offsets = _metadata_offsets(path)
    at = {"superblock": offsets[0] + 12, "object header": offsets[1] + 40,
          "attribute": bytes(data).index(b"spinexplore.exploration") + 3}[where]
    data[at] ^= 0x20
    path.write_bytes(bytes(data))
    before = snapshot(tmp_path)

    def no_hdf5(*args, **kwargs):  # h5py must never see the damaged bytes
        raise AssertionError("h5py was asked to parse a damaged file")

    monkeypatch.setattr(h5py.h5f, "open_file_image", no_hdf5)
    monkeypatch.setattr(_reader, "open_h5", no_hdf5)
    for command in ("status", "resume", "plot"):
        assert main([command, str(tmp_path)]) == 3
        err = _error_line(capsys)
        assert f"{path} is damaged and was not read: its checksum does not match" in err
        assert "What can be recovered: restore exploration.h5 from a copy" in err and "exploration.h5.journal" in err
    assert snapshot(tmp_path) == before


def test_a_file_without_checksum_is_parsed_in_a_separate_process_first(tmp_path, monkeypatch):
    path = killed_store(tmp_path, n_journal=0)
    want = repr(ExplorationStore.open(path).read())
    path.write_bytes(path.read_bytes()[SEAL_SIZE:])  # as an older spinexplore wrote it
    assert repr(ExplorationStore.open(path).read()) == want  # the probe passes: read as before
    monkeypatch.setattr(_reader, "PROBE_SECONDS", 0.5)
    monkeypatch.setattr(_reader, "_PROBE", "import time\nwhile True: time.sleep(0.05)")  # HDF5 looping
    with pytest.raises(StoreError, match=r"is damaged and was not read: the HDF5 library did not finish parsing it "
                                         r"within 1 s \(it loops on some damaged files\)"):
        ExplorationStore.open(path)
    monkeypatch.setattr(_reader, "_PROBE", "import os\nos.abort()")  # HDF5 aborting
    with pytest.raises(StoreError, match=r"parsing it crashed the HDF5 library \(SIGABRT\)"):
        ExplorationStore.open(path)


def test_a_writer_seals_an_old_file_when_it_opens_it(tmp_path):
    path = killed_store(tmp_path, n_journal=0)
    path.write_bytes(path.read_bytes()[SEAL_SIZE:])
    ExplorationStore.open(path, "a").close()  # no journal: nothing to fold, the file stays as it is
    with ExplorationStore.open(path, "a") as store:
        store.write([_record(8, False)], {"c": 3})
    assert path.read_bytes().startswith(b"SXSEAL\r\n")
    with h5py.File(path, "r") as f:  # plain h5py still reads it (HDF5 skips the user block)
        assert f.userblock_size == SEAL_SIZE and f.attrs["format"] == "spinexplore.exploration"


_FLIP_ALL = textwrap.dedent("""
    import json, sys, tempfile
    from pathlib import Path
    from spinexplore.store import ExplorationStore, StoreError
    from spinexplore.store import _reader
    _reader.PROBE_SECONDS = 20.0
    src, step = Path(sys.argv[1]), int(sys.argv[2])
    data, journal = src.read_bytes(), src.with_name(src.name + ".journal").read_bytes()
    want = repr(ExplorationStore.open(src).read())
    out = {"error": 0, "same": 0, "changed": []}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "exploration.h5"
        for at in range(0, len(data), step):
            bad = bytearray(data)
            bad[at] ^= 0xFF if at % 2 else 0x01
            path.write_bytes(bytes(bad))
            path.with_name("exploration.h5.journal").write_bytes(journal)
            try:
                with ExplorationStore.open(path) as store:
                    got = repr(store.read())
            except StoreError as exc:
                assert "\\n" not in str(exc) and str(path) in str(exc), str(exc)
                out["error"] += 1
                continue
            if got == want:
                out["same"] += 1
            else:
                out["changed"].append(at)
    print(json.dumps(out))
""")


@pytest.mark.slow
@pytest.mark.parametrize("unseal, step", [(False, 1), (True, 37)], ids=["checksummed", "old-file-without-checksum"])
def test_every_flipped_byte_of_the_main_file_is_refused_without_hang_or_abort(tmp_path, unseal, step):
    """The probe of issue 24: every single-byte change of a small store's main file (metadata
    region included) gives a one-line StoreError or the exact same read: never a hang, an
    abort or a silently different read. Each open runs in one child process with a limit."""
    path = killed_store(tmp_path)
    if unseal:
        path.write_bytes(path.read_bytes()[SEAL_SIZE:])
    done = subprocess.run([sys.executable, "-c", _FLIP_ALL, str(path), str(step)], capture_output=True, text=True,
                          timeout=1500)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["changed"] == [], out
    assert out["error"] > 0
    if not unseal:  # only the padding of the checksum block (484 bytes), or its magic (8 bytes: the file
        # then reads as one without checksum, parsed in a separate process first), can change without an error
        assert out["same"] <= SEAL_SIZE - 28 + 8


# ---------------------------------------------------------------- item 14 (store side)
def test_a_damaged_last_frame_is_reported_and_kept_aside_with_its_spins(tmp_path, capsys):
    path = killed_store(tmp_path, spins=True)
    journal = path.with_name("exploration.h5.journal")
    data = bytearray(journal.read_bytes())
    data[-40] ^= 0x04  # one bit inside the last frame (checkpoint 5): complete, but its CRC fails
    journal.write_bytes(bytes(data))
    spins5 = (path.with_name("exploration.h5.spins") / "spins-000005.h5").read_bytes()
    before = snapshot(tmp_path)
    assert main(["status", str(tmp_path)]) == 3
    err = _error_line(capsys)
    assert "is damaged: its last frame" in err and "not an interrupted write" in err and "checkpoint 4" in err
    assert snapshot(tmp_path) == before
    with pytest.warns(RuntimeWarning, match=r"kept aside as .*exploration.h5.journal.damaged-.* \(with 1 spin file"):
        with ExplorationStore.open(path, "a") as store:
            assert store.checkpoint == 4 and store.counts()["status"]["DONE"] == 12
            store.write([_record(i, True, True) for i in range(12, 16)], {"c": 5})  # reruns checkpoint 5
    kept = sorted(p.name for p in tmp_path.rglob("*.damaged-*"))
    assert len(kept) == 2 and kept[0].startswith("exploration.h5.journal.damaged-")
    assert (tmp_path / kept[0]).read_bytes() == bytes(data)
    assert (path.with_name("exploration.h5.spins") / kept[1]).read_bytes() == spins5
    with ExplorationStore.open(path) as store:
        assert store.checkpoint == 5 and store.read_spins(13) is not None
    ExplorationStore.open(path, "a").close()  # the next writer keeps what was kept aside
    assert sorted(p.name for p in tmp_path.rglob("*.damaged-*")) == kept


def test_a_torn_last_frame_is_still_dropped_quietly(tmp_path, recwarn):
    path = killed_store(tmp_path)
    journal = path.with_name("exploration.h5.journal")
    data = journal.read_bytes()
    journal.write_bytes(data[:-100])  # the writer died inside its last append
    with ExplorationStore.open(path) as reader:
        assert reader.checkpoint == 4
    with ExplorationStore.open(path, "a") as store:
        assert store.checkpoint == 4
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    assert not list(tmp_path.glob("*.damaged-*"))


def test_a_damaged_length_field_is_not_mistaken_for_a_torn_write(tmp_path):
    path = killed_store(tmp_path)
    journal = path.with_name("exploration.h5.journal")
    data = bytearray(journal.read_bytes())
    last = bytes(data).rindex(b"SXFR")
    data[last + 12 + 2] ^= 0x01  # the frame's u64 length now claims 64 KiB more than the file holds
    journal.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="its last frame .* is damaged"):
        ExplorationStore.open(path)
    assert os.path.getsize(journal) == len(data)
