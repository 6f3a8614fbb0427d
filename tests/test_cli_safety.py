"""Issue 12 on the command line: a user's run is never destroyed, silently changed, or ended by a
traceback. One tiny real run (L = 6, screening) is made once and copied for each test."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from spinexplore.cli import main

from helpers.cli import one_line_error, snapshot

TINY = ["--n-initial", "2", "--n-iterations", "0", "--lattice-size", "6", "--mode", "screening",
        "--axes", "h=0:0.5", "K=0:0.5", "--no-progress"]


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    assert main(["run", *TINY, "--output-dir", str(out)]) == 0
    return out


@pytest.fixture
def run_dir(reference_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(reference_run, out)
    return out


@pytest.fixture
def captured_run(monkeypatch):
    """Replace the explorer's run (the command line's way in, ``_run_checked``: the settings checked
    once at its edge) by a recorder: what the CLI would run, without running it."""
    from dataclasses import fields

    from spinexplore.explorer import ActiveLearningExplorer
    from spinexplore.settings import RunSettings

    calls = []

    def record(self, simulation, settings):
        assert type(settings) is RunSettings
        calls.append({"simulation": simulation, **{f.name: getattr(settings, f.name) for f in fields(settings)}})
        return self

    monkeypatch.setattr(ActiveLearningExplorer, "_run_checked", record)
    return calls


def stored_run(out: Path):
    from spinexplore.explorer import ActiveLearningExplorer

    ex = ActiveLearningExplorer.load(out / "exploration.h5", read_only=True, verbose=False)
    ex.store.close()
    return ex


# ---------------------------------------------------------------- 1. resume uses the store
@pytest.mark.parametrize("damage", ["delete", "edit"])
def test_resume_rebuilds_the_simulation_from_the_store_not_config_toml(run_dir, damage, captured_run, capsys):
    cfg = run_dir / "config.toml"
    if damage == "delete":
        cfg.unlink()
    else:
        cfg.write_text(cfg.read_text().replace("lattice_size = 6", "lattice_size = 24")
                       .replace('mode = "screening"', 'mode = "fast"').replace("n_jobs = 1", "n_jobs = 2"))
    assert main(["resume", str(run_dir), "--no-progress"]) == 0
    assert "(L=6, mode=screening) as recorded" in capsys.readouterr().out
    (call,) = captured_run
    sim = call["simulation"]
    assert (sim.lattice_size, sim.mode, sim.model_name) == (6, "screening", "triangular-chiral")
    assert (call["n_iterations"], call["n_per_iteration"], call["n_initial"], call["n_jobs"]) == (0, 10, 2, 1)
    assert "lattice_size = 6" in cfg.read_text()  # the export is rewritten from the record


@pytest.mark.slow
def test_a_resumed_run_records_the_same_simulation(run_dir):
    (run_dir / "config.toml").unlink()
    assert main(["resume", str(run_dir), "--override", "n_iterations=1", "--override", "n_per_iteration=2",
                 "--no-progress"]) == 0
    ex = stored_run(run_dir)
    assert ex.n_points == 4
    assert (ex.simulation_description["lattice_size"], ex.simulation_description["mode"]) == (6, "screening")
    assert (ex.settings["lattice_size"], ex.settings["mode"], ex.settings["n_iterations"]) == (6, "screening", 1)


@pytest.mark.parametrize("flags, recorded, given", [
    (["--lattice-size", "24"], "lattice_size = 6", "lattice_size = 24"),
    (["--mode", "fast"], "mode = 'screening'", "mode = 'fast'"),
    (["--seed", "5"], "seed = 0", "seed = 5"),
    (["--axes", "h=0:1", "K=0:0.5"], "axes = {'h': [0.0, 0.5]", "axes = {'h': [0.0, 1.0]"),
])
def test_resume_refuses_a_different_setting_naming_both_values(run_dir, flags, recorded, given, capsys):
    before = snapshot(run_dir)
    assert main(["resume", str(run_dir), *flags]) == 2
    err = one_line_error(capsys)
    assert recorded in err and given in err and "resume may change" in err
    assert snapshot(run_dir) == before


def test_resume_override_only_what_is_safe(run_dir, captured_run, capsys):
    assert main(["resume", str(run_dir), "--override", "mode=fast"]) == 2
    assert "mode cannot change on resume" in one_line_error(capsys)
    assert main(["resume", str(run_dir), "--override", "n_jobs"]) == 2
    assert "must look like KEY=VALUE" in one_line_error(capsys)
    assert main(["resume", str(run_dir), "--override", "n_jobs=0"]) == 2
    assert "--override 'n_jobs=0': n_jobs must be a positive" in one_line_error(capsys)
    assert main(["resume", str(run_dir), "--n-jobs", "2", "--override", "n_jobs=3"]) == 2
    assert "give n_jobs once" in one_line_error(capsys)
    # the same value as recorded is fine, and safe settings change
    assert main(["resume", str(run_dir), "--lattice-size", "6", "--override", "timeout=30",
                 "--override", "checkpoint_interval=5", "--no-progress"]) == 0
    assert "changed: timeout None -> 30.0, checkpoint_interval 10 -> 5" in capsys.readouterr().out
    assert (captured_run[0]["timeout"], captured_run[0]["checkpoint_interval"]) == (30.0, 5)
    assert stored_run(run_dir).settings["timeout"] == 30.0  # the record follows the change


def _api_store(directory: Path) -> None:
    from spinexplore import ActiveLearningExplorer, ParameterSpace
    from spinexplore.execution import SequentialExecutor
    from spinexplore.simulation import SpinSimulation

    space = ParameterSpace({"h": (0.0, 0.5), "K": (0.0, 0.5)})
    with ActiveLearningExplorer(space, seed=1, store=directory / "exploration.h5", verbose=False) as ex:
        ex.run(0, 2, SpinSimulation(lattice_size=6, mode="screening"), n_initial=2, progress=False,
               executor=SequentialExecutor(isolate=False))


def test_a_python_api_store_resumes_from_the_cli_with_its_simulation(tmp_path, request, capsys):
    _api_store(tmp_path)
    captured_run = request.getfixturevalue("captured_run")
    assert main(["resume", str(tmp_path), "--override", "n_iterations=1", "--no-progress"]) == 0
    assert "(L=6, mode=screening) as recorded" in capsys.readouterr().out
    (call,) = captured_run
    assert (call["simulation"].lattice_size, call["simulation"].mode) == (6, "screening")
    assert (call["n_iterations"], call["n_per_iteration"]) == (1, 1)  # no round yet: n_initial // 2


@pytest.mark.slow
def test_a_python_api_store_runs_on_from_the_cli(tmp_path):
    _api_store(tmp_path)
    assert main(["resume", str(tmp_path), "--override", "n_iterations=1", "--no-progress"]) == 0
    ex = stored_run(tmp_path)
    assert ex.n_points == 3 and ex.simulation_description["lattice_size"] == 6


def test_a_python_api_store_of_another_simulation_is_refused(tmp_path, capsys):
    from spinexplore import ActiveLearningExplorer, ParameterSpace, PhaseType
    from spinexplore.execution import SequentialExecutor

    with ActiveLearningExplorer(ParameterSpace({"x": (0.0, 1.0)}), seed=1, store=tmp_path / "exploration.h5",
                                verbose=False) as ex:
        ex.run(0, 1, lambda p: PhaseType.FERROMAGNET, n_initial=2, progress=False,
               executor=SequentialExecutor(isolate=False))
    before = snapshot(tmp_path)
    assert main(["resume", str(tmp_path)]) == 2
    assert "through the Python API" in one_line_error(capsys)
    assert snapshot(tmp_path) == before


def test_run_options_pass_through_and_are_recorded(tmp_path, captured_run, capsys):
    out = tmp_path / "o"
    assert main(["run", *TINY, "--schedule", "batch", "--max-time", "60", "--max-cpu-time", "30",
                 "--converge", "0.01", "--converge-window", "20", "--initial-method", "sobol",
                 "--output-dir", str(out)]) == 0
    (call,) = captured_run
    assert {k: call[k] for k in ("schedule", "max_time", "max_cpu_time", "converge", "converge_window",
                                 "initial_method")} == {
        "schedule": "batch", "max_time": 60.0, "max_cpu_time": 30.0, "converge": 0.01, "converge_window": 20,
        "initial_method": "sobol"}
    settings = stored_run(out).settings
    assert (settings["schedule"], settings["max_time"], settings["lattice_size"]) == ("batch", 60.0, 6)
    assert "output_dir" not in settings  # the store does not pin where it lives
    # on resume the goals may change, the initial design may not
    assert main(["resume", str(out), "--max-time", "120", "--schedule", "async"]) == 0
    assert (captured_run[1]["max_time"], captured_run[1]["schedule"]) == (120.0, "async")
    assert main(["resume", str(out), "--initial-method", "lhs"]) == 2
    assert "initial_method = 'lhs', but this run was made with initial_method = 'sobol'" in capsys.readouterr().err


# ---------------------------------------------------------------- 2. validate before writing
@pytest.mark.parametrize("flags, config", [
    (["--backend", "bogus"], None),
    ([], 'initial_method = "bogus"\n'),
    ([], "backend = 5\n"),
    (["--n-initial", "1000000000"], None),
    (["--lattice-size", "100000"], None),
    (["--axes", "h=0:1e300"], None),
    (["--schedule", "async", "--converge", "2"], None),
])
def test_a_bad_overwrite_leaves_the_run_byte_identical(run_dir, tmp_path, flags, config, capsys):
    before = snapshot(run_dir)
    extra = []
    if config is not None:
        (tmp_path / "c.toml").write_text(config)
        extra = ["--config", str(tmp_path / "c.toml")]
    assert main(["run", "--overwrite", "--output-dir", str(run_dir), *flags, *extra]) == 2
    one_line_error(capsys)
    assert snapshot(run_dir) == before


def test_a_bad_run_leaves_no_stub_that_blocks_the_corrected_one(tmp_path, capsys):
    out = tmp_path / "new"
    assert main(["run", *TINY, "--backend", "bogus", "--output-dir", str(out)]) == 2
    one_line_error(capsys)
    assert not out.exists()


# ---------------------------------------------------------------- 3. lock before config.toml
def test_the_loser_of_two_runs_writes_nothing(run_dir, capsys):
    from spinexplore.store import ExplorationStore

    before = snapshot(run_dir)
    with ExplorationStore.open(run_dir / "exploration.h5", "a"):  # the running winner
        assert main(["run", *TINY, "--mode", "fast", "--overwrite", "--output-dir", str(run_dir)]) == 3
        assert "open for writing" in one_line_error(capsys)
        assert main(["resume", str(run_dir)]) == 3
        assert "open for writing" in one_line_error(capsys)
    after = snapshot(run_dir)
    assert after["config.toml"] == before["config.toml"]
    assert 'mode = "screening"' in after["config.toml"].decode()


# ---------------------------------------------------------------- 6. bounds
@pytest.mark.parametrize("flags, message", [
    (["--n-initial", "1000000000"], "n_initial must be <= 1000000; got 1000000000"),
    (["--n-per-iteration", "1000000000"], "n_per_iteration must be <= 1000000; got 1000000000"),
    (["--n-iterations", "1000", "--n-per-iteration", "5000"], "asks for 5,000,002 points; at most 1,000,000"),
    (["--n-iterations", "5000000"], "n_iterations must be <= 1000000"),
    (["--n-jobs", "1000000"], "n_jobs must be between -4096 and 4096"),
    (["--lattice-size", "100000"], "lattice_size must be <= 1024; got 100000"),
    (["--axes", "h=0:1e300"], "must lie within +-1e+15; got 1e+300"),
    (["--axes", "h=0:5000"], "parameter 'h' must lie within +-1000 (units of J1)"),
    (["--axes", "T=-1:1"], "temperature T must be >= 0"),
    (["--timeout", "1e300"], "timeout must be <= 1000000000.0"),
    (["--seed", str(2**70)], "seed must be <="),
])
def test_sizes_and_ranges_are_bounded_up_front(flags, message, tmp_path, capsys):
    assert main(["run", *TINY, "--output-dir", str(tmp_path / "o"), *flags]) == 2
    assert message in one_line_error(capsys)
    assert not (tmp_path / "o").exists()


def test_points_and_workers_are_checked_against_memory(tmp_path, monkeypatch, capsys):
    import spinexplore._validation as v
    import spinexplore.simulation as sim_mod

    monkeypatch.setattr(v, "available_memory", lambda: 10**8)  # 100 MB free
    monkeypatch.setattr(sim_mod, "available_memory", lambda: 10**8)
    assert main(["run", *TINY, "--n-initial", "100000", "--output-dir", str(tmp_path / "o")]) == 2
    assert "but only 0.1 GB of memory is available" in one_line_error(capsys)
    assert main(["run", *TINY, "--lattice-size", "512", "--output-dir", str(tmp_path / "o")]) == 2
    assert "lattice_size=512 needs about" in one_line_error(capsys)


def test_get_executor_refuses_a_million_workers():
    from spinexplore.errors import InputError
    from spinexplore.execution import get_executor

    with pytest.raises(InputError, match=r"n_jobs must be between -4096 and 4096 \(.*\); got 1000000"):
        get_executor(10**6)


# ---------------------------------------------------------------- 7. one line, not a traceback
def _damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "truncated":
        path.write_bytes(bytes(data[: len(data) // 2]))
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "flipped":
        for i in range(len(data) // 3, len(data) // 3 + 64):
            data[i] ^= 0xFF
        path.write_bytes(bytes(data))
    elif how == "foreign":
        import h5py

        path.unlink()
        with h5py.File(path, "w") as f:
            f["x"] = [1, 2, 3]


@pytest.mark.parametrize("how", ["truncated", "empty", "flipped", "foreign"])
def test_a_damaged_store_gives_one_line_and_stays_untouched(run_dir, how, capsys):
    store = run_dir / "exploration.h5"
    for name in os.listdir(run_dir):  # only the main file: no journal to fall back on
        if name.startswith("exploration.h5.") and (run_dir / name).is_file():
            (run_dir / name).unlink()
    _damage(store, how)
    before = snapshot(run_dir)
    for command in (["status"], ["resume"], ["plot"]):
        assert main([*command, str(run_dir)]) == 3, command
        assert str(store) in one_line_error(capsys)
    assert snapshot(run_dir) == before


@pytest.mark.parametrize("make, message", [
    (lambda d: (d / "afile").write_text("x") and d / "afile" / "sub", "is a file, not a directory"),
    (lambda d: d / ("x" * 300), "names are limited to 255 bytes"),
    (lambda d: Path(""), "output_dir must be a non-empty directory path; got ''"),
])
def test_bad_output_paths_are_refused_up_front(tmp_path, make, message, capsys):
    out = make(tmp_path)
    assert main(["run", *TINY, "--output-dir", str(out) if str(out) != "." else ""]) == 2
    assert message in one_line_error(capsys)


def test_a_read_only_output_directory(tmp_path, monkeypatch, capsys):
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if mode & os.W_OK else real_access(p, mode))
    assert main(["run", *TINY, "--output-dir", str(tmp_path / "o")]) == 2
    assert "is not writable (read-only file system or no permission)" in one_line_error(capsys)
    assert not (tmp_path / "o").exists()


def test_a_store_error_during_the_run_says_how_to_resume(run_dir, monkeypatch, capsys):
    from spinexplore.explorer import ActiveLearningExplorer
    from spinexplore.store import StoreError

    def full(self, *args, **kwargs):
        raise StoreError(f"{self.store.path}: checkpoint 9 could not be written (No space left on device); "
                         "the store still holds checkpoint 8 intact")

    monkeypatch.setattr(ActiveLearningExplorer, "_run_checked", full)
    assert main(["resume", str(run_dir), "--no-progress"]) == 4
    err = one_line_error(capsys)
    assert "No space left on device" in err and f"spinexplore resume {run_dir}" in err
    monkeypatch.undo()
    from spinexplore.store import ExplorationStore

    ExplorationStore.open(run_dir / "exploration.h5", "a").close()  # the lock was released


@pytest.mark.slow
def test_a_full_disk_during_the_run_says_how_to_resume(run_dir, monkeypatch, capsys):
    from spinexplore.store import ExplorationStore, StoreError

    def full(self, records, state):
        raise StoreError(f"{self.path}: checkpoint 9 could not be written (No space left on device); "
                         "the store still holds checkpoint 8 intact")

    monkeypatch.setattr(ExplorationStore, "write", full)
    assert main(["resume", str(run_dir), "--override", "n_iterations=1", "--override", "n_per_iteration=2",
                 "--no-progress"]) == 4
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "No space left on device" in err and f"spinexplore resume {run_dir}" in err
    monkeypatch.undo()
    assert stored_run(run_dir).n_points == 2  # the last good checkpoint, and the lock is free
    assert main(["resume", str(run_dir), "--no-progress"]) == 0


def test_an_os_error_of_the_output_path_is_one_line(tmp_path, monkeypatch, capsys):
    from spinexplore.explorer import ActiveLearningExplorer

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / "o" / "exploration.h5"))

    monkeypatch.setattr(ActiveLearningExplorer, "__init__", refuse)
    assert main(["run", *TINY, "--output-dir", str(tmp_path / "o")]) == 4
    assert "Read-only file system" in one_line_error(capsys)


def test_a_bug_keeps_its_traceback_and_asks_for_a_report(run_dir, monkeypatch, capsys):
    import spinexplore.cli as cli

    def broken(args):
        raise ZeroDivisionError("oops")

    monkeypatch.setitem(cli._COMMANDS, "status", broken)
    assert main(["status", str(run_dir)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError: oops" in err and "This is a bug in spinexplore" in err


def test_status_shows_the_recorded_run_and_its_efficiency(run_dir, capsys):
    assert main(["status", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "run: model=triangular-chiral, lattice_size=6, mode=screening, seed=0, n_jobs=1" in out
    assert "last run: 1 worker(s), batch schedule, wall " in out and "efficiency " in out


def test_a_reader_that_leaves_the_pipe_is_not_a_bug(run_dir):
    """`spinexplore status DIR | head -1`: exit 141 (SIGPIPE) without a traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "spinexplore", "status", str(run_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141 and "Traceback" not in err and "Exception ignored" not in err, err


# ---------------------------------------------------------------- 5 (CLI side). signals
@pytest.mark.parametrize("signum, code, name", [(2, 130, "Ctrl+C"), (15, 143, "SIGTERM")])
def test_an_interrupted_run_releases_the_store_and_exits_128_plus_signal(tmp_path, signum, code, name, capsys):
    from spinexplore.cli._run import drive as _drive
    from spinexplore.errors import Interrupted
    from spinexplore.settings import RunSettings

    class Explorer:
        closed = False

        def _run_checked(self, *args, **kwargs):
            raise Interrupted(signum)

        def close(self):
            Explorer.closed = True

    settings = RunSettings.checked(n_iterations=1, n_per_iteration=1, n_initial=1, checkpoint_interval=1,
                                   progress=False)
    assert _drive(Explorer(), None, settings, tmp_path) == code
    err = capsys.readouterr().err
    assert Explorer.closed and f"Interrupted by {name}" in err and f"Resume with: spinexplore resume {tmp_path}" in err


# ---------------------------------------------------------------- 8. MPI outside mpiexec
def test_mpi_backend_outside_mpiexec_says_how_to_start(tmp_path, monkeypatch, capsys):
    pytest.importorskip("mpi4py")
    from spinexplore.execution._mpi import LAUNCHER_VARS

    for name in LAUNCHER_VARS:
        monkeypatch.delenv(name, raising=False)
    assert main(["run", *TINY, "--backend", "mpi", "--output-dir", str(tmp_path / "o")]) == 2
    err = one_line_error(capsys)
    assert "mpiexec -n <1 + workers> python -m mpi4py.futures -m spinexplore run --backend mpi --n-jobs -1" in err
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------- 11. the small ones
@pytest.mark.parametrize("flags, message", [
    (["--axes", "h=0:0.5", "h=0:0.2"], "axis 'h' is given twice"),
    (["--output-dir", ""], "must be a non-empty"),
    (["--output-dir", "   "], "must be a non-empty"),
])
def test_small_flag_mistakes(flags, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run", *TINY, *flags]) == 2
    assert message in one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content, message", [
    ('axes = "h=0:1"\n', "key 'axes': axes must be a table such as [axes] h = \"0:0.5\""),
    (b"mode = \"caf\xe9\"\n", "is not UTF-8 text (byte 0xe9"),
    ("n_jobs = 2\nn_jobs = 3\n", "is not valid TOML"),
    ("n-jobs = 2\nn_jobs = 3\n", "key 'n_jobs' is given twice"),
    ("n_initial = 5.0\n", "key 'n_initial': n_initial must be an integer; got 5.0 (float)"),
    (None, "is a directory; give the TOML file itself"),
])
def test_config_file_mistakes_name_the_file_and_the_key(tmp_path, content, message, capsys):
    cfg = tmp_path / "c.toml"
    if content is None:
        cfg.mkdir()
    elif isinstance(content, bytes):
        cfg.write_bytes(content)
    else:
        cfg.write_text(content)
    assert main(["run", "--config", str(cfg), "--output-dir", str(tmp_path / "o")]) == 2
    err = one_line_error(capsys)
    assert message in err and str(cfg) in err
    assert not (tmp_path / "o").exists()
