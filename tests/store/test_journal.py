"""The checkpoint journal: O(batch) appends, torn tails, compaction, readers during writes."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

from spinexplore import ParameterSpace, PhaseType, PointRecord, PointStatus, SimulationResult
from spinexplore.store import SCHEMA_VERSION, ExplorationStore, StoreError

SPACE = ParameterSpace({"h": (0.0, 1.0), "K": (-1.0, 1.0)})
FIXTURE = Path(__file__).with_name("data") / "schema1.h5"


def _done(i: int) -> PointRecord:
    return PointRecord(index=i, params=[i / 1000, -i / 1000], status=PointStatus.DONE, iteration=i // 10,
                       worker=f"pid:{i % 3}",
                       result=SimulationResult(phase=PhaseType(i % 6), confidence=0.5, energy=-float(i),
                                               observables={"m_z": i / 7}, duration=1.0,
                                               error="slow" if i % 5 == 0 else None))


def _pending(i: int) -> PointRecord:
    return PointRecord(index=i, params=[i / 1000, -i / 1000], status=PointStatus.PENDING, iteration=i // 10)


def _checkpoints(store: ExplorationStore, start: int, count: int) -> list:
    """``count`` explorer-like checkpoints: the previous 5 points finish, 5 new ones are proposed."""
    snapshots = []
    for c in range(count):
        n = start + 5 * c
        store.write([_done(i) for i in range(max(0, n - 5), n)] + [_pending(i) for i in range(n, n + 5)],
                    {"n": n + 5})
        snapshots.append(store.read(spins=False))
    return snapshots


def _journal(path: Path) -> Path:
    return path.with_name(path.name + ".journal")


def _same(got, want) -> bool:
    (gr, gs), (wr, ws) = got, want
    return gs == ws and len(gr) == len(wr) and all(
        a.status is b.status and a.worker == b.worker and np.array_equal(a.params, b.params)
        and (a.result is None) == (b.result is None)
        and (a.result is None or (a.result.phase, repr(a.result.energy), dict(a.result.observables), a.result.error)
             == (b.result.phase, repr(b.result.energy), dict(b.result.observables), b.result.error))
        for a, b in zip(gr, wr))


def test_a_checkpoint_appends_only_its_batch(tmp_path):
    """The main file is not touched and the journal grows by the same amount whatever n is."""
    growth = []
    for n in (10, 2000):
        path = tmp_path / f"e{n}.h5"
        with ExplorationStore.create(path, space=SPACE, config={}) as store:
            store.write([_done(i) for i in range(n)], {"n": 0})
            store._compact()
            main = path.read_bytes()
            sizes = []
            for c in range(3):
                store.write([_done(n + 10 * c + i) for i in range(10)], {"n": 0})
                sizes.append(_journal(path).stat().st_size)
            assert path.read_bytes() == main
            growth.append(sizes[2] - sizes[1])
    assert growth[0] == growth[1]


def test_reader_sees_each_checkpoint_while_the_writer_runs(tmp_path):
    path = tmp_path / "exploration.h5"
    store = ExplorationStore.create(path, space=SPACE, config={"seed": 3})
    store.compact_frames = 4
    reader = ExplorationStore.open(path)
    for c in range(1, 12):
        want = _checkpoints(store, 5 * (c - 1), 1)[0]
        assert _same(reader.read(spins=False), want) and reader.checkpoint == c
        counts = reader.counts()
        assert counts["n_points"] == len(want[0]) and counts["status"]["PENDING"] == 5
    assert store._generation == 3  # compacted after checkpoints 4 and 8 (and once at creation)
    store.close()
    assert not _journal(path).exists()
    assert _same(reader.read(spins=False), want) and _same(ExplorationStore.open(path).read(spins=False), want)
    reader.close()


def test_a_torn_last_frame_is_dropped(tmp_path):
    """A writer killed inside an append leaves part of a frame: readers see the checkpoint before."""
    path = tmp_path / "exploration.h5"
    store = ExplorationStore.create(path, space=SPACE, config={})
    snaps, ends = [], []
    for c in range(3):
        snaps += _checkpoints(store, 5 * c, 1)
        ends.append(_journal(path).stat().st_size)
    journal = _journal(path).read_bytes()
    store._journal.close()  # "kill" it: no compaction, lock dropped
    store._lock.release()
    for cut in (ends[1] + 1, ends[2] - 1, (ends[1] + ends[2]) // 2):
        _journal(path).write_bytes(journal[:cut])
        assert _same(ExplorationStore.open(path).read(spins=False), snaps[1])
    _journal(path).write_bytes(journal[:ends[0] - 1])  # inside the first frame: the main file alone
    with ExplorationStore.open(path) as reader:
        assert reader.read() == ([], {}) and reader.checkpoint == 0
    _journal(path).write_bytes(journal + b"\x00" * 100)  # garbage after the last frame
    assert _same(ExplorationStore.open(path).read(spins=False), snaps[2])
    _journal(path).write_bytes(journal[:ends[2] - 7])
    with ExplorationStore.open(path, "a") as writer:  # folds checkpoints 1-2, drops the torn bytes
        assert _same(writer.read(spins=False), snaps[1]) and not _journal(path).exists()
        writer.write([_done(i) for i in range(5, 15)], {"n": 15})
    with ExplorationStore.open(path) as reader:
        assert reader.checkpoint == 3 and reader.read_state() == {"n": 15}
        assert reader.counts()["status"] == {"DONE": 15}


def _refused_by_readers_and_writers_unchanged(path, match: str) -> None:
    """Opening ``path`` to read and to write both raise ``StoreError`` matching ``match``, and
    leave every file of its directory as it was."""
    before = {p.name: p.read_bytes() for p in path.parent.iterdir()}
    for mode in ("r", "a"):
        with pytest.raises(StoreError, match=match):
            ExplorationStore.open(path, mode)
        assert {p.name: p.read_bytes() for p in path.parent.iterdir()} == before


def test_damage_inside_the_journal_is_refused(tmp_path):
    path = tmp_path / "exploration.h5"
    store = ExplorationStore.create(path, space=SPACE, config={})
    _checkpoints(store, 0, 3)
    store._journal.close()
    store._lock.release()
    data = bytearray(_journal(path).read_bytes())
    data[len(data) // 3] ^= 0x10  # inside the first or second frame: valid frames follow
    _journal(path).write_bytes(bytes(data))
    _refused_by_readers_and_writers_unchanged(path, r"exploration\.h5\.journal \(the checkpoint journal of exploration\.h5\) "
                                                    r"is damaged: .*a valid checkpoint follows.*move the journal aside")


def test_a_journal_of_another_store_is_an_error_and_nothing_is_deleted(tmp_path):
    """Issue 24, item 2: a journal that does not continue the main file is never dropped or deleted."""
    path = tmp_path / "exploration.h5"
    with ExplorationStore.create(path, space=SPACE, config={}) as store:
        _checkpoints(store, 0, 2)
        stale = _journal(path).read_bytes()
        store._journal.n_frames = 0  # keep the journal on close: pretend nothing to fold
    with ExplorationStore.create(path, space=SPACE, config={"new": True}, overwrite=True) as store:
        pass
    _journal(path).write_bytes(stale)  # e.g. restored from a backup next to the new store
    _refused_by_readers_and_writers_unchanged(path, r"the journal .*exploration.h5.journal does not match the store "
                                                    r".*exploration.h5: .*belongs to store .*Nothing was changed")


def test_a_leftover_journal_of_a_finished_compaction_is_ignored(tmp_path):
    """A compaction killed between the rename and the unlink: every frame is in the main file."""
    path = tmp_path / "exploration.h5"
    with ExplorationStore.create(path, space=SPACE, config={}) as store:
        want = _checkpoints(store, 0, 2)[-1]
        old = _journal(path).read_bytes()
        store._compact()  # the main file now holds both checkpoints
    _journal(path).write_bytes(old)  # ... but the old journal survived
    with ExplorationStore.open(path) as reader:
        assert _same(reader.read(spins=False), want)
    ExplorationStore.open(path, "a").close()  # a writer deletes it: all of it is in the main file
    assert not _journal(path).exists() and _same(ExplorationStore.open(path).read(spins=False), want)


def test_schema1_store_is_upgraded_by_a_writer(tmp_path):
    path = tmp_path / "exploration.h5"
    shutil.copy(FIXTURE, path)
    with ExplorationStore.open(path) as reader:
        assert reader.schema_version == 1
        old = reader.read()
    with ExplorationStore.open(path, "a") as store:
        assert store.schema_version == SCHEMA_VERSION
        store.write([_pending(3)], {**old[1], "iteration": 2})
    with h5py.File(path, "r") as f:
        assert f.attrs["schema_version"] == SCHEMA_VERSION == 3
        assert list(f["points/worker_names"].asstr()[:]) == ["", "pid:7", "pid:8"]
        assert list(f["points/worker"][:]) == [1, 2, 0, 0]
        assert list(f["points/error_index"][:]) == [1]
    with ExplorationStore.open(path) as store:
        records, state = store.read()
    assert _same((records[:3], old[1]), old) and state["iteration"] == 2 and len(records) == 4


def test_file_size_limit_during_checkpoints_keeps_the_last_one(tmp_path):
    """A real OS refusal (RLIMIT_FSIZE: writes past the limit fail with EFBIG) in a child process."""
    path = tmp_path / "exploration.h5"
    code = textwrap.dedent(f"""
        import resource, signal, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_journal import SPACE, _done
        from spinexplore.store import ExplorationStore, StoreError
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        store = ExplorationStore.create({str(path)!r}, space=SPACE, config={{}})
        resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000))
        k = 0
        try:
            while True:
                store.write([_done(i) for i in range(10 * k, 10 * k + 10)], {{"k": k + 1}})
                k += 1
        except StoreError as exc:
            print(k, exc, flush=True)
        try:
            store.close()
        except Exception as exc:
            print("close raised", exc)
    """)
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    k = int(out.stdout.split()[0])
    assert k > 5 and f"checkpoint {k + 1} could not be written (File too large)" in out.stdout
    with ExplorationStore.open(path) as store:
        assert store.checkpoint == k and store.read_state() == {"k": k} and store.n_points == 10 * k
    assert not path.with_name("exploration.h5.tmp").exists()
