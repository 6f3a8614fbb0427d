"""Issue 24, the execution half: a timeout is for the simulation only, a signal to a worker
cancels its point (rerun on resume) rather than failing it, what the simulation really raised is
recorded, and no worker temp dir is left behind. Real processes and real signals throughout."""

from __future__ import annotations

import glob
import os
import signal
import sys
import time

import cloudpickle
import pytest

from spinexplore.execution import OutcomeStatus, ProcessExecutor

cloudpickle.register_pickle_by_value(sys.modules[__name__])


class SlowStart:
    """A simulation with a slow cold start, as the built-in one: unpickling it costs ``load``
    seconds (importing numba) and its first call ``warm`` seconds more (loading compiled
    kernels) unless ``warmup()`` ran. ``"stop"`` SIGSTOPs its own worker (a stuck worker: the
    timeout kills it); anything else returns at once with the worker's pid.
    """

    def __init__(self, load: float, warm: float) -> None:
        self.load, self.warm, self.warmed = load, warm, False

    def __getstate__(self):
        return {"load": self.load, "warm": self.warm}

    def __setstate__(self, state):
        time.sleep(state["load"])
        self.load, self.warm, self.warmed = state["load"], state["warm"], False

    def warmup(self) -> None:
        if not self.warmed:
            time.sleep(self.warm)
            self.warmed = True

    def __call__(self, item):
        self.warmup()
        if item == "stop":
            os.kill(os.getpid(), signal.SIGSTOP)
        time.sleep(0.2 if item == "b" else 0.05)
        return os.getpid()


def test_a_timeout_shorter_than_a_cold_start_still_runs_every_point():
    """The probe: a cold start of 0.8 s, a timeout of 0.4 s. Every point finishes, including
    the first one of the worker that replaces a stopped one (it warms up outside the timeout)."""
    with ProcessExecutor(2, chunksize=1) as ex:
        items = ["a"] * 3 + ["stop"] + ["b"] * 10
        outcomes = {o.index: o for o in ex.map_unordered(SlowStart(0.4, 0.4), items, timeout=0.4)}
    assert outcomes[3].status is OutcomeStatus.TIMEOUT, outcomes[3]
    others = [o for i, o in outcomes.items() if i != 3]
    assert all(o.status is OutcomeStatus.OK for o in others), [o.error for o in others if not o.ok]
    assert len({o.value for o in others}) == 3  # two first workers and the replacement all worked


def test_the_timeout_counts_from_the_start_of_the_simulation_not_from_dispatch():
    """A simulation sent again (a new map) loads in the worker before its items are timed."""
    with ProcessExecutor(1) as ex:
        assert [o.status for o in ex.map_unordered(SlowStart(0.0, 0.0), ["x"], timeout=5)] == [OutcomeStatus.OK]
        outcomes = list(ex.map_unordered(SlowStart(0.3, 0.3), ["x", "y"], timeout=0.3))  # new simulation
    assert [o.status for o in outcomes] == [OutcomeStatus.OK] * 2, [o.error for o in outcomes]


def _sleep_and_report(seconds):
    time.sleep(seconds)
    return os.getpid()


def test_a_worker_stopped_by_sigterm_cancels_its_point_instead_of_failing_it(h):
    """A batch scheduler signals the whole job: the point whose worker got SIGTERM did nothing
    wrong; it is CANCELLED (the runner leaves it pending) and the map goes on."""
    with ProcessExecutor(2, chunksize=1) as ex:
        gen = ex.map_unordered(_sleep_and_report, [30.0, 0.01, 0.01, 0.01])
        first = next(gen)  # a short one; the long one is running in the other worker
        assert first.ok
        busy = [p for p in ex.worker_pids() if p != first.value]
        os.kill(busy[0], signal.SIGTERM)
        rest = [first] + list(gen)
    by_index = {o.index: o for o in rest}
    assert by_index[0].status is OutcomeStatus.CANCELLED, by_index[0]
    assert "SIGTERM" in by_index[0].error
    assert all(by_index[i].ok for i in (1, 2, 3))


class _OwnBaseException(BaseException):
    pass


def _raise_base(kind):
    if kind == "base":
        raise _OwnBaseException("the user's own BaseException")
    if kind == "genexit":
        raise GeneratorExit("closing")
    return kind


def test_a_base_exception_of_the_simulation_is_recorded_as_what_it_was():
    with ProcessExecutor(1) as ex:
        outcomes = {o.index: o for o in ex.map_unordered(_raise_base, ["base", "genexit", "ok"])}
    assert outcomes[0].status is OutcomeStatus.FAILED and "_OwnBaseException" in outcomes[0].error
    assert "SIGKILL" not in outcomes[0].error
    assert outcomes[1].status is OutcomeStatus.FAILED and "GeneratorExit" in outcomes[1].error
    assert outcomes[2].ok and outcomes[2].value == "ok"


def test_no_temp_dir_is_left_by_a_worker_stopped_during_its_start_up(tmp_path, h):
    """An interrupt right after the start: the workers are killed before they said where their
    temp dir is; the dirs they made must go all the same."""
    for _ in range(5):
        ex = ProcessExecutor(2, tmp_root=str(tmp_path))
        ex._ensure_workers()
        pids = ex.worker_pids()
        # wait until each worker made its dir (the event an early interrupt races with)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(glob.glob(str(tmp_path / "spinexplore_pid*"))) < 2:
            time.sleep(0.005)
        ex.shutdown()
        assert not h.wait_gone(pids, 10)
    assert glob.glob(str(tmp_path / "spinexplore_pid*")) == []


@pytest.mark.parametrize("owner_text, removed", [
    (None, True),                      # killed before it wrote its owner file
    ("", True),                        # killed while it wrote it (the file exists, still empty)
    ("{host}\n", True),                # ... or half written
    ("{host}\n{pid}\n0\n", True),      # complete: not kept
    ("{host}\n{pid}\n1\n", False),     # complete: kept on purpose (keep_tmpdirs)
])
def test_the_dir_of_a_worker_killed_while_writing_its_owner_file_is_removed(tmp_path, owner_text, removed):
    """The start-up race behind a dir left by a worker stopped at once: its owner file existed
    but was empty or half written, and the dir was kept as if it were not this worker's."""
    from spinexplore.execution import _worker

    pid = 2 ** 22 + 12345  # above the usual pid range: no such process
    d = tmp_path / f"{_worker.TMP_PREFIX}pid{pid}_abc"
    d.mkdir()
    if owner_text is not None:
        (d / _worker.OWNER_FILE).write_text(owner_text.format(host=_worker.HOST, pid=pid))
    assert (_worker.remove_tmpdirs_of(pid, str(tmp_path)) == [str(d)]) is removed
    assert d.exists() is not removed


def test_only_the_dirs_of_dead_workers_of_this_host_not_kept_are_stale(tmp_path, monkeypatch):
    """remove_stale_tmpdirs (shared scan with remove_tmpdirs_of since issue 25): a dir goes only
    with a complete owner file naming this host, a dead pid and keep = 0."""
    from spinexplore.execution import _worker

    dead, alive = 2 ** 22 + 12345, os.getpid()
    dirs = {}
    for name, owner in {"dead": f"{_worker.HOST}\n{dead}\n0\n", "alive": f"{_worker.HOST}\n{alive}\n0\n",
                        "elsewhere": f"another-host\n{dead}\n0\n", "kept": f"{_worker.HOST}\n{dead}\n1\n",
                        "no_owner": None, "half": f"{_worker.HOST}\n"}.items():
        dirs[name] = tmp_path / f"{_worker.TMP_PREFIX}pid{dead}_{name}"
        dirs[name].mkdir()
        if owner is not None:
            (dirs[name] / _worker.OWNER_FILE).write_text(owner)
    (tmp_path / "unrelated").mkdir()
    monkeypatch.setenv("SPINEXPLORE_KEEP_TMPDIRS", "1")
    assert _worker.remove_stale_tmpdirs(str(tmp_path)) == []
    monkeypatch.delenv("SPINEXPLORE_KEEP_TMPDIRS")
    assert _worker.remove_stale_tmpdirs(str(tmp_path)) == [str(dirs["dead"])]
    assert sorted(p.name.rsplit("_", 1)[-1] for p in tmp_path.iterdir() if p.name != "unrelated") == [
        "alive", "elsewhere", "half", "kept", "owner"]
