"""Command line: ``spinexplore run | resume | status | plot | bench``.

A thin layer over :class:`~spinexplore.explorer.ActiveLearningExplorer`. Every setting is
checked first, then the store's lock is taken, then something is written: a command that
fails its checks touches nothing. The store records the run's settings; ``resume`` continues
from that record (``config.toml`` is an export for people) and refuses a different explicit
value of anything but :data:`~spinexplore._cli_settings.SAFE_ON_RESUME`.

Exit codes
----------
0
    Done.
1
    A bug in spinexplore: the traceback is printed with a request to report it.
2
    Bad input: a flag, the config file, the output path, a setting resume may not change.
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
import sys
import traceback
from collections.abc import Sequence

from spinexplore._cli_plot import add_plot_parsers, cmd_plot, cmd_show
from spinexplore._cli_resume import cmd_resume
from spinexplore._cli_run import (
    DIAGRAM_NAME,
    EXIT_BUG,
    EXIT_CODES,
    EXIT_FILESYSTEM,
    EXIT_INPUT,
    EXIT_OK,
    EXIT_STORE,
    cmd_run,
    os_message,
)
from spinexplore._cli_settings import (
    CONFIG_NAME,
    DEFAULTS,
    PATH_ERRNOS,
    SAFE_ON_RESUME,
    SCHEDULES,
    STORE_NAME,
    CLIError,
    check_output_dir,
)
from spinexplore._validation import InputError

__all__ = ["main", "build_parser", "CLIError", "EXIT_CODES"]


# ---------------------------------------------------------------------------- parser
def _add_settings(p: argparse.ArgumentParser, *, resume: bool) -> None:
    """The run settings as flags; on resume they must match the run, except the safe ones."""
    def d(key: str) -> str:
        return "as recorded in the store" if resume else str(DEFAULTS[key])

    add = p.add_argument
    add("--n-initial", type=int, default=None,
        help=f"points in the initial space-filling design [default: {d('n_initial')}]")
    add("--n-iterations", type=int, default=None,
        help=f"{'new total of ' if resume else ''}active-learning rounds after the initial design [default: {d('n_iterations')}]")
    add("--n-per-iteration", type=int, default=None,
        help=f"points proposed per round (the parallel batch) [default: {d('n_per_iteration')}]")
    add("--lattice-size", type=int, default=None,
        help=f"linear size L of the periodic L x L lattice (even, 6 to 1024) [default: {d('lattice_size')}]")
    add("--strategy", default=None,
        help=f"acquisition strategy: balanced, uncertainty, boundary, exploration, random... [default: {d('strategy')}]")
    add("--n-jobs", type=int, default=None,
        help=f"parallel workers (at most 4096); -1 = all cores [default: {d('n_jobs')}]")
    add("--mode", default=None, help=("solver preset: screening, fast or accurate, or a fidelity ladder, cheapest "
                                      "first, e.g. screening,accurate or screening,accurate@48 (@L: that rung's "
                                      f"lattice size) [default: {d('mode')}]"))
    add("--model", default=None, help=f"model preset: triangular-chiral or square-chiral [default: {d('model')}]")
    add("--axes", nargs="+", default=None, metavar="NAME=LOW:HIGH[:log]",
        help="swept parameters and ranges in units of J1 (|value| <= 1000), e.g. h=0:0.57 K=-0.24:0.95 "
             + ("[default: as recorded in the store]" if resume else
                "[default: h in [0, 1.2u], K in [-0.5u, 2u], u = the model's natural unit D^2/J (x1.5 on the triangular lattice)]"))
    add("--backend", default=None,
        help="execution backend: sequential, process, loky, dask, mpi "
             + ("[default: as recorded]" if resume else "[default: sequential for 1 job, process otherwise]"))
    add("--timeout", type=float, default=None, help=f"hard limit per simulation in seconds [default: {'as recorded' if resume else 'none'}]")
    add("--checkpoint-interval", type=int, default=None,
        help=f"checkpoint every N completed simulations [default: {d('checkpoint_interval')}]")
    add("--seed", type=int, default=None, help=f"random seed [default: {d('seed')}]")
    add("--initial-method", default=None,
        help=f"initial design: lhs, sobol, grid or random [default: {d('initial_method')}]")
    add("--schedule", default=None, choices=SCHEDULES,
        help="async: a worker gets a new point as soon as it is free; batch: rounds of n_per_iteration "
             "[default: async with more than one worker]")
    add("--max-time", type=float, default=None, metavar="SECONDS",
        help="stop (resumably) after this much wall time [default: none]")
    add("--max-cpu-time", type=float, default=None, metavar="SECONDS",
        help="stop (resumably) after this much summed simulation time [default: none]")
    add("--converge", type=float, default=None, metavar="FRACTION",
        help="stop when the predicted phase changes on less than this fraction of the box, e.g. 0.01 [default: off]")
    add("--converge-window", type=int, default=None, metavar="N",
        help="number of new points over which --converge is measured [default: the run's choice]")
    add("--config", default=None, metavar="FILE",
        help="TOML file with any of these settings (keys with underscores); flags override it")
    add("--no-progress", action="store_true", help="plain log lines instead of a progress bar")


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.HelpFormatter  # each help text states its own default (once, and right)
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

    status = sub.add_parser("status", formatter_class=fmt, help="counts by phase and status, convergence trend")
    status.add_argument("dir", help="output directory of the exploration")

    add_plot_parsers(sub, fmt)

    bench = sub.add_parser("bench", formatter_class=fmt, help="sequential vs parallel benchmark on real simulations")
    bench.add_argument("--n-sims", type=int, default=8, help="number of simulations [default: 8]")
    bench.add_argument("--n-jobs", type=int, default=-1, help="parallel workers; -1 = all cores [default: -1]")
    bench.add_argument("--mode", default="fast", help="solver preset [default: fast]")
    bench.add_argument("--lattice-size", type=int, default=24, help="linear lattice size [default: 24]")
    bench.add_argument("--output", default=None, help="write the figures as JSON to this file")
    return parser


# ---------------------------------------------------------------------------- status, plot, bench
def _cmd_status(args: argparse.Namespace) -> int:
    """Counts, settings, efficiency and convergence from the columns and the state alone: no
    PointRecord is built, so it stays instant on a 10^6-point store."""
    from spinexplore.store import ExplorationStore

    out = check_output_dir(args.dir, must_exist=True)
    store = ExplorationStore.open(out / STORE_NAME, mode="r")
    try:
        c, state = store.counts(), store.read_state()
    finally:
        store.close()
    print(f"{out / STORE_NAME}: {c['n_points']} points, iteration {state.get('iteration', 0)}")
    record = dict(state.get("settings") or {})
    if record:
        print("run: " + ", ".join(f"{k}={record[k]}" for k in ("model", "lattice_size", "mode", "seed",
                                                                "n_jobs", "backend") if k in record))
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
        print("iteration  done  changed  mean uncertainty")
        for h in history:
            cf, mu = h.get("changed_fraction"), h.get("mean_uncertainty")
            print(f"{h['iteration']:>9}  {h['n_done']:>4}  "
                  f"{'   n/a' if cf is None or math.isnan(cf) else f'{100 * cf:5.1f}%'}  "
                  f"{'  n/a' if mu is None or math.isnan(mu) else f'{mu:.3f}'}")
    return EXIT_OK


def _cmd_bench(args: argparse.Namespace) -> int:
    from spinexplore._bench import run_parallel_benchmark

    run_parallel_benchmark(
        n_sims=args.n_sims, n_jobs=args.n_jobs, mode=args.mode,
        lattice_size=args.lattice_size, output=args.output,
    )
    return EXIT_OK


_COMMANDS = {
    "run": cmd_run, "resume": cmd_resume, "status": _cmd_status, "plot": cmd_plot, "show": cmd_show,
    "bench": _cmd_bench,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``spinexplore`` command; returns the exit code (see the module doc)."""
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
        with cli_logging():  # the library logs; only the command shows its messages
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
        if debug or exc.errno not in PATH_ERRNOS:
            if debug:
                raise
            return _bug(args.command)
        print(f"{prefix} {os_message(exc)}", file=sys.stderr)
        return EXIT_FILESYSTEM
    except KeyboardInterrupt as exc:
        print("\nInterrupted.", file=sys.stderr)
        return int(getattr(exc, "exit_code", 130))
    except Exception:  # noqa: BLE001 - anything else is a bug: keep its traceback
        if debug:
            raise
        return _bug(args.command)


def _bug(command: str) -> int:
    traceback.print_exc()
    print(
        f"spinexplore {command}: internal error. This is a bug in spinexplore, not a problem with your "
        "input; please report it to the spinexplore developers with the command line and the traceback above.",
        file=sys.stderr,
    )
    return EXIT_BUG


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
