"""``spinexplore bench``'s verdict follows the measured efficiency (issue 23, defect 5)."""

from __future__ import annotations

from spinexplore.cli._bench import verdict


def test_a_speedup_of_1_02x_on_two_workers_is_not_called_working():
    line = verdict(True, 1.02 / 2, 2)  # the run: 51 % efficiency
    assert line.startswith("✗") and "51 % efficiency on 2 workers" in line and "working" not in line


def test_the_verdict_by_efficiency():
    assert verdict(True, 0.95, 2).startswith("✓ Parallel processing works well: 95 %")
    assert verdict(True, 0.7, 8).startswith("~ Parallel processing works, at 70 %")
    assert verdict(False, 0.95, 2).startswith("✗ Some simulations failed")
    assert verdict(True, 1.0, 1).startswith("- One worker")


# ---------------------------------------------------------------- issue 25: flags from the table
import pytest  # noqa: E402

from spinexplore.cli import build_parser, main  # noqa: E402
from spinexplore.settings import TABLE  # noqa: E402


@pytest.fixture
def row_checks(monkeypatch):
    """The values each row of the run settings' table checked."""
    from spinexplore.settings import Setting

    seen: dict[str, list] = {}
    real = Setting.check

    def counted(self, value):
        seen.setdefault(self.name, []).append(value)
        return real(self, value)

    monkeypatch.setattr(Setting, "check", counted)
    return seen


def _bench_actions():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return {a.dest: a for a in sub.choices["bench"]._actions}


def test_bench_flags_take_type_and_help_from_the_table(capsys):
    """Issue 25: bench's --n-jobs and --mode were typed by hand (type=int, "solver preset"), not
    read from the table: --help listed no preset."""
    actions = _bench_actions()
    assert actions["n_jobs"].type is TABLE["n_jobs"].type and actions["mode"].type is TABLE["mode"].type
    assert actions["n_jobs"].help.setting is TABLE["n_jobs"] and actions["mode"].help.setting is TABLE["mode"]
    assert (actions["n_jobs"].default, actions["mode"].default) == (-1, TABLE["mode"].default)
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"{TABLE['n_jobs'].help} [default: -1]" in text
    presets = TABLE["mode"].constraint.allowed()
    assert f"solver preset (one: bench times single simulations): {', '.join(presets)} [default: fast]" in text


@pytest.mark.parametrize("flags, name, message", [
    (["--n-jobs", "0"], "n_jobs", "n_jobs must be a positive number of workers or negative (-1 = all cores); got 0"),
    (["--n-jobs", "100000"], "n_jobs", "n_jobs must be between -"),
    (["--mode", "bogus"], "mode", "mode must be one of ['screening', 'fast', 'accurate']; got 'bogus'"),
    (["--mode", "screening,accurate"], "mode",
     "mode must be one of ['screening', 'fast', 'accurate']; got 'screening,accurate'"),
])
def test_bench_checks_its_flags_with_the_tables_rows_before_any_simulation(flags, name, message, row_checks,
                                                                           capsys):
    assert main(["bench", "--n-sims", "1", "--lattice-size", "6", *flags]) == 2
    out, err = capsys.readouterr()
    assert err.startswith(f"spinexplore bench: error: {message}") and err.count("\n") == 1, err
    assert "PARALLEL SIMULATION TEST" not in out  # nothing ran
    assert len(row_checks[name]) == 1  # by the row, once
