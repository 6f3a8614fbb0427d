"""Bad paths, bad files and bad arguments: clear errors, and an existing file is never damaged."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from spinexplore import ParameterSpace, PhaseType, PointRecord, PointStatus, SimulationResult
from spinexplore.store import ExplorationStore, StoreError

SPACE = ParameterSpace({"h": (0.0, 1.0), "K": (-1.0, 1.0)})
FIXTURE = Path(__file__).with_name("data") / "schema1.h5"
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _rec(i: int, **kw) -> PointRecord:
    return PointRecord(index=i, params=kw.pop("params", [0.5, 0.0]), status=PointStatus.DONE,
                       result=SimulationResult(phase=PhaseType.SINGLE_Q, energy=-1.0, **kw))


@pytest.fixture
def store_path(tmp_path) -> Path:
    path = tmp_path / "exploration.h5"
    with ExplorationStore.create(path, space=SPACE, config={"seed": 1}) as store:
        store.write([_rec(0), _rec(1)], {"iteration": 1})
    return path


def test_directory_as_path(tmp_path):
    with pytest.raises(IsADirectoryError, match=r"is a directory; pass the store file, e.g. .*exploration\.h5"):
        ExplorationStore.create(tmp_path, space=SPACE, config={})
    with pytest.raises(IsADirectoryError, match="is a directory"):
        ExplorationStore.open(tmp_path)


def test_missing_directory_and_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist; create it first"):
        ExplorationStore.create(tmp_path / "nope" / "e.h5", space=SPACE, config={})
    with pytest.raises(FileNotFoundError, match=r"no exploration store at .*ExplorationStore.create"):
        ExplorationStore.open(tmp_path / "e.h5")


@pytest.mark.skipif(ROOT, reason="root ignores file permissions")
def test_read_only_directory_and_file(tmp_path, store_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(PermissionError, match="is not writable"):
            ExplorationStore.create(ro / "e.h5", space=SPACE, config={})
    finally:
        ro.chmod(0o755)
    store_path.chmod(0o444)
    with pytest.raises(PermissionError, match="read-only; open it read-only"):
        ExplorationStore.open(store_path, "a")
    assert ExplorationStore.open(store_path).n_points == 2


def test_existing_file_is_not_overwritten(store_path):
    before = store_path.read_bytes()
    with pytest.raises(FileExistsError, match=r"already exists; continue it with .*'a'.*overwrite=True"):
        ExplorationStore.create(store_path, space=SPACE, config={})
    assert store_path.read_bytes() == before
    with ExplorationStore.create(store_path, space=SPACE, config={"new": 1}, overwrite=True) as store:
        assert store.n_points == 0
    assert ExplorationStore.open(store_path).config == {"new": 1}


@pytest.mark.parametrize("content", [b"", b"hello, this is text\n" * 50, b"\x00" * 4096])
def test_not_an_hdf5_file(tmp_path, content):
    path = tmp_path / "exploration.h5"
    path.write_bytes(content)
    for mode in ("r", "a"):
        with pytest.raises(StoreError, match="is not an HDF5 file"):
            ExplorationStore.open(path, mode)
    with pytest.raises(FileExistsError):
        ExplorationStore.create(path, space=SPACE, config={})
    assert path.read_bytes() == content


def test_hdf5_file_that_is_not_a_store(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(StoreError, match="not a spinexplore exploration store"):
        ExplorationStore.open(path)


def test_truncated_file(tmp_path, store_path):
    data = store_path.read_bytes()
    for cut in (len(data) // 2, len(data) - 100, 600):
        path = tmp_path / f"cut{cut}.h5"
        path.write_bytes(data[:cut])
        with pytest.raises(StoreError, match=r"damaged|not an HDF5"):
            ExplorationStore.open(path, "a")
        assert path.read_bytes() == data[:cut]


def test_corrupted_data_is_detected_by_checksums(tmp_path, store_path):
    with h5py.File(store_path, "r") as f:
        offset = f["points/energy"].id.get_chunk_info(0).byte_offset
    data = bytearray(store_path.read_bytes())
    data[offset:offset + 8] = np.float64(123.0).tobytes()  # a plausible but wrong value
    path = tmp_path / "corrupt.h5"
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match=r"is damaged and was not read: its checksum does not match.*restore corrupt.h5 from a copy"):
        ExplorationStore.open(path)


def test_corrupted_metadata(tmp_path, store_path):
    data = bytearray(store_path.read_bytes())
    data[8:200] = b"\xff" * 192  # superblock and root group header, signature kept
    path = tmp_path / "corrupt.h5"
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="damaged"):
        ExplorationStore.open(path)


def test_different_space_on_resume(store_path):
    other = ParameterSpace({"h": (0.0, 2.0), "K": (-1.0, 1.0)})
    before = store_path.read_bytes()
    with pytest.raises(StoreError, match=r"different parameter space: stored .*h=\[0, 1\].*requested .*h=\[0, 2\]"):
        ExplorationStore.open(store_path, "a", space=other)
    assert store_path.read_bytes() == before
    ExplorationStore.open(store_path, "a", space=SPACE).close()  # and the lock was released


def test_bad_arguments_change_nothing(store_path):
    before = store_path.read_bytes()
    with ExplorationStore.open(store_path, "a") as store:
        bad = [
            (ValueError, "without gaps.*must start at 2; got \\[3\\]", [_rec(3)], {}),
            (ValueError, "index 1 more than once", [_rec(1), _rec(1)], {}),
            (ValueError, "params must have shape \\(2,\\)", [_rec(2, params=[0.1, 0.2, 0.3])], {}),
            (TypeError, "PointRecord", [{"index": 2}], {}),
            (TypeError, "sequence of PointRecord", _rec(2), {}),
            (TypeError, "state must be a mapping", [_rec(2)], [("a", 1)]),
            (TypeError, r"state\['x'\] has key 1 of type int", [_rec(2)], {"x": {1: 2}}),
            (TypeError, r"state\['f'\] holds .* of type builtin_function_or_method, which JSON cannot store", [_rec(2)], {"f": len}),
        ]
        for exc, match, records, state in bad:
            with pytest.raises(exc, match=match):
                store.write(records, state)
        assert store.n_points == 2
    assert store_path.read_bytes() == before
    with pytest.raises(ValueError, match=r"mode must be one of \['r', 'a'\]; got 'w'"):
        ExplorationStore.open(store_path, "w")


def test_bad_create_arguments_create_nothing(tmp_path):
    path = tmp_path / "e.h5"
    with pytest.raises(TypeError, match="space must be a ParameterSpace"):
        ExplorationStore.create(path, space={"h": (0, 1)}, config={})
    with pytest.raises(TypeError, match=r"config\['solver'\] holds"):
        ExplorationStore.create(path, space=SPACE, config={"solver": object()})
    with pytest.raises(TypeError, match="save_spins must be True or False"):
        ExplorationStore.create(path, space=SPACE, config={}, save_spins="yes")
    assert list(tmp_path.iterdir()) == []


def test_bad_spins_are_refused_before_writing(tmp_path):
    with ExplorationStore.create(tmp_path / "e.h5", space=SPACE, config={}, save_spins=True) as store:
        with pytest.raises(ValueError, match=r"spins of record 0 must have shape \(N, 3\); got shape \(4, 2\)"):
            store.write([_rec(0, spins=np.zeros((4, 2)))], {})
        with pytest.raises(ValueError, match="must be finite"):
            store.write([_rec(0, spins=np.full((4, 3), np.nan))], {})
        assert store.n_points == 0 and not store.spins_dir.exists()


def test_write_on_read_only_store(store_path):
    with ExplorationStore.open(store_path) as store:
        with pytest.raises(StoreError, match="open read-only; open it with mode='a'"):
            store.write([], {})


def test_leftovers_of_a_killed_writer(tmp_path):
    path = tmp_path / "exploration.h5"
    spins = np.tile([0.0, 0.0, 1.0], (8, 1))
    with ExplorationStore.create(path, space=SPACE, config={}, save_spins=True) as store:
        store.write([_rec(0, spins=spins)], {})
    tmp = tmp_path / "exploration.h5.tmp"
    orphan = store.spins_dir / "spins-000099.h5"
    tmp.write_bytes(b"half a file")
    shutil.copy(next(store.spins_dir.iterdir()), orphan)
    with ExplorationStore.open(path) as reader:  # a reader leaves them (a writer may be busy)
        np.testing.assert_array_equal(reader.read()[0][0].result.spins, spins)
    assert tmp.exists() and orphan.exists()
    with ExplorationStore.open(path, "a") as store:  # the lock holder cleans up
        assert not tmp.exists() and not orphan.exists()
        np.testing.assert_array_equal(store.read_spins(0), spins)


def test_read_only_places_as_reported_by_the_os(tmp_path, store_path, monkeypatch):
    """The same checks as above, on any user (root included): os.access says 'not writable'."""
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if mode & os.W_OK else real_access(p, mode))
    before = store_path.read_bytes()
    with pytest.raises(PermissionError, match=r"directory .* is not writable; choose another path"):
        ExplorationStore.create(tmp_path / "new.h5", space=SPACE, config={})
    with pytest.raises(PermissionError, match="read-only; open it read-only"):
        ExplorationStore.open(store_path, "a")
    assert not (tmp_path / "new.h5").exists() and store_path.read_bytes() == before
    assert ExplorationStore.open(store_path).n_points == 2


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def test_full_disk_during_a_checkpoint_keeps_the_last_one(store_path, monkeypatch):
    """ENOSPC in the middle of a journal append: StoreError, nothing half-written stays."""
    import errno

    real_pwrite = os.pwrite
    with ExplorationStore.open(store_path, "a") as store:
        store.write([_rec(2)], {"iteration": 2})  # one frame in the journal
        before = _files(store_path.parent)

        def full(fd, data, offset):
            real_pwrite(fd, bytes(data[: len(data) // 2]), offset)  # half the frame lands
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(os, "pwrite", full)
        with pytest.raises(StoreError, match=r"checkpoint 3 could not be written \(No space left on device "
                                             r"\(the disk is full\)\); the store still holds checkpoint 2 intact"):
            store.write([_rec(3)], {"iteration": 3})
        monkeypatch.undo()
        assert store.n_points == 3 and store.read()[1] == {"iteration": 2}
        assert _files(store_path.parent) == before  # the half frame was cut off again
        with ExplorationStore.open(store_path) as reader:
            assert reader.read()[1] == {"iteration": 2}
        store.write([_rec(3)], {"iteration": 3})  # the disk has room again
    assert ExplorationStore.open(store_path).read()[1] == {"iteration": 3}
    assert sorted(p.name for p in store_path.parent.iterdir()) == ["exploration.h5"]


def test_full_disk_during_compaction_keeps_the_journal(store_path, monkeypatch):
    """ENOSPC while the main file is rewritten: no .tmp left, every checkpoint still readable."""
    import errno

    from spinexplore.store import _sync

    def full(path, **fields):
        path.write_bytes(b"\x89HDF\r\n\x1a\n half")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    store = ExplorationStore.open(store_path, "a")
    store.write([_rec(2)], {"iteration": 2})
    main = store_path.read_bytes()
    monkeypatch.setattr(_sync, "write_main", full)
    with pytest.warns(RuntimeWarning, match=r"could not write the store's main file \(No space left on device.*"
                                            r"safe in the journal"):
        store.close()
    assert store_path.read_bytes() == main and not (store_path.parent / "exploration.h5.tmp").exists()
    assert (store_path.parent / "exploration.h5.journal").exists()
    assert ExplorationStore.open(store_path).read()[1] == {"iteration": 2}
    with pytest.raises(StoreError, match=r"could not write the store's main file .*checkpoint \(2\) is intact"):
        ExplorationStore.open(store_path, "a")  # a writer folds the journal first: still full
    monkeypatch.undo()
    with ExplorationStore.open(store_path, "a") as store:
        assert store.n_points == 3 and store.read()[1] == {"iteration": 2}
        assert not (store_path.parent / "exploration.h5.journal").exists()


def test_unreadable_journal_is_a_store_error(store_path):
    """Something that is not a readable file where the journal belongs: one line, nothing changed."""
    journal = store_path.with_name("exploration.h5.journal")
    journal.mkdir()
    before = store_path.read_bytes()
    for mode in ("r", "a"):
        with pytest.raises(StoreError, match=r"exploration\.h5\.journal \(the checkpoint journal of "
                                             r"exploration\.h5\) cannot be read \(Is a directory\)"):
            ExplorationStore.open(store_path, mode)
    assert store_path.read_bytes() == before and journal.is_dir()
