"""Fuzzing the command line (issue 12): any flags and any TOML config give exit code 0 or 2,
never a traceback, and an existing run directory stays byte-identical after every refusal.

The fast tests stop every command that passes all checks at the moment it would take the
store's lock (:class:`WouldRun`), so no simulation runs; the slow one runs tiny real runs.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path
from unittest import mock

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spinexplore.cli import main
from spinexplore.explorer import ActiveLearningExplorer
from spinexplore.settings import SETTINGS

from helpers.cli import snapshot

TINY = ["--n-initial", "1", "--n-iterations", "0", "--lattice-size", "6", "--mode", "screening",
        "--axes", "h=0:0.5", "K=0:0.5", "--no-progress"]


class WouldRun(BaseException):
    """Raised where a valid command would take the lock: every check has passed."""


def _would_run(*args, **kwargs):
    raise WouldRun()


@pytest.fixture(scope="module")
def existing_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("fuzz") / "run"
    assert main(["run", *TINY, "--output-dir", str(out)]) == 0
    return out


def call(argv: list[str]) -> tuple[int | str, str]:
    """Run main in-process: (exit code or "would run", stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code: int | str = main(argv)
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
        except WouldRun:
            code = "would run"
    return code, err.getvalue()


def check(code: int | str, err: str, directory: Path, before: dict[str, bytes]) -> None:
    assert "Traceback" not in err, err
    assert code in (0, 2, "would run"), (code, err)
    if code == 2:
        assert err.strip(), "an exit 2 must say why"
        assert snapshot(directory) == before


# ---------------------------------------------------------------- strategies
numbers_as_text = st.one_of(
    st.integers(-10**12, 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["0", "1", "2", "-1", "6", "7", "1e300", "nan", "inf", "", "x", "1.5", "4097", "1025"]),
)
words = st.one_of(
    st.sampled_from(["balanced", "random", "fast", "screening", "accurate", "triangular-chiral", "square-chiral",
                     "process", "sequential", "loky", "mpi", "dask", "bogus", "lhs", "sobol", "grid", "async",
                     "batch", ""]),
    st.text(max_size=6),
)
axis_specs = st.one_of(
    st.builds(lambda n, a, b: f"{n}={a}:{b}", st.sampled_from(["h", "K", "T", "J2", "D", "Bz", "", "1x"]),
              numbers_as_text, numbers_as_text),
    st.sampled_from(["h=0:0.5", "h=0:0.5:log", "K=-0.2:0.9", "h0.5", "h=0:1:cubic", "T=0:1e300"]),
)
# every flag of the table of run settings (spinexplore.settings), numbers or words by its type
FLAG_VALUES = {s.option: numbers_as_text if s.type in (int, float) else words
               for s in SETTINGS if s.flag and s.nargs is None}
flag_pairs = st.lists(st.one_of(
    st.tuples(st.sampled_from(sorted(FLAG_VALUES)), st.data()),
    st.tuples(st.just("--axes"), st.lists(axis_specs, min_size=1, max_size=3)),
), max_size=5)

toml_scalars = st.one_of(
    st.integers(-10**18, 10**18), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
    st.text(max_size=8), words,
)
toml_values = st.one_of(
    toml_scalars,
    st.lists(st.one_of(st.integers(-5, 5), st.text(max_size=4)), max_size=3),
    st.dictionaries(st.sampled_from(["h", "K", "T", "x"]),
                    st.one_of(st.lists(st.floats(-2, 2), max_size=3), st.text(max_size=6)), max_size=2),
)
CONFIG_KEYS = [s.name for s in SETTINGS if s.flag] + ["n-jobs", "warp_speed"]


def _flags(pairs, data) -> list[str]:
    argv = []
    for flag, value in pairs:
        if flag == "--axes":
            argv += ["--axes", *value]
        else:
            argv += [flag, value.draw(FLAG_VALUES[flag])]
    return argv


FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------- the tests
@FAST
@given(pairs=flag_pairs, data=st.data())
def test_fuzzed_flags_on_an_existing_run(existing_run, pairs, data):
    argv = _flags(pairs, data)
    before = snapshot(existing_run)
    with mock.patch.object(ActiveLearningExplorer, "__init__", _would_run):
        code, err = call(["run", *TINY, *argv, "--overwrite", "--output-dir", str(existing_run)])
    check(code, err, existing_run, before)


@FAST
@given(config=st.dictionaries(st.sampled_from(CONFIG_KEYS), toml_values, max_size=5),
       repeat=st.booleans(), junk=st.sampled_from([b"", b"\xff\xfe", b"[axes\n", b"n_jobs = 1\n"]),
       pairs=flag_pairs, data=st.data())
def test_fuzzed_config_files_on_an_existing_run(existing_run, tmp_path_factory, config, repeat, junk, pairs, data):
    try:
        text = tomli_w.dumps(config).encode()
    except (TypeError, ValueError):  # a value TOML cannot hold
        text = b""
    if repeat and config:  # a repeated key (invalid TOML)
        key = next(iter(config))
        text += f"\n{key} = 1\n".encode() if not isinstance(config[key], dict) else f"\n[{key}]\n".encode()
    cfg = tmp_path_factory.mktemp("cfg") / "c.toml"
    cfg.write_bytes(text + junk)
    before = snapshot(existing_run)
    with mock.patch.object(ActiveLearningExplorer, "__init__", _would_run):
        code, err = call(["run", "--config", str(cfg), *_flags(pairs, data), "--overwrite",
                          "--output-dir", str(existing_run)])
    check(code, err, existing_run, before)


@FAST
@given(pairs=flag_pairs, overrides=st.lists(st.builds(lambda k, v: f"{k}={v}", st.sampled_from(
    ["n_jobs", "backend", "timeout", "n_iterations", "schedule", "converge", "mode", "lattice_size", "bogus",
     "n-per-iteration"]), numbers_as_text), max_size=3), data=st.data())
def test_fuzzed_resume_flags(existing_run, tmp_path_factory, pairs, overrides, data):
    run_dir = tmp_path_factory.mktemp("resume") / "run"
    shutil.copytree(existing_run, run_dir)
    before = snapshot(run_dir)
    argv = ["resume", str(run_dir), *_flags(pairs, data)]
    for text in overrides:
        argv += ["--override", text]
    with mock.patch("spinexplore.cli._resume.write_toml", _would_run):
        code, err = call(argv)
    check(code, err, run_dir, before)


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n_jobs=st.sampled_from(["1", "2", "0", "-1"]), backend=st.sampled_from(["process", "sequential", "loky", "x"]),
       schedule=st.sampled_from(["async", "batch"]), timeout=st.sampled_from(["30", "-1", "nan", "1e9"]),
       interval=st.sampled_from(["1", "0", "3"]))
def test_fuzzed_tiny_real_runs_exit_0_or_2(tmp_path_factory, n_jobs, backend, schedule, timeout, interval):
    out = tmp_path_factory.mktemp("real") / "run"
    code, err = call(["run", *TINY, "--n-jobs", n_jobs, "--backend", backend, "--schedule", schedule,
                      "--timeout", timeout, "--checkpoint-interval", interval, "--output-dir", str(out)])
    assert "Traceback" not in err and code in (0, 2), (code, err)
    assert (code == 0) == (out / "exploration.h5").is_file()
