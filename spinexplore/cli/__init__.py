"""Command line: ``spinexplore run | resume | status | plot | show | bench``.

A thin layer over :class:`~spinexplore.explorer.ActiveLearningExplorer`. Every setting is
checked first, then the store's lock is taken, then something is written: a command that
fails its checks touches nothing. The store records the run's settings; ``resume`` continues
from that record (``config.toml`` is an export for people) and refuses a different explicit
value of anything but :data:`~spinexplore.settings.SAFE_ON_RESUME`. Every run setting's flag,
type, default and help come from the table :data:`spinexplore.settings.SETTINGS`.

Exit codes
----------
0
    Done.
1
    A bug in spinexplore: the traceback is printed with a request to report it.
2
    Bad input: a flag, the config file, the output path, a setting resume may not change;
    or a simulation whose first results all failed with the same error.
3
    The store cannot be used: damaged, not an exploration, from a newer spinexplore, or
    locked by another running spinexplore.
4
    The file system refused a read or write (disk full, read-only, no permission), before or
    during a run; the last checkpoint is intact and the message gives the resume command.
130, 143
    Stopped by Ctrl+C (SIGINT) or SIGTERM (``128 + signal``) after saving every finished
    simulation; the message gives the resume command.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "build_parser", "CLIError", "EXIT_CODES"]

# The command's modules (numpy, h5py...) are imported inside main(), where Ctrl+C and SIGTERM
# are already handled: an interrupt during the start gives a one-line message, not a traceback.
_LAZY = {"CLIError": "spinexplore.cli._settings", "EXIT_CODES": "spinexplore.cli._run"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'spinexplore.cli' has no attribute {name!r}")


# ---------------------------------------------------------------------------- parser
class _Help(str):
    """The help of a setting's flag, written when ``--help`` is printed (from the table, with the
    registries' names: they are imported only then)."""

    def __new__(cls, setting: Any, default: str, text: str | None = None) -> _Help:
        self = super().__new__(cls, setting.help if text is None else text)
        self.setting, self.default = setting, default
        return self

    def render(self) -> str:
        from spinexplore.settings import Interval

        s, text = self.setting, str(self)
        names = s.constraint.allowed() if callable(getattr(s.constraint, "allowed", None)) else None
        if names:  # the registry's names, plugins included
            text += ": " + ", ".join(names)
        elif isinstance(s.constraint, Interval):
            text += f" ({s.constraint})"
        return f"{text} [default: {self.default}]".replace("%", "%%")


class _Formatter(argparse.HelpFormatter):
    """Each help text states its own default (once, and right); a setting's is made from the table."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        return action.help.render() if isinstance(action.help, _Help) else action.help


def _add_settings(p: argparse.ArgumentParser, *, resume: bool) -> None:
    """The run settings as flags, one per row of :data:`spinexplore.settings.SETTINGS`; on
    resume they must match the run, except the ones the table lets resume change."""
    from spinexplore.settings import SETTINGS

    for setting in SETTINGS:
        if setting.flag:
            p.add_argument(setting.option, type=setting.type, default=None, metavar=setting.metavar,
                           nargs=setting.nargs,
                           help=_Help(setting, "as recorded in the store" if resume else setting.default_text()))
    p.add_argument("--config", default=None, metavar="FILE",
                   help="TOML file with any of these settings (keys with underscores); flags override it")
    p.add_argument("--no-progress", action="store_true", help="plain log lines instead of a progress bar")


def build_parser() -> argparse.ArgumentParser:
    from spinexplore.cli._plot import add_plot_parsers
    from spinexplore.cli._run import DIAGRAM_NAME, EXIT_CODES
    from spinexplore.cli._settings import CONFIG_NAME, DEFAULTS, SAFE_ON_RESUME, STORE_NAME

    fmt = _Formatter
    parser = argparse.ArgumentParser(
        prog="spinexplore",
        description="Map phase diagrams of classical spin models by parallel active learning.",
        epilog="exit codes: " + "; ".join(f"{k} {v}" for k, v in EXIT_CODES.items()),
        formatter_class=fmt,
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run", formatter_class=fmt, help="run a new exploration",
        description=(
            "Run a new exploration of a built-in spin model with the built-in solver. Energies, "
            "fields (h) and anisotropies (K) are in units of the exchange J1. The settings are "
            "recorded in the store (resume continues from them) and exported to config.toml."
        ),
    )
    _add_settings(run, resume=False)
    run.add_argument("--output-dir", default=None,
                     help=f"directory for {STORE_NAME}, {DIAGRAM_NAME} and {CONFIG_NAME} [default: {DEFAULTS['output_dir']}]")
    run.add_argument("--overwrite", action="store_true", help="replace an existing exploration in the output directory")

    resume = sub.add_parser(
        "resume", formatter_class=fmt, help="finish an interrupted exploration",
        description=(
            "Rerun pending points and finish the remaining rounds of an exploration, with the "
            "settings recorded in its store (config.toml is not read). A flag or config key "
            "must match the recorded value, except the settings resume may change: "
            + ", ".join(SAFE_ON_RESUME) + "."
        ),
    )
    resume.add_argument("dir", help="output directory of the exploration")
    _add_settings(resume, resume=True)
    resume.add_argument("--override", action="append", default=None, metavar="KEY=VALUE",
                        help="change a setting resume may change, e.g. --override n_jobs=8 (repeatable)")

    status = sub.add_parser("status", formatter_class=fmt, help="counts by phase and status, convergence trend",
                            description="Counts by status and phase, the run's settings, efficiency and "
                                        "convergence; --points lists the points themselves (index, status, "
                                        "phase, confidence, parameters), e.g. to pick one for `spinexplore show`.")
    status.add_argument("dir", help="output directory of the exploration")
    status.add_argument("--points", action="store_true", help="list the points (one line each) instead of the summary")
    status.add_argument("--phase", action="append", default=None, metavar="PHASE",
                        help="with --points: only points of this phase, e.g. SKYRMION (repeatable)")
    status.add_argument("--status", dest="point_status", action="append", default=None, metavar="STATUS",
                        help="with --points: only points of this status, e.g. FAILED (repeatable)")

    add_plot_parsers(sub, fmt)

    bench = sub.add_parser("bench", formatter_class=fmt, help="sequential vs parallel benchmark on real simulations")
    bench.add_argument("--n-sims", type=int, default=8, help="number of simulations [default: 8]")
    from spinexplore.settings import TABLE  # the run's rows: type, help, names and check (run_parallel_benchmark)

    n_jobs, mode = TABLE["n_jobs"], TABLE["mode"]
    bench.add_argument(n_jobs.option, type=n_jobs.type, default=-1, help=_Help(n_jobs, "-1"))
    bench.add_argument(mode.option, type=mode.type, default=mode.default,
                       help=_Help(mode, mode.default_text(), "solver preset (one: bench times single simulations)"))
    bench.add_argument("--lattice-size", type=int, default=24, help="linear lattice size [default: 24]")
    bench.add_argument("--output", default=None, help="write the figures as JSON to this file")
    return parser


# ---------------------------------------------------------------------------- status, plot, bench
def _cmd_status(args: argparse.Namespace) -> int:
    """Counts, settings, efficiency and convergence from the columns and the state alone: no
    PointRecord is built, so it stays instant on a 10^6-point store."""
    from spinexplore.cli._run import EXIT_OK
    from spinexplore.cli._settings import STORE_NAME, check_output_dir
    from spinexplore.store import ExplorationStore

    out = check_output_dir(args.dir, must_exist=True)
    if args.points or args.phase or args.point_status:
        return _list_points(out, args.phase, args.point_status)
    store = ExplorationStore.open(out / STORE_NAME, mode="r")
    try:
        c, state = store.counts(), store.read_state()
    finally:
        store.close()
    print(f"{out / STORE_NAME}: {c['n_points']} points, iteration {state.get('iteration', 0)}")
    record = dict(state.get("settings") or {})
    if record:
        keys = (("solver", "seed", "n_jobs", "backend") if record.get("solver") is not None else
                ("model", "lattice_size", "mode", "seed", "n_jobs", "backend"))
        print("run: " + ", ".join(f"{k}={record[k]}" for k in keys if k in record))
    by_status = c["status"]
    print("by status: " + ", ".join(f"{s}={by_status.get(s, 0)}" for s in ("DONE", "PENDING", "FAILED", "TIMEOUT",
                                                                           "CANCELLED")))
    phases = {n: k for n, k in c["phase"].items() if n not in ("FAILED", "TIMEOUT")}
    print("by phase:  " + (", ".join(f"{n}={k}" for n, k in phases.items()) or "none yet"))
    stats = state.get("run_stats")
    if stats and stats.get("efficiency") is not None:
        wall, sim = (float(stats.get(k) if stats.get(k) is not None else math.nan)
                     for k in ("wall_time", "simulation_time"))
        print(f"last run: {stats.get('n_workers')} worker(s), {stats.get('schedule')} schedule, "
              f"wall {wall:.1f} s, simulations {sim:.1f} s, efficiency {100 * float(stats['efficiency']):.0f} %"
              + (f", stopped by {stats['stopped_by']}" if stats.get("stopped_by") else ""))
    if stats and stats.get("fidelity"):
        from spinexplore.fidelity import format_policy

        print(format_policy(stats["fidelity"], (state.get("simulation") or {}).get("names")))
    history = state.get("history") or []
    if history:
        from spinexplore._text import number, percent

        print("iteration  done  changed  mean uncertainty")
        for h in history:
            cf, mu = h.get("changed_fraction"), h.get("mean_uncertainty")
            print(f"{h['iteration']:>9}  {h['n_done']:>4}  {percent(cf, width=6)}  {number(mu, width=5)}")
    return EXIT_OK


def _list_points(out: Path, phases: list[str] | None, statuses: list[str] | None) -> int:
    """``status --points``: one line per point, filtered by phase (a name of the run's
    vocabulary: built-in or the user's own) and status."""
    from spinexplore.cli._run import EXIT_OK
    from spinexplore.cli._settings import STORE_NAME, CLIError
    from spinexplore.explorer import ActiveLearningExplorer
    from spinexplore.results import PhaseType, PointStatus

    for name in statuses or ():
        if name.upper() not in PointStatus.__members__:
            raise CLIError(f"--status: {name!r} is not one of {sorted(PointStatus.__members__)}")
    want_status = {s.upper() for s in statuses or ()}
    explorer = ActiveLearningExplorer.load(out / STORE_NAME, read_only=True, verbose=False)
    try:
        known = explorer.vocabulary.names()
        known += [n for n in PhaseType.__members__ if n not in known and PhaseType[n].is_physical]
        by_key = {n.upper(): n for n in known}
        want_phase = set()
        for name in phases or ():
            if name.upper() not in by_key:
                raise CLIError(f"--phase: {name!r} is not a phase of this run; its phases are {known}")
            want_phase.add(by_key[name.upper()])
        names = list(explorer.space.names)
        print("index  status     phase             confidence  " + "  ".join(f"{n:>10}" for n in names))
        for r in explorer.records:
            phase = r.result.phase.name if r.result is not None and r.result.ok else ""  # FAILED: a status
            if (want_phase and phase not in want_phase) or (want_status and r.status.name not in want_status):
                continue
            conf = f"{r.result.confidence:10.2f}" if r.result is not None else " " * 10
            print(f"{r.index:>5}  {r.status.name:<9}  {phase:<16}  {conf}  "
                  + "  ".join(f"{v:>10.4g}" for v in r.params))
    finally:
        explorer.store.close()
    return EXIT_OK


def _cmd_bench(args: argparse.Namespace) -> int:
    from spinexplore.cli._bench import run_parallel_benchmark
    from spinexplore.cli._run import EXIT_OK

    run_parallel_benchmark(
        n_sims=args.n_sims, n_jobs=args.n_jobs, mode=args.mode,
        lattice_size=args.lattice_size, output=args.output,
    )
    return EXIT_OK


def _command(module: str, name: str) -> Any:
    def run(args: argparse.Namespace) -> int:
        import importlib

        return getattr(importlib.import_module(module), name)(args)

    return run


_COMMANDS = {
    "run": _command("spinexplore.cli._run", "cmd_run"), "resume": _command("spinexplore.cli._resume", "cmd_resume"),
    "status": _cmd_status, "plot": _command("spinexplore.cli._plot", "cmd_plot"),
    "show": _command("spinexplore.cli._plot", "cmd_show"), "bench": _cmd_bench,
}


def _on_sigterm(signum: int, frame: Any) -> None:
    """SIGTERM outside a run's own handling: stop like Ctrl+C, with exit code 143."""
    errors = sys.modules.get("spinexplore.errors")
    if errors is not None:
        raise errors.Interrupted(signum)
    exc = KeyboardInterrupt(signal.Signals(signum).name)
    exc.signum, exc.exit_code = signum, 128 + signum  # type: ignore[attr-defined]
    raise exc


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``spinexplore`` command; returns the exit code (see the module doc)."""
    handled = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGTERM, _on_sigterm) if handled else None
    try:
        return _main(argv)
    except KeyboardInterrupt as exc:  # while starting (imports) or reporting: nothing was written
        code = int(getattr(exc, "exit_code", 130))
        print(f"\nInterrupted by {'SIGTERM' if code == 143 else 'Ctrl+C'}.", file=sys.stderr)
        return code
    finally:
        if handled:
            signal.signal(signal.SIGTERM, old)


def _main(argv: Sequence[str] | None) -> int:
    from spinexplore.cli._run import EXIT_FILESYSTEM, EXIT_INPUT, EXIT_OK, EXIT_STORE, os_message
    from spinexplore.cli._settings import PATH_ERRNOS, CLIError
    from spinexplore._validation import InputError
    from spinexplore.errors import SimulationFailingError
    from spinexplore.store.base import StoreError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from spinexplore import __version__

        print(f"spinexplore {__version__}")
        return EXIT_OK
    if not args.command:
        parser.print_help()
        return EXIT_INPUT
    debug = bool(os.environ.get("SPINEXPLORE_DEBUG"))
    prefix = f"spinexplore {args.command}: error:"
    from spinexplore._log import cli_logging

    try:
        with cli_logging(command=f"spinexplore {args.command}"):  # the library logs; only the command shows its messages
            code = _COMMANDS[args.command](args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code
    except CLIError as exc:
        if debug:
            raise
        print(f"{prefix} {' '.join(str(exc).split())}", file=sys.stderr)
        return exc.exit_code
    except InputError as exc:
        if debug:
            raise
        print(f"{prefix} {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_INPUT
    except SimulationFailingError as exc:  # the simulation cannot work: input to fix, as above
        if debug:
            raise
        print(f"{prefix} {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:  # `spinexplore status DIR | head`: the reader left; not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush must not fail too
        return 128 + 13  # SIGPIPE, as the shell reports it
    except StoreError as exc:  # damaged, foreign, newer or locked store
        if debug:
            raise
        print(f"{prefix} {os_message(exc)}", file=sys.stderr)
        return EXIT_STORE
    except OSError as exc:
        # errno set by the OS, or one of the path errors spinexplore raises itself (read-only
        # store, missing directory, a directory where a file belongs), which carry no errno
        if debug or not (exc.errno in PATH_ERRNOS or (exc.errno is None and isinstance(exc, _PATH_ERRORS))):
            if debug:
                raise
            return _bug(args.command)
        print(f"{prefix} {os_message(exc)}", file=sys.stderr)
        return EXIT_FILESYSTEM
    except KeyboardInterrupt as exc:
        code = int(getattr(exc, "exit_code", 130))
        print(f"\nInterrupted by {'SIGTERM' if code == 143 else 'Ctrl+C'}.", file=sys.stderr)
        return code
    except Exception:  # noqa: BLE001 - anything else is a bug: keep its traceback
        if debug:
            raise
        return _bug(args.command)


_PATH_ERRORS = (PermissionError, FileNotFoundError, IsADirectoryError, NotADirectoryError, FileExistsError)


def _bug(command: str) -> int:
    traceback.print_exc()
    print(
        f"spinexplore {command}: internal error. This is a bug in spinexplore, not a problem with your "
        "input; please report it to the spinexplore developers with the command line and the traceback above.",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
