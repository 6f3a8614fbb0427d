"""Tests of ExternalSimulation against tests/data/fake_solver.py (a real child process)."""

from __future__ import annotations

import os
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinexplore.simulation._external import ExternalSimulation
from spinexplore.results import PhaseType, SimulationResult

SOLVER = str(Path(__file__).parent / "data" / "fake_solver.py")
PY = sys.executable


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _wait_dead(pid: int, within: float = 5.0) -> bool:
    end = time.monotonic() + within
    while time.monotonic() < end:
        if not _alive(pid):
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize(
    "command, pass_params",
    [
        ([PY, SOLVER, "--params", "{params_file}"], "json"),
        ([PY, SOLVER], "json"),  # reads params.json from its working directory
        ([PY, SOLVER], "args"),
        ([PY, SOLVER], "env"),
        ([PY, SOLVER, "--h", "{h}", "--K", "{K:.17g}"], "env"),
        (f"{PY} {SOLVER} --h {{h}} --K {{K}}", "args"),
    ],
)
def test_parameters_reach_the_solver(command, pass_params, tmp_path):
    sim = ExternalSimulation(command, pass_params=pass_params, workdir=tmp_path)
    params = {"h": 0.45, "K": -0.125}
    res = sim(params)
    assert isinstance(res, SimulationResult)
    assert res.observables["h_seen"] == 0.45
    assert res.observables["K_seen"] == -0.125
    # the fake solver's rule: 0.3 < h <= 0.6 -> SKYRMION; E = -3 + K - h
    assert res.phase is PhaseType.SKYRMION
    assert res.energy == pytest.approx(-3.0 - 0.125 - 0.45)
    assert res.confidence == pytest.approx(0.9)
    np.testing.assert_allclose(res.observables["sq"], [0.25, 0.75])
    assert res.duration > 0
    assert list(tmp_path.iterdir()) == []  # the per-call directory was removed


@settings(max_examples=8, deadline=None)
@given(h=st.floats(-1e6, 1e6, allow_nan=False), K=st.floats(-1e-3, 1e-3, allow_nan=False),
       mode=st.sampled_from(["json", "args", "env"]))
def test_any_finite_value_reaches_the_solver_exactly(h, K, mode):
    res = ExternalSimulation([PY, SOLVER], pass_params=mode)({"h": h, "K": K})
    assert res.observables["h_seen"] == h and res.observables["K_seen"] == K


def test_json_on_stdout_and_keep_workdir(tmp_path):
    sim = ExternalSimulation([PY, SOLVER], result_file=None, env={"FAKE_MODE": "stdout"},
                             workdir=tmp_path, keep_workdir=True)
    res = sim({"h": 0.9, "K": 0.0})
    assert res.phase is PhaseType.FERROMAGNET
    (run_dir,) = tmp_path.iterdir()
    assert "solver starting" in (run_dir / "stdout.txt").read_text()
    assert (run_dir / "params.json").is_file()


def test_nonzero_exit_raises_with_stderr_tail(tmp_path):
    sim = ExternalSimulation([PY, SOLVER], env={"FAKE_MODE": "fail"}, workdir=tmp_path)
    with pytest.raises(RuntimeError, match="exited with status 3") as info:
        sim({"h": 0.1, "K": 0.0})
    msg = str(info.value)
    assert "error line 29" in msg and "error line 10" in msg
    assert "error line 9\n" not in msg  # only the last 20 lines


@pytest.mark.parametrize("mode, match", [("garbage", "gave no JSON object"),
                                         ("nophase", "without a 'phase' key")])
def test_bad_output_is_a_clear_error(mode, match, tmp_path):
    sim = ExternalSimulation([PY, SOLVER], env={"FAKE_MODE": mode}, workdir=tmp_path)
    with pytest.raises(ValueError, match=match):
        sim({"h": 0.1, "K": 0.0})


@pytest.mark.parametrize("mode", ["hang", "stubborn"])
def test_timeout_kills_the_whole_process_group(mode, tmp_path):
    pidfile = tmp_path / "pids"
    sim = ExternalSimulation([PY, SOLVER], env={"FAKE_MODE": mode, "FAKE_PIDFILE": str(pidfile)},
                             timeout=2.0, kill_grace=0.5, workdir=tmp_path / "runs")
    t0 = time.monotonic()
    res = sim({"h": 0.1, "K": 0.0})
    elapsed = time.monotonic() - t0
    assert res.phase is PhaseType.TIMEOUT
    assert "timeout=2 s" in res.error and "hanging now" in res.error
    assert 2.0 <= elapsed < 2.0 + 0.5 + 3.0
    solver_pid, child_pid = map(int, pidfile.read_text().split())
    assert _wait_dead(solver_pid)
    assert _wait_dead(child_pid)  # the grandchild went with its process group


def test_pickle_round_trip_and_call(tmp_path):
    sim = ExternalSimulation([PY, SOLVER], pass_params="args", timeout=30, workdir=tmp_path)
    clone = pickle.loads(pickle.dumps(sim))
    assert clone.argv == sim.argv and clone.timeout == 30
    assert clone({"h": 0.0, "K": 0.0}).phase is PhaseType.SINGLE_Q


def test_relative_script_path_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(Path(SOLVER).parent)
    sim = ExternalSimulation([PY, "fake_solver.py"], workdir=tmp_path)
    assert sim.argv[1] == SOLVER
    assert sim({"h": 0.5, "K": 0.0}).phase is PhaseType.SKYRMION


def test_unknown_placeholder_fails_at_call(tmp_path):
    sim = ExternalSimulation([PY, SOLVER, "--J2", "{J2}"], workdir=tmp_path)
    with pytest.raises(ValueError, match=r"placeholder \{J2\}.*available: \['K', 'h'\]"):
        sim({"h": 0.1, "K": 0.0})
    sim = ExternalSimulation([PY, SOLVER, "--h", "{h:d}"], workdir=tmp_path)
    with pytest.raises(ValueError, match=r"cannot fill command argument '\{h:d\}'"):
        sim({"h": 0.1, "K": 0.0})


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"command": "no-such-solver-xyz --fast"}, ValueError, "'no-such-solver-xyz'.*not found on PATH"),
        ({"command": ""}, ValueError, "must name an executable"),
        ({"command": 42}, TypeError, "command must be a string or a sequence"),
        ({"command": [PY, "{h"]}, ValueError, "malformed placeholder"),
        ({"command": "{exe} run"}, ValueError, "may not contain placeholders"),
        ({"command": PY, "pass_params": "stdin"}, ValueError, r"pass_params must be one of \['json', 'args', 'env'\]"),
        ({"command": PY, "timeout": -1}, ValueError, "timeout must be > 0"),
        ({"command": PY, "timeout": "5"}, TypeError, "timeout must be a real number"),
        ({"command": PY, "env": {"A": 1}}, TypeError, "env must map str to str"),
    ],
)
def test_invalid_arguments_are_rejected_before_any_run(kwargs, error, match):
    command = kwargs.pop("command")
    with pytest.raises(error, match=match):
        ExternalSimulation(command, **kwargs)


@pytest.mark.parametrize("arg", ['{"phase": "SKYRMION"}', "{}", "{0}", "{h-1}"])
def test_a_placeholder_that_is_no_parameter_name_is_refused_at_construction(arg):
    """A literal JSON text as an argument used to construct and then fail at every call."""
    from spinexplore.errors import InputError

    with pytest.raises(InputError, match=r"which is not a parameter name .*write literal braces"):
        ExternalSimulation(["echo", arg])
    assert ExternalSimulation(["echo", '{{"phase": "SKYRMION"}}']).argv[1] == '{{"phase": "SKYRMION"}}'


def test_placeholders_are_checked_against_the_space_before_any_work(tmp_path):
    from spinexplore import ActiveLearningExplorer, ParameterSpace
    from spinexplore.errors import InputError

    sim = ExternalSimulation([PY, SOLVER, "--J2", "{J2}", "--h", "{h}", "{params_file}"], workdir=tmp_path)
    assert sim.placeholders == ["J2", "h"]
    sim.check_parameters(["h", "J2"])
    ex = ActiveLearningExplorer(ParameterSpace({"h": (0.0, 1.0)}), seed=0, verbose=False)
    with pytest.raises(InputError, match=r"placeholder\(s\) \['J2'\] .* are not parameters of the space"):
        ex.run(0, 1, sim, n_initial=2, progress=False)
    assert ex.n_points == 0 or all(r.result is None for r in ex.records)  # nothing ran
    assert sim.describe()["command"][0] == PY


def test_params_must_be_a_mapping(tmp_path):
    sim = ExternalSimulation([PY, SOLVER], workdir=tmp_path)
    with pytest.raises(TypeError, match="params must be a mapping"):
        sim([0.1, 0.2])


def test_explorer_records_failures_and_timeouts_of_an_external_solver(tmp_path):
    import spinexplore.explorer as explorer_mod
    from spinexplore import ParameterSpace, PointStatus

    space = ParameterSpace({"h": (0.0, 1.0), "K": (0.0, 1.0)})
    ex = explorer_mod.ActiveLearningExplorer(space, seed=3, verbose=False)
    ex.add_points([[0.05, 0.5], [0.45, 0.2], [0.75, 0.2], [0.2, 0.9], [0.95, 0.5]])
    sim = ExternalSimulation([PY, SOLVER], env={"FAKE_MODE": "mixed"}, timeout=2.0, kill_grace=0.2)
    t0 = time.monotonic()
    ex.classify_pending_points(sim, n_jobs=2, progress=False)
    assert time.monotonic() - t0 < 30
    status = [PointStatus(s) for s in ex.status]
    assert status == [PointStatus.FAILED, PointStatus.DONE, PointStatus.DONE, PointStatus.DONE,
                      PointStatus.TIMEOUT]
    assert [PhaseType(p) for p in ex.phases[1:4]] == [PhaseType.SKYRMION, PhaseType.FERROMAGNET,
                                                       PhaseType.SINGLE_Q]
    records = ex.records
    assert "error line 29" in records[0].result.error  # the stderr tail reached the record
    assert "timeout" in records[4].result.error


def test_relative_executable_survives_the_change_of_directory(tmp_path, monkeypatch):
    script = tmp_path / "solver.sh"
    script.write_text('#!/bin/sh\necho "{\\"phase\\": \\"PARAMAGNET\\", \\"confidence\\": 0.5}"\n')
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    sim = ExternalSimulation("./solver.sh", result_file=None, workdir=tmp_path / "runs")
    assert sim.argv == [str(script)]
    res = sim({"h": 0.1})
    assert res.phase is PhaseType.PARAMAGNET and res.confidence == 0.5
    assert ExternalSimulation("sh -c true").argv[0] == "sh"  # bare names stay bare (PATH lookup)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")
def test_solver_dies_with_a_killed_worker(tmp_path):
    import signal
    import subprocess

    pidfile = tmp_path / "pids"
    code = (
        "import sys; from spinexplore.simulation._external import ExternalSimulation; "
        f"ExternalSimulation([sys.executable, {SOLVER!r}], env={{'FAKE_MODE': 'hang', "
        f"'FAKE_PIDFILE': {str(pidfile)!r}}})({{'h': 0.1}})"
    )
    worker = subprocess.Popen([PY, "-c", code])
    try:
        end = time.monotonic() + 30
        while not (pidfile.is_file() and pidfile.read_text().strip()) and time.monotonic() < end:
            time.sleep(0.05)
        solver_pid, _ = map(int, pidfile.read_text().split())
        worker.send_signal(signal.SIGKILL)  # as an executor's hard timeout does
        worker.wait()
        assert _wait_dead(solver_pid)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        if pidfile.is_file() and len(pidfile.read_text().split()) == 2:
            orphan = int(pidfile.read_text().split()[1])  # the solver's own child: not covered
            if _alive(orphan):
                os.kill(orphan, signal.SIGKILL)


# ---------------------------------------------------------------------------- issue 24: no orphans, no big reads

def _processes_with(marker: str) -> list[int]:
    """Live processes whose command line contains ``marker``."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as fh:
                    if marker.encode() in fh.read() and _alive(int(name)):
                        out.append(int(name))
            except OSError:
                pass
    return out


def _wrapper(tmp_path: Path, seconds: str) -> Path:
    """``bash solver.sh`` that runs ``sleep`` (a child the worker's parent-death signal misses)."""
    script = tmp_path / "solver.sh"
    script.write_text(f"#!/bin/bash\nsleep {seconds}\necho '{{\"phase\": \"FERROMAGNET\"}}'\n")
    return script


def _wait_until(predicate, seconds: float = 20.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_wrapper_scripts_children_die_with_a_worker_killed_at_the_run_timeout(tmp_path):
    """The probe: ``bash solver.sh`` running ``sleep``, run(timeout=...) SIGKILLs the worker;
    the ``sleep`` must not be left orphaned."""
    from spinexplore.execution import OutcomeStatus, ProcessExecutor

    marker = f"903.{os.getpid()}1"  # a unique sleep duration to find the processes by
    sim = ExternalSimulation(["bash", str(_wrapper(tmp_path, marker))])
    with ProcessExecutor(2, chunksize=1) as ex:
        outcomes = list(ex.map_unordered(sim, [{"h": 0.1}] * 3, timeout=0.7))
        assert [o.status for o in outcomes] == [OutcomeStatus.TIMEOUT] * 3
        assert _wait_until(lambda: not _processes_with(marker), 5.0), _processes_with(marker)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_wrapper_scripts_children_die_when_the_worker_is_killed_or_the_map_stops(tmp_path):
    """kill -9 of a worker (it cleans nothing up), then a map stopped early (what Ctrl+C and
    SIGTERM do): no ``sleep`` of the wrapper is left."""
    import signal
    import threading

    from spinexplore.execution import OutcomeStatus, ProcessExecutor

    marker = f"904.{os.getpid()}1"
    sim = ExternalSimulation(["bash", str(_wrapper(tmp_path, marker))])
    with ProcessExecutor(2, chunksize=1) as ex:
        gen = ex.map_unordered(sim, [{"h": 0.1}] * 2)
        killed = []

        def kill_one_worker():
            if _wait_until(lambda: len(_processes_with(marker)) == 2):
                killed.append(ex.worker_pids()[0])
                os.kill(killed[0], signal.SIGKILL)

        threading.Thread(target=kill_one_worker, daemon=True).start()
        first = next(gen)  # the item of the killed worker
        assert killed and first.status is OutcomeStatus.FAILED and "SIGKILL" in first.error
        assert _wait_until(lambda: len(_processes_with(marker)) == 1, 5.0), _processes_with(marker)
        gen.close()  # stop early: the busy worker is killed, and its session with it
        assert _wait_until(lambda: not _processes_with(marker), 5.0), _processes_with(marker)


def test_a_huge_solver_log_on_stdout_is_streamed_not_read_into_memory(tmp_path):
    """300 MB of log lines raised the peak memory by 770 MB; the result is the last JSON line."""
    script = tmp_path / "chatty.py"
    script.write_text(
        "import sys\n"
        "line = 'iteration 123456: energy -1.2345678901234 residual 1e-12 ' * 2 + '\\n'\n"
        "sys.stdout.write(line * 400_000)\n"  # ~90 MB
        "print('{\"phase\": \"SKYRMION\", \"energy\": -2.5}')\n"
        "sys.stdout.write(line * 10)\n"
    )
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import resource, sys\n"
        "from spinexplore.simulation._external import ExternalSimulation\n"
        f"sim = ExternalSimulation([sys.executable, {str(script)!r}], result_file=None, workdir={str(tmp_path)!r})\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "res = sim({'h': 0.1})\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(res.phase.name, res.energy, (after - before) // 1024)\n"
    )
    import subprocess

    out = subprocess.run([PY, str(probe)], capture_output=True, text=True, timeout=120, check=True).stdout.split()
    assert out[:2] == ["SKYRMION", "-2.5"]
    assert int(out[2]) < 20, f"peak memory grew by {out[2]} MB while parsing a 90 MB log"


def test_a_long_stdout_without_a_result_names_its_end(tmp_path):
    script = tmp_path / "nojson.py"
    script.write_text("import sys\nsys.stdout.write(('log ' * 20 + '\\n') * 220_000)\nprint('the end of the log')\n")
    sim = ExternalSimulation([PY, str(script)], result_file=None, workdir=tmp_path)
    with pytest.raises(ValueError, match="the end of the log"):
        sim({"h": 0.1})


def _code_solver(tmp_path: Path) -> Path:
    """A solver that prints an integer phase code: 0 below h = 0.5, 1 above."""
    script = tmp_path / "codes.py"
    script.write_text("import json, sys\n"
                      "p = json.load(open(sys.argv[1]))\n"
                      "print(json.dumps({'phase': 0 if p['h'] < 0.5 else 1, 'confidence': 0.9}))\n")
    return script


def test_integer_codes_of_an_external_solver_are_read_with_the_declared_phases(tmp_path):
    """Issue 22: a solver printing {"phase": 1} where the user declared code 1 = "Neel" was
    recorded as PhaseType 1 (SINGLE_Q): the worker read the code before the vocabulary could."""
    from spinexplore import ActiveLearningExplorer, ParameterSpace

    script = _code_solver(tmp_path)
    sim = ExternalSimulation([PY, str(script), "{params_file}"], result_file=None)
    assert sim({"h": 0.7}).phase is PhaseType.SINGLE_Q  # no declaration: a PhaseType value, as before
    own = ExternalSimulation([PY, str(script), "{params_file}"], result_file=None, phases={0: "FM", 1: "Neel"})
    assert own({"h": 0.7}).phase == "Neel" and own({"h": 0.2}).phase == "FM"
    assert pickle.loads(pickle.dumps(own))({"h": 0.7}).phase == "Neel"
    assert own.describe()["phases"][1]["name"] == "Neel"
    # the explorer gives its declared codes to a simulation without its own, in the workers too
    space = ParameterSpace({"h": (0.0, 1.0), "K": (0.0, 1.0)})
    ex = ActiveLearningExplorer(space, seed=0, verbose=False, phases={0: "FM", 1: "Neel"})
    ex.add_points([[0.2, 0.5], [0.8, 0.5]])
    ex.classify_pending_points(sim, n_jobs=2, progress=False)
    assert [r.result.phase.name for r in ex.records] == ["FM", "Neel"]
    assert sim.phases is None  # the user's object is not changed
    with pytest.raises(ValueError, match="phases"):
        ExternalSimulation([PY, str(script)], phases={0: "FM", 1: "FM2", 2: "FAILED"})
