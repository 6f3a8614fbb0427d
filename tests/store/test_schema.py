"""Schema versioning: the committed schema-1 fixture keeps opening; other versions fail clearly."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from spinexplore import ParameterSpace, PhaseType, PointStatus
from spinexplore.store import SCHEMA_VERSION, ExplorationStore, StoreError

FIXTURE = Path(__file__).with_name("data") / "schema1.h5"
FIXTURE2 = Path(__file__).with_name("data") / "schema2.h5"


@pytest.mark.parametrize("fixture", [FIXTURE, FIXTURE2], ids=["schema1", "schema2"])
def test_committed_fixtures_read_back(fixture):
    with ExplorationStore.open(fixture) as store:
        assert store.schema_version == int(fixture.stem[-1])
        records, state = store.read()
        assert store.space == ParameterSpace({"h": (0.0, 0.57), "K": (-0.24, 0.95)}, fixed={"T": 0.0})
        assert store.config == {"model": "triangular-chiral", "seed": 42, "strategy": "balanced"}
    assert state["rng"]["state"] == {"state": 2**127 + 1, "inc": 2**64 + 3}
    assert [r.status for r in records] == [PointStatus.DONE, PointStatus.FAILED, PointStatus.PENDING]
    np.testing.assert_array_equal(records[2].params, [0.5, 0.9])
    a, b = records[0].result, records[1].result
    assert (a.phase, a.confidence, a.energy, dict(a.observables), a.duration, a.error) == (
        PhaseType.SKYRMION, 0.75, -1.5, {"Q_total": -1.0}, 2.5, None)
    assert b.phase is PhaseType.FAILED and b.error == "ZeroDivisionError: boom" and math.isnan(b.energy)
    assert records[2].result is None and records[0].worker == "pid:7"


def test_schema1_fixture_with_plain_h5py():
    """The layout of docs/store-format.md, read without spinexplore."""
    import json

    with h5py.File(FIXTURE, "r") as f:
        assert f.attrs["format"] == "spinexplore.exploration" and f.attrs["schema_version"] == 1
        assert f.attrs["n_points"] == 3
        names = [n.decode() if isinstance(n, bytes) else n for n in f["points/params"].attrs["names"]]
        assert names == ["h", "K"]
        np.testing.assert_array_equal(f["points/params"][:, 0], [0.1, 0.3, 0.5])
        enum = dict(zip(f["points/status"].attrs["enum_names"], f["points/status"].attrs["enum_values"]))
        assert enum["DONE"] == 1 and list(f["points/status"][:]) == [1, 2, 0]
        assert list(f["points/phase"][:]) == [4, 8, -1]
        assert list(f["points/error"].asstr()[:]) == ["", "ZeroDivisionError: boom", ""]
        assert list(f["points/observable_names"].asstr()[:]) == ["Q_total"]
        assert f["points/observables"][0, 0] == -1.0 and math.isnan(f["points/observables"][2, 0])
        assert json.loads(f["state"].asstr()[()])["iteration"] == 1


def test_schema2_fixture_with_plain_h5py():
    """The schema-2 layout of docs/store-format.md, read without spinexplore."""
    import json
    import zlib

    with h5py.File(FIXTURE2, "r") as f:
        assert f.attrs["format"] == "spinexplore.exploration" and f.attrs["schema_version"] == 2
        assert f.attrs["n_points"] == 3 and f.attrs["checkpoint"] == 1 and len(f.attrs["store_id"]) == 32
        np.testing.assert_array_equal(f["points/params"][:, 0], [0.1, 0.3, 0.5])
        assert list(f["points/status"][:]) == [1, 2, 0] and list(f["points/phase"][:]) == [4, 8, -1]
        workers = f["points/worker_names"].asstr()[:]
        assert [workers[i] for i in f["points/worker"][:]] == ["pid:7", "pid:8", ""]
        assert list(f["points/error_index"][:]) == [1]
        assert list(f["points/error_text"].asstr()[:]) == ["ZeroDivisionError: boom"]
        assert json.loads(f["state"].asstr()[()])["rng"]["state"]["state"] == 2**127 + 1
        texts = [f[k].asstr()[()] for k in ("space", "config", "state")]
        lists = [list(f[f"points/{k}"].asstr()[:]) for k in ("observable_names", "worker_names", "error_text")]
        crc = 0
        for part in texts + ["\x00".join(x) for x in lists]:
            crc = zlib.crc32(part.encode() + b"\x01", crc)
        assert crc == f.attrs["text_crc32"]


def _with_version(tmp_path, version: int) -> Path:
    path = tmp_path / "exploration.h5"
    shutil.copy(FIXTURE, path)
    with h5py.File(path, "r+") as f:
        f.attrs["schema_version"] = version
    return path


def test_newer_schema_is_refused_clearly(tmp_path):
    path = _with_version(tmp_path, SCHEMA_VERSION + 1)
    before = path.read_bytes()
    for mode in ("r", "a"):
        with pytest.raises(StoreError, match=rf"schema {SCHEMA_VERSION + 1}.*reads schema 1\.\.{SCHEMA_VERSION}.*pip install -U spinexplore"):
            ExplorationStore.open(path, mode)
    assert path.read_bytes() == before


def test_unknown_older_schema_is_refused_clearly(tmp_path):
    path = _with_version(tmp_path, 0)
    with pytest.raises(StoreError, match="schema 0, older than any"):
        ExplorationStore.open(path)
