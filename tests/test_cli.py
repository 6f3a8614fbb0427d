"""The command line: help, bad input (one line, exit 2), run / status / plot / resume."""

from __future__ import annotations

import subprocess
import sys

import h5py
import numpy as np
import pytest

from spinexplore.cli import build_parser, main


@pytest.mark.parametrize("command", ["run", "resume", "status", "plot", "bench"])
def test_help_shows_defaults(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "usage: spinexplore " + command in out
    if command == "run":
        for flag in ("--n-initial", "--n-iterations", "--n-per-iteration", "--lattice-size",
                     "--strategy", "--n-jobs", "--output-dir", "--mode", "--seed", "--model",
                     "--axes", "--backend", "--timeout", "--checkpoint-interval", "--config"):
            assert flag in out
        assert "[default: 24]" in out and "units of J1" in out


def test_parser_keeps_the_old_flags():
    args = build_parser().parse_args(
        ["run", "--n-initial", "500", "--n-iterations", "30", "--n-per-iteration", "50",
         "--lattice-size", "24", "--strategy", "balanced", "--n-jobs", "16", "--output-dir", "x"]
    )
    assert (args.n_initial, args.n_iterations, args.n_per_iteration) == (500, 30, 50)
    assert (args.lattice_size, args.strategy, args.n_jobs, args.output_dir) == (24, "balanced", 16, "x")


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--n-jobs", "0"], "n_jobs must be a positive number of workers or negative (-1 = all cores); got 0"),
        (["--lattice-size", "-4"], ("lattice_size must be", "got -4")),
        (["--lattice-size", "13"], ("lattice_size must be", "even", "got 13")),
        (["--checkpoint-interval", "0"], "checkpoint_interval must be >= 1; got 0"),
        (["--n-initial", "0"], "n_initial must be >= 1; got 0"),
        (["--strategy", "greedy"], "greedy"),
        (["--mode", "turbo"], "turbo"),
        (["--model", "kagome"], "kagome"),
        (["--axes", "h=1:0"], "dimension 'h' must satisfy low < high; got (1.0, 0.0)"),
        (["--axes", "h=0:inf"], "bound high of dimension 'h' must be finite; got inf"),
        (["--axes", "h0.5"], "--axes: 'h0.5' must look like NAME=LOW:HIGH"),
        (["--axes", "Bz=0:1"], "Bz"),
        (["--timeout", "-3"], "timeout must be > 0.0; got -3.0"),
    ],
)
def test_bad_input_one_line_exit_2(flags, message, tmp_path, capsys):
    code = main(["run", "--output-dir", str(tmp_path / "out"), *flags])
    err = capsys.readouterr().err
    assert code == 2
    for part in (message,) if isinstance(message, str) else message:
        assert part in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing was started


def test_output_dir_that_is_a_file(tmp_path, capsys):
    f = tmp_path / "file.txt"
    f.write_text("x")
    assert main(["run", "--output-dir", str(f)]) == 2
    assert "exists and is a file" in capsys.readouterr().err


def test_config_errors(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("n_initial = 5\nwarp_speed = 9\n")
    assert main(["run", "--config", str(cfg), "--output-dir", str(tmp_path / "o")]) == 2
    assert "unknown keys ['warp_speed']" in capsys.readouterr().err
    assert main(["run", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["status", str(tmp_path)]) == 2
    assert "no exploration.h5" in capsys.readouterr().err


def _count_done(path):
    with h5py.File(path, "r") as f:
        status = next(f[k][...] for k in ("points/status", "status") if k in f)
    return int(np.sum(status == 1))


def test_run_status_plot_resume_and_config(tmp_path, capsys):
    out = tmp_path / "demo"
    code = main([
        "run", "--n-initial", "8", "--n-iterations", "1", "--n-per-iteration", "4",
        "--lattice-size", "12", "--mode", "screening", "--output-dir", str(out), "--no-progress",
        "--axes", "h=0:0.5", "K=-0.2:0.9", "--seed", "3", "--checkpoint-interval", "4",
    ])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "Point " in text and "Checkpoint saved" in text
    assert (out / "exploration.h5").is_file() and (out / "phase_diagram.png").is_file()
    cfg = (out / "config.toml").read_text()
    assert "n_initial = 8" in cfg and "seed = 3" in cfg and "[axes]" in cfg

    assert main(["status", str(out)]) == 0
    status = capsys.readouterr().out
    assert "12 points" in status and "DONE=12" in status and "by phase:" in status

    assert main(["plot", str(out), "--out", str(tmp_path / "figs")]) == 0
    pngs = sorted(p.name for p in (tmp_path / "figs").glob("*.png"))
    assert "phase_diagram.png" in pngs and len(pngs) >= 2

    # a second run into the same directory refuses to overwrite, and says how to resume
    assert main(["run", "--output-dir", str(out)]) == 2
    assert "spinexplore resume" in capsys.readouterr().err
    # resume with a higher total of rounds finishes the new ones only
    assert main(["resume", str(out), "--n-iterations", "2", "--no-progress"]) == 0
    assert "Resuming" in capsys.readouterr().out

    # config.toml exports the run's settings as resumed (2 rounds): rerunning it reproduces them
    assert "n_iterations = 2" in (out / "config.toml").read_text()
    again = tmp_path / "again"
    assert main(["run", "--config", str(out / "config.toml"), "--output-dir", str(again), "--no-progress"]) == 0
    assert _count_done(again / "exploration.h5") == 16


def test_python_dash_m_entry_point():
    res = subprocess.run([sys.executable, "-m", "spinexplore", "--version"], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.startswith("spinexplore ")
    res = subprocess.run([sys.executable, "-m", "spinexplore", "run", "--n-jobs", "0"], capture_output=True, text=True)
    assert res.returncode == 2 and "Traceback" not in res.stderr


def test_version_and_bad_input_answer_without_importing_scikit_learn():
    """`spinexplore --version` took 2.3 s and a bad flag 2 s: spinexplore.errors imported
    scikit-learn (1.2 s) for NotFittedError's base class, and `run` imported the explorer before
    its checks. Both are answered now before the learning stack is imported."""
    code = ("import sys\nfrom spinexplore.cli import main\n"
            "for argv in (['--version'], ['run', '--n-jobs', '0']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "print('IMPORTED', sorted(m for m in ('sklearn', 'spinexplore.explorer', 'spinexplore.learner') "
            "if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "IMPORTED []" in res.stdout, res.stdout + res.stderr
    assert "n_jobs" in res.stderr


def test_not_fitted_error_is_scikit_learns_and_a_runtime_error():
    import pickle

    from sklearn.exceptions import NotFittedError as SklearnNotFittedError

    from spinexplore.errors import NotFittedError

    assert issubclass(NotFittedError, SklearnNotFittedError) and issubclass(NotFittedError, RuntimeError)
    assert type(pickle.loads(pickle.dumps(NotFittedError("no phase yet")))) is NotFittedError


@pytest.mark.slow
def test_issue_acceptance_run(tmp_path):
    """The foundation issue's check: 40 finished points at L = 12 and a phase diagram."""
    d = tmp_path / "d"
    res = subprocess.run(
        ["spinexplore", "run", "--n-initial", "20", "--n-iterations", "2", "--n-per-iteration", "10",
         "--lattice-size", "12", "--output-dir", str(d)],
        capture_output=True, text=True, timeout=600,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert _count_done(d / "exploration.h5") == 40
    assert (d / "phase_diagram.png").stat().st_size > 10_000


def test_a_simulation_that_always_fails_stops_the_run_with_exit_2(tmp_path, monkeypatch, capsys):
    """Issue 23 (3): every point FAILED, nothing was printed and the command exited 0. The runner's
    stop is tested in tests/test_runner.py; here, what the command makes of it."""
    from spinexplore.errors import SimulationFailingError
    from spinexplore.explorer import ActiveLearningExplorer

    def failing(self, *args, **kwargs):
        raise SimulationFailingError("stopped: the first 5 simulations all failed with the same error: "
                                     "invalid return value: ... without a 'phase' key")

    monkeypatch.setattr(ActiveLearningExplorer, "_run_checked", failing)  # the command line's way in
    code = main(["run", "--n-initial", "8", "--n-iterations", "1", "--lattice-size", "6", "--mode", "screening",
                 "--n-jobs", "1", "--no-progress", "--output-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("spinexplore run: error: stopped: the first 5 simulations all failed") and "Traceback" not in err


def test_status_points_lists_and_filters_the_points_for_show(tmp_path, capsys):
    """Issue 23 (7): `show DIR I` pointed to `status`, which listed no points."""
    from spinexplore import ActiveLearningExplorer, ParameterSpace, PhaseType

    out = tmp_path / "run"
    out.mkdir()
    ex = ActiveLearningExplorer(ParameterSpace({"h": (0.0, 1.0), "K": (0.0, 1.0)}), seed=0,
                                store=out / "exploration.h5", verbose=False)
    ex.tell({"h": 0.1, "K": 0.2}, PhaseType.FERROMAGNET)
    ex.tell({"h": 0.3, "K": 0.4}, {"phase": "SKYRMION", "confidence": 0.75})
    ex.tell({"h": 0.5, "K": 0.6}, {"phase": "FAILED", "error": "boom"})
    ex.close()
    assert main(["status", str(out), "--points"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["index", "status", "phase", "confidence"] and len(lines) == 4
    assert main(["status", str(out), "--phase", "skyrmion"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[1].split() == ["1", "DONE", "SKYRMION", "0.75", "0.3", "0.4"]
    assert main(["status", str(out), "--points", "--status", "FAILED"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[:3] == ["2", "FAILED", "1.00"]  # no phase: FAILED is a status
    assert main(["status", str(out), "--phase", "SKX"]) == 2
    assert "--phase: 'SKX' is not a phase of this run" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["show", "--help"])
    assert "spinexplore status DIR --points" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("style, width_in", [("single", 3.4), ("double", 7.0)])
def test_show_writes_a_journal_texture_figure(tmp_path, capsys, style, width_in):
    """Issue 23 (figures): `show` had no --style."""
    import matplotlib.image as mpimg

    from spinexplore import ActiveLearningExplorer, ParameterSpace, SpinSimulation

    out = tmp_path / "run"
    out.mkdir()
    ex = ActiveLearningExplorer(ParameterSpace({"h": (0.0, 0.5), "K": (0.0, 0.5)}), seed=0,
                                store=out / "exploration.h5", verbose=False)
    ex.add_initial_samples(1, method="random")
    ex.classify_pending_points(SpinSimulation(lattice_size=6, mode="screening"), progress=False)
    ex.close()
    path = tmp_path / f"tex_{style}.png"
    assert main(["show", str(out), "0", "--style", style, "--font", "serif", "--dpi", "50", "--out", str(path)]) == 0
    assert "Texture(point 0" in capsys.readouterr().out
    assert mpimg.imread(path).shape[1] == int(round(width_in * 50))


def test_a_run_whose_every_simulation_timed_out_exits_2(tmp_path, capsys):
    """Issue 24 (1): a run with nothing but TIMEOUT exited 0 (a batch job read it as a diagram
    made); it now exits 2 naming the cause and the resume command, every point saved."""
    solver = tmp_path / "slow_solver.py"
    solver.write_text("import json, sys, time\ntime.sleep(3)\n"
                      "print(json.dumps({'phase': 'FERROMAGNET'}))\n", encoding="utf-8")
    out = tmp_path / "out"
    cfg = tmp_path / "slow.toml"
    cfg.write_text(f'solver = ["{sys.executable}", "{solver}", "{{params_file}}"]\n'
                   f'n_initial = 2\nn_iterations = 0\nn_per_iteration = 1\nn_jobs = 2\ntimeout = 0.5\n'
                   f'output_dir = "{out}"\n[axes]\nx = "0:1"\ny = "0:1"\n', encoding="utf-8")
    assert main(["run", "--config", str(cfg), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "No simulation of this run succeeded (2 TIMEOUT, 0 FAILED" in err
    assert f"spinexplore resume {out} --timeout" in err
    with h5py.File(out / "exploration.h5", "r") as f:
        assert f["points/status"].shape[0] == 2  # every point saved
