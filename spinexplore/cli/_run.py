"""``spinexplore run``: check everything, then take the lock (create the store), then write.

Also the run loop shared with ``resume`` (:func:`drive`): on every way out (Ctrl+C or SIGTERM,
a store or file-system error, a bug) the store's lock is released; a signal gives the resume
command and exit code ``128 + signal``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from spinexplore.cli._settings import (
    CONFIG_NAME,
    DEFAULTS,
    PATH_ERRNOS,
    STORE_NAME,
    CLIError,
    build,
    check_output_dir,
    check_settings,
    collect,
    run_settings,
    stored_settings,
    write_toml,
)

__all__ = ["RunError", "check_targets", "cmd_run", "drive", "os_message", "release", "signal_name"]

DIAGRAM_NAME = "phase_diagram.png"
EXIT_OK, EXIT_BUG, EXIT_INPUT, EXIT_STORE, EXIT_FILESYSTEM = 0, 1, 2, 3, 4
EXIT_CODES = {EXIT_OK: "done", EXIT_BUG: "a bug in spinexplore (please report it)",
              EXIT_INPUT: "bad input", EXIT_STORE: "the store cannot be used (damaged, foreign, locked)",
              EXIT_FILESYSTEM: "the file system refused a read or write",
              130: "stopped by Ctrl+C", 143: "stopped by SIGTERM"}


class RunError(CLIError):
    """A run that stopped on a store or file-system error: one line, its own exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def cmd_run(args: argparse.Namespace) -> int:
    """``spinexplore run``: check every setting, then create the store (the lock), then write.

    Returns the exit code; bad input raises :class:`CLIError` before anything is touched.
    """
    explicit, sources = collect(args, keys=list(DEFAULTS), config=args.config)
    settings = check_settings({**DEFAULTS, **explicit}, sources)  # each value by its row, once
    run = run_settings(settings, progress=not args.no_progress)  # what the explorer runs with
    out = check_output_dir(settings["output_dir"])
    space, simulation = build(settings, sources)
    store = out / STORE_NAME
    check_targets(out, overwrite=args.overwrite)
    from spinexplore.explorer import ActiveLearningExplorer  # after the checks: bad input answers at once

    # every check passed: now create the directory, take the lock (the store), then write
    out.mkdir(parents=True, exist_ok=True)
    explorer = None
    try:
        explorer = ActiveLearningExplorer(
            space, seed=settings["seed"], strategy=settings["strategy"], store=store,
            overwrite=args.overwrite, settings=stored_settings(settings), phases=settings.get("phases"),
            unknown_as_phase=settings.get("unknown_as_phase", False),
        )
        write_toml(out / CONFIG_NAME, {**settings, "output_dir": str(out)})
    except KeyboardInterrupt as exc:  # Ctrl+C or SIGTERM before the first simulation
        if explorer is not None:
            release(explorer)
        code = int(getattr(exc, "exit_code", 130))
        where = (f"{store} holds the new run with nothing computed yet; start it with: spinexplore resume {out}"
                 if explorer is not None else "no simulation had started")
        print(f"\nInterrupted by {signal_name(code)} before the run started; {where}", file=sys.stderr)
        return code
    except BaseException as exc:
        if explorer is not None:
            release(explorer)
        from spinexplore.store.base import StoreError, StoreLockedError

        if isinstance(exc, StoreError) and not isinstance(exc, StoreLockedError):
            raise RunError(os_message(exc), EXIT_FILESYSTEM) from None  # a new file that could not be written
        raise
    if settings.get("solver") is not None:
        print(f"Exploring {space!r} with the command {settings['solver']!r}")
    else:
        print(f"Exploring {space!r} on {settings['model']} (L={settings['lattice_size']}, mode={settings['mode']})")
    return drive(explorer, simulation, run, out)


def check_targets(out: Path, *, overwrite: bool) -> None:
    """The files a run writes in ``out`` must be writable as files: checked before anything is
    replaced (``--overwrite`` keeps the old run intact when one of them is in the way)."""
    store = out / STORE_NAME
    if store.is_dir():
        raise CLIError(f"{str(store)!r} is a directory, not an exploration store; remove it or choose another "
                       "--output-dir")
    if store.is_symlink() and not store.exists():
        target = Path(os.path.join(out, os.readlink(store)))
        if not target.parent.is_dir():
            raise CLIError(f"{str(store)!r} is a symbolic link to {str(target)!r}, whose directory does not exist; "
                           "remove the link or choose another --output-dir")
    if store.exists() and not overwrite:
        raise CLIError(
            f"{str(store)!r} already exists; use 'spinexplore resume {out}' to continue it "
            "or --overwrite to start again"
        )
    for name, what in ((CONFIG_NAME, "its settings"), (DIAGRAM_NAME, "the phase diagram")):
        path = out / name
        if path.is_dir():
            raise CLIError(f"{str(path)!r} is a directory, but a run writes {what} there; remove it or choose "
                           "another --output-dir")


def signal_name(code: int) -> str:
    return "SIGTERM" if code == 143 else "Ctrl+C" if code == 130 else f"signal {code - 128}"


def drive(explorer: Any, simulation: Any, settings: Any, out: Path) -> int:
    """Run the exploration with ``settings`` (a :class:`~spinexplore.settings.RunSettings` built
    by :func:`~spinexplore.cli._settings.run_settings`, not checked again) and report; on any way
    out release the store's lock.

    Ctrl+C or SIGTERM (``spinexplore.errors.Interrupted``) prints where the results are and
    the resume command and returns ``128 + signal``; a store or file-system error while
    checkpointing becomes a :class:`RunError` (exit 4) with the resume command; anything else
    propagates (a bug).
    """
    from spinexplore.store.base import StoreError

    try:
        explorer._run_checked(simulation, settings)  # the values were checked at the command line's edge
    except KeyboardInterrupt as exc:  # spinexplore.errors.Interrupted carries the signal
        release(explorer)
        code = int(getattr(exc, "exit_code", 130))
        print(
            f"\nInterrupted by {signal_name(code)}. Every finished simulation is saved in {out / STORE_NAME}.\n"
            f"Resume with: spinexplore resume {out}",
            file=sys.stderr,
        )
        return code
    except OSError as exc:  # a checkpoint could not be written: disk full, read-only, I/O error
        release(explorer)
        if isinstance(exc, StoreError) or exc.errno in PATH_ERRNOS:
            raise RunError(f"{os_message(exc).rstrip('.')}. The last checkpoint in {out / STORE_NAME} is "
                           f"intact; fix this, then continue with: spinexplore resume {out}",
                           EXIT_FILESYSTEM) from exc
        raise
    except BaseException:
        release(explorer)
        raise
    # the run is complete: whatever happens from here on, say so
    try:
        explorer.close()
        print(explorer.summary())
        from spinexplore.plotting import save_phase_diagram

        try:
            save_phase_diagram(explorer, out / DIAGRAM_NAME)
            print(f"Phase diagram: {out / DIAGRAM_NAME}")
        except RuntimeError as exc:  # nothing finished with a physical phase: no diagram to draw
            print(f"No phase diagram drawn: {exc}", file=sys.stderr)
    except KeyboardInterrupt as exc:
        release(explorer)
        code = int(getattr(exc, "exit_code", 130))
        print(f"\nInterrupted by {signal_name(code)} after the run was complete: every result is saved in "
              f"{out / STORE_NAME}; draw the figures with: spinexplore plot {out}", file=sys.stderr)
        return code
    except OSError as exc:
        release(explorer)
        raise RunError(f"{os_message(exc).rstrip('.')}. The run is complete and every result is saved in "
                       f"{out / STORE_NAME}; draw the figures elsewhere with: spinexplore plot {out} --out DIR",
                       EXIT_FILESYSTEM) from None
    print(f"Results: {out / STORE_NAME}")
    stats = explorer.run_stats or {}
    n_done = int(stats.get("n_timeout", 0) or 0) + int(stats.get("n_failed", 0) or 0)
    if n_done and not stats.get("n_ok"):  # a batch job must not read "exit 0" as a diagram made
        print(f"No simulation of this run succeeded ({stats.get('n_timeout', 0)} TIMEOUT, {stats.get('n_failed', 0)} "
              f"FAILED; see the warning above). Every point is saved; fix the cause, then: spinexplore resume {out}"
              + (" --timeout SECONDS (larger)" if stats.get("n_timeout") else ""), file=sys.stderr)
        return EXIT_INPUT
    return EXIT_OK


def release(explorer: Any) -> None:
    """Checkpoint what can be and release the store's lock, whatever happens on the way."""
    try:
        explorer.close()
    except BaseException:  # noqa: BLE001 - a full disk, a second Ctrl+C: still drop the lock
        close = getattr(explorer.store, "close", None)
        if callable(close):
            try:
                close()
            except Exception:  # noqa: BLE001
                pass


def os_message(exc: OSError) -> str:
    """One line for an OSError: what failed on which file."""
    text = str(exc)
    if exc.strerror and exc.filename is not None and type(exc).__module__ == "builtins":
        text = f"{exc.strerror}: {str(exc.filename)!r}"
    return " ".join(text.split())
