"""Command line: ``spinexplore run | resume | status | plot | bench``.

A thin layer over :class:`~spinexplore.explorer.ActiveLearningExplorer`. Bad input gives a
one-line message and exit code 2; Ctrl+C says where the results are and how to resume (exit 130).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "build_parser"]

STORE_NAME = "exploration.h5"
CONFIG_NAME = "config.toml"
DIAGRAM_NAME = "phase_diagram.png"

# run settings and their defaults; the TOML config uses the same keys (underscores)
DEFAULTS: dict[str, Any] = {
    "n_initial": 20,
    "n_iterations": 3,
    "n_per_iteration": 10,
    "lattice_size": 24,
    "strategy": "balanced",
    "n_jobs": 1,
    "output_dir": "spinexplore_output",
    "mode": "fast",
    "model": "triangular-chiral",
    "axes": None,
    "backend": None,
    "timeout": None,
    "checkpoint_interval": 10,
    "seed": 0,
    "initial_method": "lhs",
}


class CLIError(Exception):
    """Bad command-line input: printed as one line, exit code 2."""


# ---------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    parser = argparse.ArgumentParser(
        prog="spinexplore",
        description="Map phase diagrams of classical spin models by parallel active learning.",
        formatter_class=fmt,
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run", formatter_class=fmt,
        help="run a new exploration",
        description=(
            "Run a new exploration of a built-in spin model with the built-in solver. Energies, "
            "fields (h) and anisotropies (K) are in units of the exchange J1."
        ),
    )
    run.add_argument("--n-initial", type=int, default=None,
                     help=f"points in the initial space-filling design [default: {DEFAULTS['n_initial']}]")
    run.add_argument("--n-iterations", type=int, default=None,
                     help=f"active-learning rounds after the initial design [default: {DEFAULTS['n_iterations']}]")
    run.add_argument("--n-per-iteration", type=int, default=None,
                     help=f"points proposed per round (the parallel batch) [default: {DEFAULTS['n_per_iteration']}]")
    run.add_argument("--lattice-size", type=int, default=None,
                     help=f"linear size L of the periodic L x L lattice (even, >= 6) [default: {DEFAULTS['lattice_size']}]")
    run.add_argument("--strategy", default=None,
                     help=f"acquisition strategy: balanced, uncertainty, boundary, exploration, random... [default: {DEFAULTS['strategy']}]")
    run.add_argument("--n-jobs", type=int, default=None,
                     help=f"parallel workers; -1 = all cores [default: {DEFAULTS['n_jobs']}]")
    run.add_argument("--output-dir", default=None,
                     help=f"directory for {STORE_NAME}, {DIAGRAM_NAME} and {CONFIG_NAME} [default: {DEFAULTS['output_dir']}]")
    run.add_argument("--mode", default=None,
                     help=f"solver preset: screening, fast or accurate [default: {DEFAULTS['mode']}]")
    run.add_argument("--model", default=None,
                     help=f"model preset: triangular-chiral or square-chiral [default: {DEFAULTS['model']}]")
    run.add_argument("--axes", nargs="+", default=None, metavar="NAME=LOW:HIGH[:log]",
                     help="swept parameters and ranges in units of J1, e.g. h=0:0.57 K=-0.24:0.95 "
                          "[default: h in [0, 1.2u], K in [-0.5u, 2u], u = the model's natural unit D^2/J (x1.5 on the triangular lattice)]")
    run.add_argument("--backend", default=None,
                     help="execution backend: sequential, process, loky, dask, mpi [default: sequential for 1 job, process otherwise]")
    run.add_argument("--timeout", type=float, default=None,
                     help="hard limit per simulation in seconds [default: none]")
    run.add_argument("--checkpoint-interval", type=int, default=None,
                     help=f"checkpoint every N completed simulations [default: {DEFAULTS['checkpoint_interval']}]")
    run.add_argument("--seed", type=int, default=None, help=f"random seed [default: {DEFAULTS['seed']}]")
    run.add_argument("--config", default=None, metavar="FILE",
                     help="TOML file with any of these settings (keys with underscores); flags override it")
    run.add_argument("--overwrite", action="store_true", help="replace an existing exploration in the output directory")
    run.add_argument("--no-progress", action="store_true", help="plain log lines instead of a progress bar")

    resume = sub.add_parser("resume", formatter_class=fmt, help="finish an interrupted exploration",
                            description="Rerun pending points and finish the remaining rounds of an exploration.")
    resume.add_argument("dir", help="output directory of the exploration")
    resume.add_argument("--n-jobs", type=int, default=None, help="parallel workers [default: as in the run]")
    resume.add_argument("--n-iterations", type=int, default=None, help="new total number of rounds [default: as in the run]")
    resume.add_argument("--no-progress", action="store_true", help="plain log lines instead of a progress bar")

    status = sub.add_parser("status", formatter_class=fmt, help="counts by phase and status, convergence trend")
    status.add_argument("dir", help="output directory of the exploration")

    plot = sub.add_parser("plot", formatter_class=fmt, help="draw the phase diagram, uncertainty and convergence")
    plot.add_argument("dir", help="output directory of the exploration")
    plot.add_argument("--out", default=None, help="directory for the PNG files [default: DIR]")

    bench = sub.add_parser("bench", formatter_class=fmt, help="sequential vs parallel benchmark on real simulations")
    bench.add_argument("--n-sims", type=int, default=8, help="number of simulations")
    bench.add_argument("--n-jobs", type=int, default=-1, help="parallel workers; -1 = all cores")
    bench.add_argument("--mode", default="fast", help="solver preset")
    bench.add_argument("--lattice-size", type=int, default=24, help="linear lattice size")
    bench.add_argument("--output", default=None, help="write the figures as JSON to this file")
    return parser


# ---------------------------------------------------------------------------- config helpers
def _load_toml(path: Path) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    if not path.is_file():
        raise CLIError(f"--config: file {str(path)!r} does not exist")
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise CLIError(f"--config: {str(path)!r} is not valid TOML: {exc}") from None
    data = {k.replace("-", "_"): v for k, v in data.items()}
    unknown = sorted(set(data) - set(DEFAULTS))
    if unknown:
        raise CLIError(f"--config: unknown keys {unknown}; allowed: {sorted(DEFAULTS)}")
    return data


def _write_toml(path: Path, settings: dict[str, Any]) -> None:
    import tomli_w

    clean = {k: v for k, v in settings.items() if v is not None}
    path.write_text(
        "# spinexplore run settings (rerun with: spinexplore run --config this-file)\n"
        + tomli_w.dumps(clean)
    )


def _parse_axes(specs: Sequence[str] | dict[str, Any]) -> dict[str, tuple]:
    """``["h=0:0.5", "K=-0.2:0.9:log"]`` (or a TOML table) -> ``{"h": (0, 0.5), ...}``."""
    if isinstance(specs, dict):
        out: dict[str, tuple] = {}
        for name, value in specs.items():
            if isinstance(value, str):
                out.update(_parse_axes([f"{name}={value}"]))
            elif isinstance(value, (list, tuple)) and len(value) in (2, 3):
                out[name] = tuple(value)
            else:
                raise CLIError(f"axes: entry {name!r} must be 'LOW:HIGH' or [low, high]; got {value!r}")
        return out
    out = {}
    for spec in specs:
        name, sep, rng = spec.partition("=")
        parts = rng.split(":")
        if not sep or len(parts) not in (2, 3) or not name:
            raise CLIError(f"--axes: {spec!r} must look like NAME=LOW:HIGH or NAME=LOW:HIGH:log (e.g. h=0:0.5)")
        try:
            low, high = float(parts[0]), float(parts[1])
        except ValueError:
            raise CLIError(f"--axes: bounds of {name!r} must be numbers; got {rng!r}") from None
        out[name] = (low, high) if len(parts) == 2 else (low, high, parts[2])
    return out


def _settings_from_args(args: argparse.Namespace) -> dict[str, Any]:
    settings = dict(DEFAULTS)
    if args.config:
        settings.update(_load_toml(Path(args.config)))
    for key in DEFAULTS:
        value = getattr(args, key, None)
        if value is not None:
            settings[key] = value
    return settings


def _default_axes(model: Any) -> dict[str, tuple[float, float]]:
    u = model.natural_unit
    return {"h": (0.0, round(1.2 * u, 6)), "K": (round(-0.5 * u, 6), round(2.0 * u, 6))}


def _build(settings: dict[str, Any]) -> tuple[Any, Any]:
    """Validate every setting and build (space, simulation) before any work starts."""
    from spinexplore._validation import check_int, check_n_jobs, check_real
    from spinexplore.physics.model import SpinModel
    from spinexplore.simulation import SpinSimulation
    from spinexplore.space import ParameterSpace

    for key in ("n_initial", "n_per_iteration", "checkpoint_interval"):
        settings[key] = check_int(key, settings[key], minimum=1)
    settings["n_iterations"] = check_int("n_iterations", settings["n_iterations"], minimum=0)
    settings["n_jobs"] = check_n_jobs(settings["n_jobs"])
    settings["seed"] = check_int("seed", settings["seed"], minimum=0)
    check_real("timeout", settings["timeout"], minimum=0.0, strict_min=True, allow_none=True)
    model = SpinModel.preset(settings["model"])
    axes = settings["axes"]
    axes = _default_axes(model) if axes is None else _parse_axes(axes)
    settings["axes"] = {k: list(v) for k, v in axes.items()}
    space = ParameterSpace(axes)
    simulation = SpinSimulation(model=settings["model"], lattice_size=settings["lattice_size"], mode=settings["mode"])
    simulation.check_parameters(space.names)
    return space, simulation


def _output_dir(value: Any, *, must_exist: bool = False) -> Path:
    out = Path(str(value))
    if out.exists() and not out.is_dir():
        raise CLIError(f"output directory {str(out)!r} exists and is a file; choose a directory path")
    if must_exist and not (out / STORE_NAME).is_file():
        raise CLIError(f"no {STORE_NAME} in {str(out)!r}; is it the --output-dir of a spinexplore run?")
    return out


# ---------------------------------------------------------------------------- commands
def _cmd_run(args: argparse.Namespace) -> int:
    from spinexplore.explorer import ActiveLearningExplorer
    from spinexplore.strategies import check_strategy

    settings = _settings_from_args(args)
    out = _output_dir(settings["output_dir"])
    check_strategy(settings["strategy"])
    space, simulation = _build(settings)
    if (out / STORE_NAME).exists() and not args.overwrite:
        raise CLIError(
            f"{str(out / STORE_NAME)!r} already exists; use 'spinexplore resume {out}' to continue it "
            "or --overwrite to start again"
        )
    out.mkdir(parents=True, exist_ok=True)
    settings["output_dir"] = str(out)
    _write_toml(out / CONFIG_NAME, settings)
    explorer = ActiveLearningExplorer(
        space, seed=settings["seed"], strategy=settings["strategy"],
        store=out / STORE_NAME, overwrite=args.overwrite,
    )
    print(f"Exploring {space!r} on {settings['model']} (L={settings['lattice_size']}, mode={settings['mode']})")
    return _drive(explorer, simulation, settings, out, progress=not args.no_progress)


def _drive(explorer: Any, simulation: Any, settings: dict[str, Any], out: Path, *, progress: bool) -> int:
    try:
        explorer.run(
            settings["n_iterations"], settings["n_per_iteration"], simulation,
            n_initial=settings["n_initial"], initial_method=settings.get("initial_method", "lhs"),
            n_jobs=settings["n_jobs"], checkpoint_interval=settings["checkpoint_interval"],
            timeout=settings["timeout"], backend=settings["backend"], progress=progress,
        )
    except KeyboardInterrupt:
        explorer.close()
        print(
            f"\nInterrupted. Every finished simulation is saved in {out / STORE_NAME}.\n"
            f"Resume with: spinexplore resume {out}",
            file=sys.stderr,
        )
        return 130
    explorer.close()
    print(explorer.summary())
    try:
        from spinexplore.plotting import save_phase_diagram

        save_phase_diagram(explorer, out / DIAGRAM_NAME)
        print(f"Phase diagram: {out / DIAGRAM_NAME}")
    except RuntimeError as exc:  # nothing finished with a physical phase: no diagram to draw
        print(f"No phase diagram drawn: {exc}", file=sys.stderr)
    print(f"Results: {out / STORE_NAME}")
    return 0


def _cmd_resume(args: argparse.Namespace) -> int:
    from spinexplore.explorer import ActiveLearningExplorer

    out = _output_dir(args.dir, must_exist=True)
    cfg_path = out / CONFIG_NAME
    settings = dict(DEFAULTS)
    if cfg_path.is_file():
        settings.update(_load_toml(cfg_path))
    if args.n_jobs is not None:
        settings["n_jobs"] = args.n_jobs
    if args.n_iterations is not None:
        settings["n_iterations"] = args.n_iterations
    space, simulation = _build(settings)
    explorer = ActiveLearningExplorer.load(out / STORE_NAME, space=space)
    c = explorer.counts()
    print(
        f"Resuming {out / STORE_NAME}: {c.get('DONE', 0)} done, "
        f"{c.get('PENDING', 0) + c.get('CANCELLED', 0)} pending, iteration {explorer.iteration}"
    )
    return _drive(explorer, simulation, settings, out, progress=not args.no_progress)


def _cmd_status(args: argparse.Namespace) -> int:
    from spinexplore.explorer import ActiveLearningExplorer

    out = _output_dir(args.dir, must_exist=True)
    explorer = ActiveLearningExplorer.load(out / STORE_NAME, read_only=True)
    try:
        c = explorer.counts()
        print(f"{out / STORE_NAME}: {explorer.n_points} points, iteration {explorer.iteration}")
        print("by status: " + ", ".join(f"{s}={c.get(s, 0)}" for s in ("DONE", "PENDING", "FAILED", "TIMEOUT", "CANCELLED")))
        from spinexplore.results import PhaseType

        phases = [(p.name, c[p.name]) for p in PhaseType if p.name in c]
        print("by phase:  " + (", ".join(f"{n}={k}" for n, k in phases) or "none yet"))
        if explorer.history:
            print("iteration  done  changed  mean uncertainty")
            for h in explorer.history:
                cf = h["changed_fraction"]
                print(
                    f"{h['iteration']:>9}  {h['n_done']:>4}  "
                    f"{'   n/a' if cf is None or math.isnan(cf) else f'{100 * cf:5.1f}%'}  "
                    f"{h['mean_uncertainty']:.3f}"
                )
    finally:
        explorer.store.close()
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from spinexplore import plotting
    from spinexplore.explorer import ActiveLearningExplorer

    out = _output_dir(args.dir, must_exist=True)
    dest = Path(args.out) if args.out else out
    dest.mkdir(parents=True, exist_ok=True)
    explorer = ActiveLearningExplorer.load(out / STORE_NAME, read_only=True)
    try:
        written = plotting.save_all(explorer, dest)
    finally:
        explorer.store.close()
    for path in written:
        print(path)
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from spinexplore._bench import run_parallel_benchmark

    run_parallel_benchmark(
        n_sims=args.n_sims, n_jobs=args.n_jobs, mode=args.mode,
        lattice_size=args.lattice_size, output=args.output,
    )
    return 0


_COMMANDS = {
    "run": _cmd_run, "resume": _cmd_resume, "status": _cmd_status, "plot": _cmd_plot, "bench": _cmd_bench,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``spinexplore`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from spinexplore import __version__

        print(f"spinexplore {__version__}")
        return 0
    if not args.command:
        parser.print_help()
        return 2
    try:
        return _COMMANDS[args.command](args)
    except (CLIError, ValueError, TypeError, FileExistsError, FileNotFoundError, PermissionError) as exc:
        if os.environ.get("SPINEXPLORE_DEBUG"):
            raise
        print(f"spinexplore {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
