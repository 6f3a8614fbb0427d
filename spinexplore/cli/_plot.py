"""``spinexplore plot`` and ``spinexplore show``: figures, boundaries and textures of a stored run."""

from __future__ import annotations

import argparse
import contextlib
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from spinexplore.cli._run import EXIT_OK
from spinexplore.cli._settings import STORE_NAME, CLIError, check_output_dir

__all__ = ["add_plot_parsers", "cmd_plot", "cmd_show"]

FORMATS = ("png", "pdf", "svg")


def add_plot_parsers(sub: Any, fmt: Any) -> None:
    """The ``plot`` and ``show`` subcommands."""
    plot = sub.add_parser(
        "plot", formatter_class=fmt, help="draw the phase diagram, uncertainty, convergence and boundaries",
        description="Figures of a stored exploration (the store is opened read-only; a running "
                    "exploration can be plotted). For N-D runs, --x/--y/--at pick the 2-D slice.")
    plot.add_argument("dir", help="output directory of the exploration")
    plot.add_argument("--out", default=None, help="directory for the figures [default: DIR]")
    plot.add_argument("--format", default="png", choices=FORMATS, help="file format; pdf and svg are vector [default: png]")
    plot.add_argument("--dpi", type=int, default=None, help="resolution of png files [default: 300 with --style, else 120]")
    plot.add_argument("--style", default=None, choices=("single", "double"),
                      help="journal figure: single (3.4 in) or double (7.0 in) column [default: single for pdf "
                           "and svg, screen size for png]")
    plot.add_argument("--font", default="sans", choices=("sans", "serif", "latex"),
                      help="typeface: sans, serif (no LaTeX needed) or latex (needs LaTeX) [default: sans]")
    plot.add_argument("--x", default=None, help="parameter on the horizontal axis [default: the first]")
    plot.add_argument("--y", default=None, help="parameter on the vertical axis [default: the second]")
    plot.add_argument("--at", nargs="+", default=None, metavar="NAME=VALUE",
                      help="where the slice cuts the other parameters, e.g. --at J3=0.1 [default: the middle of the box]")
    plot.add_argument("--slice-tol", type=float, default=0.1,
                      help="points within this fraction of each other axis' range count as in the slice [default: 0.1]")
    plot.add_argument("--textures", action="store_true",
                      help="also draw one spin texture per phase next to the diagram (reruns a point per phase "
                           "unless spins were saved)")

    show = sub.add_parser("show", formatter_class=fmt, help="draw the spin texture of one point",
                          description="The spin texture of point I: from the store when spins were saved, "
                                      "otherwise by rerunning that point (bit-identical, from its seed).")
    show.add_argument("dir", help="output directory of the exploration")
    show.add_argument("index", type=int, help="the point's index: `spinexplore status DIR --points` lists them "
                                              "(e.g. with --phase SKYRMION), as does the DataFrame")
    show.add_argument("--out", default=None, help="figure file [default: DIR/texture_I.png]")
    show.add_argument("--dpi", type=int, default=150, help="resolution of a png file [default: 150]")
    show.add_argument("--style", default=None, choices=("single", "double"),
                      help="journal figure: double (7.0 in wide, the three panels in a row) or single "
                           "(3.4 in wide, the panels stacked) [default: screen size, 15 x 5 in]")
    show.add_argument("--font", default="sans", choices=("sans", "serif", "latex"),
                      help="typeface [default: sans]")


def _parse_at(specs: Sequence[str] | None, names: Sequence[str]) -> dict[str, float] | None:
    if not specs:
        return None
    at: dict[str, float] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        if not sep or not name:
            raise CLIError(f"--at: {spec!r} must look like NAME=VALUE (e.g. J3=0.1)")
        if name not in names:
            raise CLIError(f"--at: {name!r} is not a parameter of this run; parameters: {list(names)}")
        if name in at:
            raise CLIError(f"--at: {name!r} is given twice")
        try:
            at[name] = float(value)
        except ValueError:
            raise CLIError(f"--at: the value of {name!r} must be a number; got {value!r}") from None
        if not math.isfinite(at[name]):
            raise CLIError(f"--at: the value of {name!r} must be finite; got {value!r}")
    return at


@contextlib.contextmanager
def _loaded(directory: str) -> Iterator[tuple[Path, Any]]:
    from spinexplore.explorer import ActiveLearningExplorer

    out = check_output_dir(directory, must_exist=True)
    explorer = ActiveLearningExplorer.load(out / STORE_NAME, read_only=True, verbose=False)
    try:
        yield out, explorer
    finally:
        explorer.store.close()


def _check_something_to_plot(explorer: Any, out: Path) -> None:
    """A figure needs a point with a phase; the advice depends on why there is none."""
    from spinexplore.results import PointStatus

    if any(r.result is not None and r.result.phase.is_physical for r in explorer.records):
        return
    counts = explorer.counts()
    unfinished = counts.get("PENDING", 0) + counts.get("CANCELLED", 0)
    what = ", ".join(f"{k}={v}" for k, v in counts.items() if v) or "no points"
    if unfinished:
        advice = f"run it further with: spinexplore resume {out}"
    elif counts.get(PointStatus.TIMEOUT.name, 0) or counts.get(PointStatus.FAILED.name, 0):
        advice = ("every point ended without a phase, and resume does not rerun finished points: look at the "
                  "errors (`spinexplore status`), then start a new run with a longer --timeout or "
                  "smaller --lattice-size / faster --mode")
    else:
        advice = f"run it further with: spinexplore resume {out}"
    raise CLIError(f"nothing to plot: no point of {out / STORE_NAME} has a phase ({what}); {advice}")


def cmd_plot(args: argparse.Namespace) -> int:
    from spinexplore import analysis, plotting
    from spinexplore.analysis._grid import resolve_slice

    if args.dpi is not None and not 10 <= args.dpi <= 2400:
        raise CLIError(f"--dpi must be between 10 and 2400; got {args.dpi}")
    if not (0 < args.slice_tol <= 1):
        raise CLIError(f"--slice-tol must be in (0, 1]; got {args.slice_tol}")
    if args.style is None and args.format in ("pdf", "svg"):  # a vector file is for a paper: one column
        args.style = "single"
    with _loaded(args.dir) as (out, explorer):
        names = explorer.space.names
        for flag, name in (("--x", args.x), ("--y", args.y)):
            if name is not None and name not in names:
                raise CLIError(f"{flag}: {name!r} is not a parameter of this run; parameters: {names}")
        if args.x is not None and args.x == args.y:
            raise CLIError(f"--x and --y must be two different parameters; got {args.x!r} twice "
                           f"(parameters: {names})")
        x = args.x
        if x is None and args.y is not None:  # --y alone: the first other parameter across
            x = next((n for n in names if n != args.y), None)
            if x is None:
                raise CLIError(f"--y {args.y!r}: this run has one parameter only; leave --y out")
        at = _parse_at(args.at, names)
        try:  # the slice as the figures will cut it: --at on a plotted axis, outside the box...
            resolve_slice(explorer, x=x, y=args.y, at=at, tol=args.slice_tol)
        except ValueError as exc:
            raise CLIError(f"--x/--y/--at: {exc}") from None
        dest = check_output_dir(args.out) if args.out is not None else out
        _check_something_to_plot(explorer, out)
        dest.mkdir(parents=True, exist_ok=True)
        where = {"x": x, "y": args.y, "at": at, "slice_tol": args.slice_tol}
        if len(names) > 2:
            print(analysis.slice_points(explorer, **where).describe())
        else:
            where = {k: v for k, v in where.items() if k in ("x", "y")}
        written = [str(p) for p in plotting.save_all(explorer, dest, dpi=args.dpi or (300 if args.style else 120),
                                                     format=args.format, style=args.style, font=args.font,
                                                     **where)]
        if len(names) >= 2:
            bounds = analysis.phase_boundaries(explorer, **{k: v for k, v in where.items() if k != "slice_tol"})
            if bounds:
                written.append(analysis.save_boundaries(bounds, dest / "boundaries.csv"))
        if args.textures:
            written.append(plotting.save_phase_gallery(explorer, dest / f"gallery.{args.format}", dpi=args.dpi,
                                                       style=args.style, **where))
    for path in written:
        print(path)
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from spinexplore.results import PointStatus

    with _loaded(args.dir) as (out, explorer):
        if not 0 <= args.index < explorer.n_points:
            raise CLIError(f"index must be a point of this run, 0 to {explorer.n_points - 1}; got {args.index}")
        if args.dpi is not None and not 10 <= args.dpi <= 2400:
            raise CLIError(f"--dpi must be between 10 and 2400; got {args.dpi}")
        record = explorer.records[args.index]
        if record.status != PointStatus.DONE or record.result is None or not record.result.phase.is_physical:
            done = [r.index for r in explorer.records if r.status == PointStatus.DONE
                    and r.result is not None and r.result.phase.is_physical]
            some = (f"points with a texture: {', '.join(map(str, done[:10]))}{', ...' if len(done) > 10 else ''}"
                    if done else "no point of this run has one yet")
            raise CLIError(f"point {args.index} has status {record.status.name}"
                           + (f" ({record.result.phase.name})" if record.status == PointStatus.DONE
                              and record.result is not None else "")
                           + f"; only a finished point with a phase has a spin texture; {some}")
        try:
            tex = explorer.texture(args.index)
        except ValueError as exc:  # a user's own simulation that kept no spins, spins of another lattice
            raise CLIError(f"point {args.index}: {exc}. The spinexplore command reruns only the built-in "
                           "SpinSimulation; draw it in Python: explorer.texture(index, simulation=..., "
                           "lattice=...)") from None
        print(tex)
        path = Path(args.out) if args.out else out / f"texture_{args.index}.png"
        if path.suffix.lower().lstrip(".") not in FORMATS:
            raise CLIError(f"--out must end in one of {['.' + f for f in FORMATS]}; got {str(path)!r}")
        import matplotlib as mpl
        from matplotlib.figure import Figure

        from spinexplore.plotting._common import style_rc

        size = {None: (15.0, 5.0), "double": (7.0, 2.9), "single": (3.4, 8.4)}[args.style]
        with mpl.rc_context(style_rc(args.style, args.font)):
            fig = Figure(figsize=size, layout="constrained")
            axes = fig.subplots(3, 1) if args.style == "single" else fig.subplots(1, 3)
            tex.plot(axes=axes)
            fig.savefig(path, dpi=args.dpi)
    print(path)
    return EXIT_OK
