"""The table of run settings (issue 25): every flag, config key, ``explorer.run`` check and
resume rule reads :mod:`spinexplore.settings`, and each constraint refuses a bad value with a
message that names the setting, the value and what is allowed."""

from __future__ import annotations

import inspect
import math
from dataclasses import FrozenInstanceError, fields

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinexplore.cli import build_parser, main
from spinexplore.errors import InputError
from spinexplore.explorer import ActiveLearningExplorer
from spinexplore.settings import (
    DEFAULTS,
    SAFE_ON_RESUME,
    SETTINGS,
    TABLE,
    Interval,
    Options,
    Rule,
    RunSettings,
    check,
)
from spinexplore.space import ParameterSpace

from helpers.cli import one_line_error

SPACE = ParameterSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)})
FLAG_ROWS = [s for s in SETTINGS if s.flag]
API_ROWS = [s for s in SETTINGS if s.api]
#: Options of run and resume that are not run settings (what to do, not how to run).
COMMAND_OPTIONS = {"-h", "--help", "--config", "--no-progress", "--output-dir", "--overwrite", "--override"}


def _options(command: str) -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return {o for a in sub._actions for o in a.option_strings}


def sim(p):
    return "A" if p["x"] > 0.5 else "B"


# ---------------------------------------------------------------- the table is the one declaration
@pytest.mark.parametrize("command", ["run", "resume"])
def test_every_flag_of_run_and_resume_is_a_row_of_the_table(command):
    flags = _options(command) - COMMAND_OPTIONS
    assert flags == {s.option for s in FLAG_ROWS}


def test_flags_convert_to_the_rows_type_and_default_to_none_until_checked():
    args = build_parser().parse_args(["run", "--n-jobs", "-1", "--timeout", "2.5", "--axes", "h=0:1", "K=0:2"])
    assert (args.n_jobs, args.timeout, args.axes) == (-1, 2.5, ["h=0:1", "K=0:2"])
    args = build_parser().parse_args(["run"])
    assert all(getattr(args, s.name) is None for s in FLAG_ROWS)  # so a config key is not overridden


def test_defaults_agree_between_the_cli_the_config_and_explorer_run(tmp_path):
    from spinexplore.cli._settings import load_toml, write_toml

    run = inspect.signature(ActiveLearningExplorer.run).parameters
    classify = inspect.signature(ActiveLearningExplorer.classify_pending_points).parameters
    run_fields = {f.name: f.default for f in fields(RunSettings)}
    for s in API_ROWS:
        assert run[s.name].default == s.api_default, s.name
        assert run_fields[s.name] == s.api_default, s.name
        if s.name in classify:
            assert classify[s.name].default == s.api_default, s.name
        if s.api_default is not None:  # a value, not "the run's choice": the same as the command line's
            assert s.api_default == s.default, s.name
    # the config file takes every key of the table, and the exported defaults read back as they are
    write_toml(tmp_path / "c.toml", DEFAULTS)
    assert load_toml(tmp_path / "c.toml") == {k: v for k, v in DEFAULTS.items() if v is not None}
    assert {k: check(k, v) for k, v in DEFAULTS.items()} == DEFAULTS  # every default passes its own check


def test_help_states_each_rows_default_and_the_registries_names(capsys):
    from spinexplore.strategies import STRATEGIES, register_strategy

    register_strategy("my_right_first", lambda candidates, proba, *, n, rng: candidates[:, 0])
    try:
        with pytest.raises(SystemExit):
            main(["run", "--help"])
        out = " ".join(capsys.readouterr().out.split())
    finally:
        del STRATEGIES["my_right_first"]
    for s in FLAG_ROWS:
        assert f"[default: {s.default_text()}]" in out, s.name
    assert "my_right_first" in out  # choices are read from the registry when --help is printed


def test_what_resume_may_change_comes_from_the_table():
    from spinexplore.cli._resume import parse_override
    from spinexplore.cli._settings import CLIError

    assert SAFE_ON_RESUME == tuple(s.name for s in SETTINGS if s.resume)
    assert {"n_jobs", "backend", "timeout", "n_iterations"} <= set(SAFE_ON_RESUME)
    assert not {"model", "lattice_size", "mode", "axes", "seed", "strategy"} & set(SAFE_ON_RESUME)
    for s in SETTINGS:
        if s.resume:
            assert parse_override(f"{s.name}=none")[0] == s.name
        else:
            with pytest.raises(CLIError, match=f"{s.name} cannot change on resume"):
                parse_override(f"{s.name}=1")


# ---------------------------------------------------------------- each constraint refuses clearly
def _bad_values(s):
    """Values that the row's constraint must refuse."""
    c = s.constraint
    if isinstance(c, Interval):
        left, right = c.bounds()
        out = ["1", True, [1]]
        if left is not None:
            out.append(left - 1 if c.type is int else left - 0.5)
            if c.closed in ("right", "neither"):
                out.append(float(left))
        if right is not None:
            out.append(right + 1 if c.type is int else right * 2 + 1)
        if c.type is int:
            out.append(1.5)
        else:
            out += [math.nan, math.inf]
        return out
    if isinstance(c, Options):
        return ["no-such-" + s.name, 3]
    return {"n_jobs": [0, 4097, -4097, "2", 2.0], "mode": ["exact", "screening,turbo", 5],
            "axes": ["h=0:1", ["h0.5"], ["h=0:x"], ["h=0:1", "h=1:2"]], "output_dir": ["", "  ", 3],
            "solver": ["", [], [1], 3], "phases": [["a"], 3], "unknown_as_phase": ["yes", 1]}[s.name]


@pytest.mark.parametrize("s", SETTINGS, ids=lambda s: s.name)
def test_each_constraint_refuses_a_bad_value_naming_setting_value_and_allowed(s):
    for value in _bad_values(s):
        with pytest.raises(InputError) as exc:
            s.check(value)
        text = str(exc.value)
        assert s.name in text or (s.name == "axes" and "h" in text), (value, text)  # the setting
        assert "must" in text or "give each" in text, text  # what is allowed
        if not isinstance(value, list):  # the value, as given or as the number it was read as
            shown = {repr(value)} | ({repr(float(value))} if isinstance(value, (int, float)) else set())
            assert any(v in text for v in shown), (value, text)


def _good(s):
    """A hypothesis strategy of values the row's constraint accepts."""
    c = s.constraint
    if isinstance(c, Interval):
        left, right = c.bounds()
        if c.type is int:
            return st.integers(left, right)
        return st.floats(left, right, exclude_min=c.closed in ("right", "neither"),
                         exclude_max=c.closed == "neither", allow_nan=False)
    if isinstance(c, Options):
        return st.sampled_from(c.allowed())
    return st.sampled_from({"n_jobs": [1, -1, 4096, -4096], "mode": ["fast", "screening,accurate@48"],
                            "axes": [["h=0:1"], {"h": [0, 1]}], "output_dir": ["out"],
                            "solver": ["python s.py", ["python", "s.py"]], "phases": [{"a": "A"}],
                            "unknown_as_phase": [True, False]}[s.name])


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_fuzz_every_row_accepts_its_allowed_values_and_refuses_the_rest(data):
    s = data.draw(st.sampled_from(SETTINGS))
    value = data.draw(_good(s))
    checked = s.check(value)
    assert s.check(checked) == checked  # normalised values are fixed points
    if isinstance(s.constraint, (Interval, Options)):
        assert checked == value
    bad = data.draw(st.sampled_from(_bad_values(s)))
    with pytest.raises(InputError, match="must|give each"):
        s.check(bad)


@settings(max_examples=100, deadline=None)
@given(name=st.sampled_from([s.name for s in SETTINGS if isinstance(s.constraint, Interval)]),
       value=st.one_of(st.integers(-10**20, 10**20), st.floats(allow_nan=True, allow_infinity=True)))
def test_fuzz_intervals_accept_exactly_their_interval(name, value):
    c = TABLE[name].constraint
    left, right = c.bounds()
    inside = (not isinstance(value, float) or math.isfinite(value)) and not (c.type is int and isinstance(value, float))
    if inside and left is not None:
        inside = value > left if c.closed in ("right", "neither") else value >= left
    if inside and right is not None:
        inside = value < right if c.closed == "neither" else value <= right
    if inside:
        assert TABLE[name].check(value) == value
    else:
        with pytest.raises(InputError, match=name):
            TABLE[name].check(value)


# ---------------------------------------------------------------- the edges: API and command line
@pytest.mark.parametrize("s", API_ROWS, ids=lambda s: s.name)
def test_explorer_run_refuses_each_bad_keyword_before_any_work(s):
    ex = ActiveLearningExplorer(SPACE, seed=0, verbose=False)
    bad = next(v for v in _bad_values(s) if v is not None)
    with pytest.raises(InputError, match=s.name):
        ex.run(1, 2, sim, progress=False, **{s.name: bad})
    assert ex.n_points == 0  # refused before the initial design


def test_an_unknown_backend_is_refused_before_the_initial_design():
    # it was refused only when the executor was made, after the initial design was queued
    ex = ActiveLearningExplorer(SPACE, seed=0, verbose=False)
    with pytest.raises(InputError, match=r"backend must be one of \[.*'process'.*\]; got 'bogus'"):
        ex.run(1, 2, sim, backend="bogus", progress=False)
    assert ex.n_points == 0
    with pytest.raises(InputError, match=r"executor must be one of .*; got 'bogus'"):
        ex.run(1, 2, sim, executor="bogus", progress=False)
    assert ex.n_points == 0


@pytest.mark.parametrize("s", [s for s in FLAG_ROWS if s.nargs is None], ids=lambda s: s.name)
def test_the_command_line_refuses_each_bad_flag_in_one_line_naming_it(s, tmp_path, capsys):
    bad = next(v for v in _bad_values(s) if isinstance(v, (int, float, str)) and not isinstance(v, bool)
               and str(v) != "1")
    code = main(["run", s.option, str(bad), "--output-dir", str(tmp_path / "o")])
    assert code == 2
    assert one_line_error(capsys).startswith(f"spinexplore run: error: {s.option}: {s.name} ")
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------- the object that travels
def test_run_settings_are_frozen_checked_once_and_build_their_executor():
    rs = RunSettings.checked(n_iterations=2, n_per_iteration=3, n_jobs=2, backend="sequential", timeout=5)
    assert (rs.n_jobs, rs.backend, rs.timeout, rs.total_points(4)) == (2, "sequential", 5.0, 10)
    with pytest.raises(FrozenInstanceError):
        rs.n_jobs = 3
    executor, own = rs.make_executor()
    try:
        assert own and type(executor).__name__ == "SequentialExecutor"
    finally:
        executor.shutdown()
    with pytest.raises(InputError, match="converge_window=5 needs converge"):
        RunSettings.checked(converge_window=5)
    with pytest.raises(TypeError, match="goal must be callable"):
        RunSettings.checked(goal=3)
    assert set(RunSettings.keys()) <= set(TABLE)
    assert {s.name for s in API_ROWS} <= set(RunSettings.keys())


def test_the_schedules_are_declared_once():
    import spinexplore.cli._settings as cli_settings
    import spinexplore.runner as runner

    assert runner.SCHEDULES is cli_settings.SCHEDULES
    assert TABLE["schedule"].constraint.allowed() == list(runner.SCHEDULES)


def test_rule_and_options_describe_themselves():
    assert str(TABLE["n_initial"].constraint) == "an integer in [1, 1000000]"
    assert str(TABLE["timeout"].constraint) == "a number in (0, 1e+09]"
    assert str(TABLE["converge"].constraint) == "a number in (0, 1)"
    assert "'async'" in str(TABLE["schedule"].constraint)
    assert isinstance(TABLE["mode"].constraint, Rule) and "fidelity ladder" in TABLE["mode"].allowed()
    with pytest.raises(InputError, match="unknown setting 'warp_speed'"):
        check("warp_speed", 9)


def test_n_jobs_is_checked_once_at_the_edge_and_the_executor_built_without_a_second_check(monkeypatch):
    import spinexplore._constraints as constraints

    calls = []

    def counted(value):  # what the table's constraint N_JOBS (and so every executor) checks with
        calls.append(value)
        return value

    monkeypatch.setattr(constraints, "check_n_jobs", counted)
    executor, own = RunSettings.checked(n_jobs=1, backend="sequential").make_executor()
    executor.shutdown()
    assert own and executor.n_workers == 1 and calls == [1]


# ---------------------------------------------------------------- the command line checks once
TINY_RUN = ["--n-initial", "2", "--n-iterations", "0", "--lattice-size", "6", "--mode", "screening",
            "--axes", "h=0:0.5", "K=0:0.5", "--no-progress"]


@pytest.fixture
def row_checks(monkeypatch):
    """How often each row of the table checked a value."""
    from collections import Counter

    from spinexplore.settings import Setting

    counts: Counter = Counter()
    real = Setting.check

    def counted(self, value):
        counts[self.name] += 1
        return real(self, value)

    monkeypatch.setattr(Setting, "check", counted)
    return counts


def test_a_command_line_run_checks_each_value_once_with_its_row(tmp_path, row_checks, capsys):
    """Issue 25: ``spinexplore run`` checked every value with its row, then handed loose keywords to
    ``explorer.run``, which checked them again with the same rows. A real run (explorer, runner,
    executor) now checks each row once; so does resume, for the flags it is given and for the
    values it reads from the store."""
    out = tmp_path / "run"
    assert main(["run", *TINY_RUN, "--n-jobs", "1", "--output-dir", str(out)]) == 0, capsys.readouterr().err
    assert dict(row_checks) == {name: 1 for name in TABLE}
    row_checks.clear()
    assert main(["resume", str(out), "--n-jobs", "1", "--timeout", "60", "--no-progress"]) == 0
    assert set(RunSettings.keys()) <= set(row_checks) and set(row_checks.values()) == {1}, row_checks


@pytest.mark.parametrize("flags, message", [
    (["--n-jobs", "0"], "--n-jobs: n_jobs must be a positive number of workers or negative (-1 = all cores); got 0"),
    (["--schedule", "sometimes"], "--schedule: schedule must be one of ['async', 'batch']; got 'sometimes'"),
    (["--converge-window", "20"], "converge_window=20 needs converge (a fraction of the box, e.g. 0.01)"),
])
def test_a_bad_run_setting_is_refused_before_any_work(tmp_path, monkeypatch, capsys, flags, message):
    def never(*args, **kwargs):
        raise AssertionError("the run started")

    monkeypatch.setattr(ActiveLearningExplorer, "_run_checked", never)
    monkeypatch.setattr(ActiveLearningExplorer, "run", never)
    out = tmp_path / "run"
    assert main(["run", *TINY_RUN, *flags, "--output-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == f"spinexplore run: error: {message}\n"
    assert not out.exists()  # nothing written: no directory, no store
