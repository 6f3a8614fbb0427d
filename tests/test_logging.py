"""Messages go through logging: the logger ``spinexplore`` can silence, capture or redirect them,
and only the command line installs a handler."""

from __future__ import annotations

import logging
import re

import pytest

from spinexplore import ActiveLearningExplorer, ParameterSpace, PhaseType
from spinexplore._log import LOGGER_NAME, cli_logging
from spinexplore.cli import main

SPACE = ParameterSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)})


def stripes(p):
    return PhaseType.SKYRMION if p["x"] > 0.5 else PhaseType.FERROMAGNET


def crashing(p):
    if p["x"] > 0.8:
        raise RuntimeError("boom")
    return stripes(p)


@pytest.fixture
def quiet_logger():
    logger = logging.getLogger(LOGGER_NAME)
    old = logger.level
    logger.setLevel(logging.CRITICAL)
    yield logger
    logger.setLevel(old)


@pytest.mark.parametrize("progress", [False, True])
def test_logger_at_critical_prints_nothing(tmp_path, capfd, quiet_logger, progress):
    ex = ActiveLearningExplorer(SPACE, seed=0, store=tmp_path / "q.h5", verbose=True)
    ex.run(n_iterations=2, n_per_iteration=4, simulation=crashing, n_initial=8, n_jobs=1,
           checkpoint_interval=2, progress=progress)
    ex.close()
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    assert ex.n_points == 16


def test_without_configuration_info_messages_are_not_printed(tmp_path, capfd):
    """A library without a configured handler prints nothing at INFO (Python's last resort
    handler shows warnings only); the user opts in with logging.basicConfig."""
    assert logging.getLogger(LOGGER_NAME).level == logging.NOTSET
    ex = ActiveLearningExplorer(SPACE, seed=0, store=tmp_path / "q.h5")
    ex.run(n_iterations=1, n_per_iteration=4, simulation=stripes, n_initial=6, checkpoint_interval=2,
           progress=False)
    ex.close()
    assert capfd.readouterr() == ("", "")


def test_messages_reach_a_users_handler(tmp_path, caplog):
    ex = ActiveLearningExplorer(SPACE, seed=0, store=tmp_path / "q.h5")
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        ex.run(n_iterations=1, n_per_iteration=4, simulation=crashing, n_initial=6, checkpoint_interval=2,
               progress=False)
    ex.close()
    names = {r.name for r in caplog.records}
    assert names <= {"spinexplore.runner", "spinexplore.progress", "spinexplore.explorer"}
    text = caplog.text
    assert "Classifying 10 points using 1 worker(s)" in text
    # every 2 results, or earlier when CHECKPOINT_SECONDS passed first (a slow start on a loaded machine)
    assert "Point 0: " in text and re.search(r"Checkpoint saved \([12]/6 completed\)", text)
    assert "Iteration 1:" in text
    assert "FAILED (RuntimeError: boom)" in text  # seed 0 puts points at x > 0.8


def test_each_point_line_of_a_run_is_simulation_format_point(caplog):
    """Issue 25: the runner wrote its own copy of format_point's line (a failure: the first line
    of the error), so format_point of a multi-line error disagreed with the console."""
    from spinexplore.simulation import format_point

    ex = ActiveLearningExplorer(SPACE, seed=0)
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        ex.run(n_iterations=1, n_per_iteration=4, simulation=crashing, n_initial=6, progress=False)
    lines = sorted(r.getMessage() for r in caplog.records if r.name == "spinexplore.progress")
    finished = [r for r in ex.records if r.result is not None]
    assert any("\n" in (r.result.error or "") for r in finished)  # a traceback: more than one line
    assert lines == sorted(format_point(r.index, r.result) for r in finished)


def test_an_explorer_without_a_store_logs_no_checkpoint(caplog):
    ex = ActiveLearningExplorer(SPACE, seed=0)
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        ex.run(n_iterations=1, n_per_iteration=2, simulation=stripes, n_initial=4, checkpoint_interval=1,
               progress=False)
    assert "Point 0: " in caplog.text
    assert "Checkpoint saved" not in caplog.text


def test_verbose_false_logs_no_info(tmp_path, caplog):
    ex = ActiveLearningExplorer(SPACE, seed=0, store=tmp_path / "q.h5", verbose=False)
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        ex.run(n_iterations=1, n_per_iteration=2, simulation=stripes, n_initial=4, checkpoint_interval=1,
               progress=False)
    ex.close()
    assert caplog.records == []


def test_cli_handler_is_installed_only_during_a_command(tmp_path, capsys):
    logger = logging.getLogger(LOGGER_NAME)
    before = list(logger.handlers)
    for run in range(2):  # twice in one interpreter: each line once, not twice
        out_dir = tmp_path / f"run{run}"
        code = main(["run", "--output-dir", str(out_dir), "--n-initial", "4", "--n-iterations", "0",
                     "--lattice-size", "6", "--mode", "screening", "--no-progress", "--n-jobs", "1"])
        assert code == 0
        out = capsys.readouterr().out
        assert out.count("Point 0: ") == 1
        assert logger.handlers == before
        assert logger.level == logging.NOTSET


def test_cli_handler_keeps_a_users_level_and_sends_warnings_to_stderr(capsys):
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.WARNING)
    try:
        with cli_logging():
            logging.getLogger("spinexplore.runner").info("hidden")
            logging.getLogger("spinexplore.runner").warning("shown")
        out, err = capsys.readouterr()
        assert out == "" and err == "shown\n"
        assert logger.level == logging.WARNING
    finally:
        logger.setLevel(logging.NOTSET)
