"""Issue 24 on the command line: settings records, path errors, bad show/plot input, signals
outside a run, file-system messages. Runs are replaced by a recorder where the simulations do
not matter (``captured_run``), so each test stays fast."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from spinexplore import ActiveLearningExplorer, ParameterSpace, PhaseType
from spinexplore.cli import main
from spinexplore.execution import SequentialExecutor

from helpers.cli import snapshot

TINY = ["--n-initial", "2", "--n-iterations", "0", "--lattice-size", "6", "--mode", "screening",
        "--axes", "h=0:0.5", "K=0:0.5", "--no-progress"]


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and "Traceback" not in err, err
    return err


@pytest.fixture
def captured_run(monkeypatch):
    """The explorer's run (the command line's way in, ``_run_checked``: the settings checked once at
    its edge) replaced by a recorder: the command around it, without simulations."""
    from dataclasses import fields

    from spinexplore.settings import RunSettings

    calls = []

    def record(self, simulation, settings):
        assert type(settings) is RunSettings
        calls.append({f.name: getattr(settings, f.name) for f in fields(settings)})
        return self

    monkeypatch.setattr(ActiveLearningExplorer, "_run_checked", record)
    return calls


@pytest.fixture
def new_run(tmp_path, captured_run):
    """A directory holding a run created by `spinexplore run` (no simulation made)."""
    out = tmp_path / "run"
    assert main(["run", *TINY, "--output-dir", str(out)]) == 0
    return out


def _labels(p):
    if p["h"] > 0.4:
        return None  # TIMEOUT, the old tool's convention
    return PhaseType.FERROMAGNET if p["h"] > p["K"] else PhaseType.SINGLE_Q


def _custom_store(directory: Path, simulation=_labels, n: int = 6) -> ActiveLearningExplorer:
    space = ParameterSpace({"h": (0.0, 0.5), "K": (0.0, 0.5)})
    with ActiveLearningExplorer(space, seed=1, store=directory / "exploration.h5", verbose=False) as ex:
        ex.run(0, 2, simulation, n_initial=n, progress=False, executor=SequentialExecutor(isolate=False))
    return ex


# ---------------------------------------------------------------- item 4
def test_a_python_api_store_keeps_every_setting_over_two_resumes(tmp_path, captured_run, capsys):
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    from spinexplore.simulation import SpinSimulation

    space = ParameterSpace({"h": (0.0, 0.5), "K": (0.0, 0.5)})
    explorer = ActiveLearningExplorer(space, seed=3, strategy="entropy", store=tmp_path / "exploration.h5",
                                      verbose=False)
    explorer.add_initial_samples(6)
    explorer._simulation_description = SpinSimulation(lattice_size=6, mode="screening").describe()
    explorer.close()
    for _ in range(2):
        assert main(["resume", str(tmp_path), "--n-jobs", "1"]) == 0
    config = tomllib.loads((tmp_path / "config.toml").read_text())
    assert (config["seed"], config["strategy"], config["n_initial"]) == (3, "entropy", 6)
    capsys.readouterr()
    assert main(["status", str(tmp_path)]) == 0
    assert "seed=3" in capsys.readouterr().out
    assert main(["resume", str(tmp_path), "--seed", "3", "--strategy", "entropy"]) == 0  # recorded, so checked
    assert main(["resume", str(tmp_path), "--seed", "4"]) == 2
    assert "this run was made with seed = 3" in one_line_error(capsys)


# ---------------------------------------------------------------- item 10
def test_resume_of_a_read_only_store_is_a_file_system_error(new_run, monkeypatch, capsys):
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if mode & os.W_OK else real_access(p, mode))
    before = snapshot(new_run)
    assert main(["resume", str(new_run)]) == 4
    assert "is read-only" in one_line_error(capsys)
    assert snapshot(new_run) == before


def test_run_into_a_dangling_symlink_or_a_directory_is_bad_input(tmp_path, new_run, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "exploration.h5").symlink_to(tmp_path / "missing" / "x.h5")
    assert main(["run", *TINY, "--output-dir", str(out)]) == 2
    assert "is a symbolic link to" in one_line_error(capsys)
    shutil.rmtree(new_run / "exploration.h5.spins", ignore_errors=True)
    for name in os.listdir(new_run):
        (new_run / name).unlink()
    (new_run / "exploration.h5").mkdir()
    assert main(["run", *TINY, "--output-dir", str(new_run), "--overwrite"]) == 2
    assert "is a directory, not an exploration store" in one_line_error(capsys)


# ---------------------------------------------------------------- item 11
def test_show_and_plot_refuse_bad_input_with_exit_2(tmp_path, capsys):
    ex = _custom_store(tmp_path)
    status = [int(s) for s in ex.status]
    timeout, done = status.index(3), status.index(1)
    with ActiveLearningExplorer.load(tmp_path, verbose=False) as again:  # one PENDING point
        again.add_points([[0.1, 0.2]])
    before = snapshot(tmp_path)
    for argv, message in (
        (["show", str(tmp_path), str(timeout)], f"point {timeout} has status TIMEOUT; only a finished point"),
        (["show", str(tmp_path), str(len(status))], f"point {len(status)} has status PENDING"),
        (["show", str(tmp_path), str(done)], "reruns only the built-in SpinSimulation"),
        (["plot", str(tmp_path), "--x", "K", "--y", "K"], "--x and --y must be two different parameters"),
        (["plot", str(tmp_path), "--at", "h=0.2"], "--x/--y/--at:"),
    ):
        assert main(argv) == 2, argv
        assert message in one_line_error(capsys), argv
    assert snapshot(tmp_path) == before


def test_plot_of_an_all_timeout_run_does_not_advise_resume(tmp_path, capsys):
    _custom_store(tmp_path, simulation=lambda p: None, n=3)
    assert main(["plot", str(tmp_path)]) == 2
    err = one_line_error(capsys)
    assert "TIMEOUT=3" in err and "resume does not rerun finished points" in err and "longer --timeout" in err
    assert "spinexplore resume" not in err


# ---------------------------------------------------------------- item 12
@pytest.mark.parametrize("how, code, name", [("raise", 130, "Ctrl+C"), ("sigterm", 143, "SIGTERM")])
def test_a_signal_during_the_final_plot_says_the_run_is_complete(tmp_path, captured_run, monkeypatch, capsys,
                                                                 how, code, name):
    import spinexplore.plotting

    def interrupted(*args, **kwargs):
        if how == "raise":
            raise KeyboardInterrupt
        os.kill(os.getpid(), signal.SIGTERM)  # its handler raises on return
        raise AssertionError("SIGTERM was not handled")

    monkeypatch.setattr(spinexplore.plotting, "save_phase_diagram", interrupted)
    out = tmp_path / "o"
    assert main(["run", *TINY, "--output-dir", str(out)]) == code
    err = capsys.readouterr().err
    assert f"Interrupted by {name} after the run was complete: every result is saved in {out / 'exploration.h5'}" \
        in err and f"spinexplore plot {out}" in err and "Traceback" not in err
    assert not (out / "exploration.h5.lock").exists()


def test_sigterm_just_after_the_store_appears_says_so_and_releases_it(tmp_path, monkeypatch, capsys):
    import spinexplore.cli._run as cli_run

    def terminated(path, settings):
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("SIGTERM was not handled")

    monkeypatch.setattr(cli_run, "write_toml", terminated)
    out = tmp_path / "o"
    assert main(["run", *TINY, "--output-dir", str(out)]) == 143
    err = capsys.readouterr().err
    assert "Interrupted by SIGTERM before the run started" in err and f"spinexplore resume {out}" in err
    assert not (out / "exploration.h5.lock").exists() and (out / "exploration.h5").exists()


def test_ctrl_c_while_the_command_starts_is_one_line(tmp_path):
    code = textwrap.dedent(f"""
        import builtins, sys
        real = builtins.__import__
        def interrupt(name, *args, **kwargs):  # Ctrl+C while numpy loads
            if name == "numpy":
                raise KeyboardInterrupt
            return real(name, *args, **kwargs)
        builtins.__import__ = interrupt
        from spinexplore.cli import main
        sys.exit(main(["status", {str(tmp_path)!r}]))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 130 and done.stderr.strip() == "Interrupted by Ctrl+C.", done.stderr


# ---------------------------------------------------------------- item 13
def test_a_full_disk_at_start_names_the_file_and_leaves_no_lock(tmp_path, monkeypatch, capsys):
    def full(fd, data, offset):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwrite", full)
    out = tmp_path / "o"
    assert main(["run", *TINY, "--output-dir", str(out)]) == 4
    err = one_line_error(capsys)
    assert f"No space left on device: '{out / 'exploration.h5.lock'}'" in err
    assert not (out / "exploration.h5.lock").exists() and not (out / "exploration.h5").exists()


def test_a_failed_final_compaction_is_one_warning_line(tmp_path, captured_run, monkeypatch, capsys):
    import spinexplore.store._sync as sync

    real = sync.write_main
    calls = []

    def full_after_creation(path, **fields):
        calls.append(path)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, **fields)

    monkeypatch.setattr(sync, "write_main", full_after_creation)
    out = tmp_path / "o"
    assert main(["run", *TINY, "--output-dir", str(out)]) == 0
    err = capsys.readouterr().err
    warning = [line for line in err.splitlines() if "warning" in line]
    assert warning == [warning[0]] and warning[0].startswith("spinexplore run: warning: ")
    assert "every checkpoint is safe in the journal" in err and "RuntimeWarning" not in err and "warn(" not in err


@pytest.mark.parametrize("name", ["config.toml", "phase_diagram.png"])
def test_overwrite_checks_every_target_before_replacing_the_old_run(new_run, captured_run, capsys, name):
    (new_run / name).unlink(missing_ok=True)
    (new_run / name).mkdir()
    before = snapshot(new_run)
    assert main(["run", *TINY, "--output-dir", str(new_run), "--overwrite", "--seed", "5"]) == 2
    assert f"{name}' is a directory, but a run writes" in one_line_error(capsys)
    assert snapshot(new_run) == before


def test_a_diagram_that_cannot_be_written_says_the_results_are_saved(tmp_path, captured_run, monkeypatch, capsys):
    import spinexplore.plotting

    def refuse(explorer, path, **kwargs):
        raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))

    monkeypatch.setattr(spinexplore.plotting, "save_phase_diagram", refuse)
    out = tmp_path / "o"
    assert main(["run", *TINY, "--output-dir", str(out)]) == 4
    err = capsys.readouterr().err
    assert f"Is a directory: '{out / 'phase_diagram.png'}'" in err
    assert f"The run is complete and every result is saved in {out / 'exploration.h5'}" in err


# ---------------------------------------------------------------- item 14 (explorer)
@pytest.mark.parametrize("read_only", [False, True])
def test_a_closed_or_read_only_explorer_refuses_to_run_before_any_simulation(tmp_path, read_only):
    from spinexplore.store import StoreError

    _custom_store(tmp_path, n=2)
    calls = []

    def counted(p):
        calls.append(p)
        return PhaseType.FERROMAGNET

    ex = ActiveLearningExplorer.load(tmp_path, read_only=read_only, verbose=False)
    ex.add_points([[0.1, 0.1]])
    if not read_only:
        ex.close()
    match = "is open read-only" if read_only else "this explorer's store is closed"
    with pytest.raises(StoreError, match=match):
        ex.run(1, 2, counted, progress=False, executor=SequentialExecutor(isolate=False))
    with pytest.raises(StoreError, match=match):
        ex.classify_pending_points(counted, progress=False)
    assert calls == []
    ex.store.close()
