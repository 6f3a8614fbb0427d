"""One writer per store: clear errors naming the holder; a dead holder's lock is taken over."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from spinexplore import ParameterSpace
from spinexplore.store import ExplorationStore, StoreError, StoreLockedError

SPACE = ParameterSpace({"h": (0.0, 1.0)})


def _holder(path) -> subprocess.Popen:
    code = textwrap.dedent(f"""
        import sys, time
        from spinexplore import ParameterSpace
        from spinexplore.store import ExplorationStore
        s = ExplorationStore.create({str(path)!r}, space=ParameterSpace({{"h": (0.0, 1.0)}}), config={{}})
        print("ready", flush=True)
        sys.stdin.read()
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_second_writer_in_same_process(tmp_path):
    path = tmp_path / "exploration.h5"
    with ExplorationStore.create(path, space=SPACE, config={}):
        with pytest.raises(StoreLockedError, match=r"already open for writing in this process \(pid \d+"):
            ExplorationStore.open(path, "a")
        with pytest.raises(StoreLockedError):
            ExplorationStore.create(path, space=SPACE, config={}, overwrite=True)
        with ExplorationStore.open(path) as reader:  # readers need no lock
            assert reader.read() == ([], {})
    assert not (tmp_path / "exploration.h5.lock").exists()
    ExplorationStore.open(path, "a").close()  # free again after close


def test_other_process_holds_the_lock(tmp_path):
    path = tmp_path / "exploration.h5"
    proc = _holder(path)
    try:
        before = path.read_bytes()
        with pytest.raises(StoreLockedError) as info:
            ExplorationStore.open(path, "a")
        assert f"pid {proc.pid}" in str(info.value) and socket.gethostname() in str(info.value)
        assert "mode='r'" in str(info.value)
        with pytest.raises(StoreLockedError, match=f"pid {proc.pid}"):
            ExplorationStore.create(path, space=SPACE, config={}, overwrite=True)
        assert path.read_bytes() == before  # overwrite=True did not touch the file
        assert ExplorationStore.open(path).n_points == 0
    finally:
        proc.kill()
        proc.wait()
    # the holder died without releasing anything: its lock is gone with it
    assert (tmp_path / "exploration.h5.lock").exists()
    with ExplorationStore.open(path, "a") as store:
        store.write([], {"resumed": True})


def test_stale_lock_file_of_dead_process_is_taken_over(tmp_path):
    path = tmp_path / "exploration.h5"
    ExplorationStore.create(path, space=SPACE, config={}).close()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = tmp_path / "exploration.h5.lock"
    lock.write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "started": "earlier"}))
    with ExplorationStore.open(path, "a"):
        info = json.loads(lock.read_text())
        assert info["pid"] == os.getpid()
    assert not lock.exists()


def test_closed_store_refuses_writes(tmp_path):
    store = ExplorationStore.create(tmp_path / "e.h5", space=SPACE, config={})
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.write([], {})
