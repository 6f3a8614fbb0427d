"""Reading for people: summary(), to_dataframe(), and what a reader sees while a writer works."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from spinexplore import ParameterSpace, PhaseType, PointRecord, PointStatus, SimulationResult
from spinexplore.store import ExplorationStore, MemoryStore

SPACE = ParameterSpace({"h": (0.0, 1.0), "K": (-1.0, 1.0)})


def _records() -> list[PointRecord]:
    def done(i, phase, **obs):
        return PointRecord(index=i, params=[i / 10, -i / 10], status=PointStatus.DONE, iteration=i // 2,
                           worker="pid:1", result=SimulationResult(phase=phase, confidence=0.5,
                                                                   energy=-float(i), duration=2.0,
                                                                   observables=obs))

    return [
        done(0, PhaseType.SKYRMION, Q=-1.0),
        done(1, PhaseType.SKYRMION, Q=-1.0, m_z=0.2),
        done(2, PhaseType.FERROMAGNET, m_z=1.0),
        PointRecord(index=3, params=[0.3, 0.3], status=PointStatus.FAILED, iteration=1,
                    result=SimulationResult(phase=PhaseType.FAILED, confidence=0.0, error="boom")),
        PointRecord(index=4, params=[0.4, 0.4], status=PointStatus.PENDING, iteration=2),
    ]


@pytest.fixture(params=["memory", "hdf5"])
def store(request, tmp_path):
    s = MemoryStore(SPACE, {}) if request.param == "memory" else ExplorationStore.create(
        tmp_path / "exploration.h5", space=SPACE, config={})
    s.write(_records(), {"iteration": 2})
    yield s
    s.close()


def test_summary_counts(store):
    text = store.summary()
    assert "points: 5" in text
    assert "PENDING 1" in text and "DONE 3" in text and "FAILED 1" in text
    assert "SKYRMION 2" in text and "FERROMAGNET 1" in text
    assert "simulation time: total 6 s" in text  # 3 x 2 s; the FAILED one took 0 s
    assert "observables: Q, m_z" in text


def test_to_dataframe(store):
    pd = pytest.importorskip("pandas")
    df = store.to_dataframe()
    assert len(df) == 5 and list(df.index) == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(df["h"], [0.0, 0.1, 0.2, 0.3, 0.4])
    assert list(df["status"]) == ["DONE", "DONE", "DONE", "FAILED", "PENDING"]
    assert list(df["phase"])[:3] == ["SKYRMION", "SKYRMION", "FERROMAGNET"]
    # FAILED is the point's status (schema 3), not a phase; pending: no phase either
    assert pd.isna(df["phase"].iloc[3]) and pd.isna(df["phase"].iloc[4])
    assert df["error"].iloc[3] == "boom" and pd.isna(df["error"].iloc[0])
    assert df["m_z"].iloc[2] == 1.0 and np.isnan(df["m_z"].iloc[0])


def test_to_dataframe_without_pandas(store, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # makes `import pandas` fail
    with pytest.raises(ImportError, match=r"needs pandas.*pip install pandas"):
        store.to_dataframe()


def test_reader_follows_the_writer(tmp_path):
    path = tmp_path / "exploration.h5"
    with ExplorationStore.create(path, space=SPACE, config={}) as writer:
        reader = ExplorationStore.open(path)
        assert reader.read() == ([], {})
        writer.write(_records()[:2], {"iteration": 0})
        records, state = reader.read()
        assert len(records) == 2 and state == {"iteration": 0}
        assert "points: 2" in reader.summary()
        reader.close()


def test_a_reader_outlasts_a_writer_that_compacts_during_many_reads(tmp_path, monkeypatch):
    """A writer compacting faster than one read takes replaced the main file during each of 20
    reads and the reader gave up ("kept changing while it was read"): readers now keep trying
    (with a random, growing pause) for a minute before they give up."""
    import spinexplore.store._reader as reader

    path = tmp_path / "exploration.h5"
    s = ExplorationStore.create(path, space=SPACE, config={})
    s.write(_records(), {"iteration": 2})
    s.close()
    real, calls = reader.load_file, []

    def replaced_meanwhile(p):
        loaded = real(p)
        calls.append(p)
        if len(calls) <= 3 * reader._RETRIES:
            loaded["stamp"] = None  # what a compaction during the read looks like
        return loaded

    monkeypatch.setattr(reader, "load_file", replaced_meanwhile)
    monkeypatch.setattr(reader.time, "sleep", lambda seconds: None)
    loaded = reader.load_store(path)
    assert len(calls) == 3 * reader._RETRIES + 1
    assert loaded["stamp"] == reader.stamp(path)
