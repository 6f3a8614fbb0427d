"""``spinexplore resume``: continue a run from what its store recorded.

The store is the single source of truth: the simulation is rebuilt from the recorded settings
(or, for a store made with the Python API, from the simulation's own description), never from
``config.toml``. An explicit setting that differs from the record is refused with both values,
unless the table of :mod:`spinexplore.settings` lets resume change it (:data:`~spinexplore.settings.SAFE_ON_RESUME`).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from spinexplore.cli._run import EXIT_STORE, RunError, drive, release
from spinexplore.cli._settings import (
    CONFIG_NAME,
    DEFAULTS,
    SAFE_ON_RESUME,
    STORE_NAME,
    CLIError,
    check_budget,
    check_execution,
    check_output_dir,
    collect,
    run_settings,
    stored_settings,
    write_toml,
)
from spinexplore._validation import InputError
from spinexplore.settings import TABLE, RunSettings, check

__all__ = ["cmd_resume", "merge_resume", "parse_override"]

SETTING_FLAGS = [k for k in DEFAULTS if k != "output_dir"]


def parse_override(text: str) -> tuple[str, Any]:
    """``"n_jobs=4"`` -> ``("n_jobs", 4)``; the value is read as TOML, else as a plain string;
    ``none`` or an empty value means None (the default)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    key, sep, raw = text.partition("=")
    key = key.strip().replace("-", "_")
    if not sep or not key:
        raise CLIError(f"--override {text!r} must look like KEY=VALUE, e.g. n_jobs=4")
    if key not in DEFAULTS:
        raise CLIError(f"--override: unknown setting {key!r}; resume may change {list(SAFE_ON_RESUME)}")
    if key not in SAFE_ON_RESUME:
        raise CLIError(f"--override: {key} cannot change on resume (the finished points were computed with "
                       f"the recorded value); resume may change {list(SAFE_ON_RESUME)}")
    raw = raw.strip()
    if raw.lower() in ("", "none", "null"):
        return key, None
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def same_value(a: Any, b: Any) -> bool:
    """Equality of two checked settings (floats compared to 12 digits)."""
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-15)
        except (TypeError, ValueError):
            return False
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    return a == b


def merge_resume(recorded: Mapping[str, Any], explicit: Mapping[str, Any], sources: Mapping[str, str],
                 store: str) -> tuple[dict[str, Any], list[str]]:
    """The recorded settings with the explicit ones of a resume; returns (settings, changes).

    An explicit value of a setting outside :data:`SAFE_ON_RESUME` must equal the recorded one:
    a different one is refused with a message that names both.
    """
    settings = dict(recorded)
    changes = []
    for key, value in explicit.items():
        where = sources.get(key, key)
        try:
            value = check(key, value)
        except (InputError, CLIError) as exc:
            raise CLIError(f"{where}: {exc}") from None
        old = recorded.get(key)
        if key in SAFE_ON_RESUME:
            if not same_value(old, value):
                changes.append(f"{key} {old!r} -> {value!r}")
            settings[key] = value
            continue
        if key not in recorded:
            raise CLIError(f"{where}: {key} is not recorded in {store} (made with the Python API or an "
                           f"older spinexplore), so it cannot be checked; leave it out to resume")
        if not same_value(old, value):
            raise CLIError(
                f"{where} sets {key} = {value!r}, but this run was made with {key} = {old!r} (recorded in "
                f"{store}); resume continues a run with its own settings. Start a new run to change it; "
                f"resume may change {list(SAFE_ON_RESUME)}"
            )
    return settings, changes


def read_record(explorer: Any, store: Path) -> tuple[dict[str, Any], Any]:
    """The run's settings and its simulation, from the store alone."""
    from spinexplore.simulation import SpinSimulation

    record = dict(getattr(explorer, "settings", None) or {})
    desc = explorer.simulation_description
    space = explorer.space
    axes = {d.name: [d.low, d.high, "log"] if d.log else [d.low, d.high] for d in space.dimensions}
    if isinstance(desc, dict) and desc.get("simulation") == "ExternalSimulation" and record.get("solver"):
        from spinexplore.cli._settings import external_simulation

        try:
            simulation = external_simulation(record["solver"], desc)
        except InputError as exc:
            raise RunError(f"{store}: the recorded command cannot be run: {exc}", EXIT_STORE) from None
        return {**record, "axes": axes}, simulation
    if isinstance(desc, dict) and desc.get("simulation") in ("SpinSimulation", "Ladder"):
        from spinexplore.fidelity import Ladder

        try:
            rebuild = Ladder if desc["simulation"] == "Ladder" else SpinSimulation
            simulation = rebuild.from_description(desc)
        except InputError as exc:
            raise RunError(f"{store}: the recorded simulation cannot be rebuilt: {exc}", EXIT_STORE) from None
    elif record and desc is None:
        simulation = SpinSimulation(model=record.get("model", "triangular-chiral"),
                                    lattice_size=record.get("lattice_size", 24), mode=record.get("mode", "fast"))
    elif desc is None:
        raise CLIError(f"{store} records no simulation (nothing has run yet) and no run settings; "
                       "start it again with spinexplore run --overwrite, or continue it in Python")
    else:
        kind = desc.get("simulation") if isinstance(desc, dict) else desc
        raise CLIError(f"{store} was made with the simulation {kind!r} through the Python API; the "
                       "spinexplore command continues only runs of the built-in SpinSimulation. Continue it "
                       "in Python: ActiveLearningExplorer.load(path).run(n_iterations, n_per_iteration, "
                       "simulation=...)")
    # A store made with the Python API or an older spinexplore records no (or, after the
    # resume bug of issue 24, only part of the) settings: the rest comes from the run itself.
    per_round = [sum(r.iteration == i for r in explorer.records) for i in range(1, explorer.iteration + 1)]
    n_initial = sum(r.iteration == 0 for r in explorer.records)
    derived = {
        "n_initial": n_initial or DEFAULTS["n_initial"],
        "n_iterations": explorer.iteration,
        # the last round's size; without rounds, the API's default n_initial = 2 x n_per_iteration
        "n_per_iteration": next((n for n in reversed(per_round) if n), None) or max(1, n_initial // 2),
        **{k: DEFAULTS[k] for k in SAFE_ON_RESUME if k not in ("n_iterations", "n_per_iteration")},
    }
    if isinstance(explorer.strategy, str):
        derived["strategy"] = explorer.strategy
    if explorer.seed is not None:
        derived["seed"] = explorer.seed
    record = {**derived, **record}
    record.update(model=simulation.model_name, lattice_size=simulation.lattice_size, mode=simulation.mode,
                  axes=axes)
    return record, simulation


def cmd_resume(args: argparse.Namespace) -> int:
    """``spinexplore resume DIR``: read the record (no lock), check every explicit setting
    against it, then take the lock, then write (``config.toml`` export) and run."""
    from spinexplore.explorer import ActiveLearningExplorer

    out = check_output_dir(args.dir, must_exist=True)
    store = out / STORE_NAME
    explicit, sources = collect(args, keys=SETTING_FLAGS, config=args.config)
    given_dir = explicit.pop("output_dir", None)  # a run's exported config.toml names its own dir
    if given_dir is not None and Path(str(given_dir)).expanduser().resolve() != out.resolve():
        raise CLIError(f"{sources['output_dir']}: output_dir = {given_dir!r}, but this run lives in {str(out)!r}; "
                       "resume continues a run where it is")
    for text in args.override or []:
        key, value = parse_override(text)
        if key in explicit and not same_value(explicit[key], value):
            raise CLIError(f"--override {text!r} contradicts {sources[key]} = {explicit[key]!r}; give {key} once")
        explicit[key], sources[key] = value, f"--override {text!r}"
    # read the record without the lock and check everything; then lock; then write
    reader = ActiveLearningExplorer.load(store, read_only=True, verbose=False)
    try:
        recorded, simulation = read_record(reader, store)
        space = reader.space
    finally:
        reader.store.close()
    settings, changes = merge_resume(recorded, explicit, sources, str(store))
    settings = {**DEFAULTS, **settings, "output_dir": str(out)}
    for key in [k for k in RunSettings.keys() if k not in explicit]:  # the recorded ones: checked now
        try:
            settings[key] = TABLE[key].check(settings[key])
        except InputError as exc:
            raise CLIError(f"{sources.get(key, f'{key} (recorded in {store})')}: {exc}") from None
    check_budget(settings)
    check_execution(settings, sources, simulation, space)
    run = run_settings(settings, progress=not args.no_progress)  # each value checked once, above
    explorer = ActiveLearningExplorer.load(store)
    try:
        if isinstance(getattr(explorer, "settings", None), dict):
            # the whole record, every setting: resume changed only the keys it may change
            explorer.settings.clear()
            explorer.settings.update(stored_settings(settings))
        write_toml(out / CONFIG_NAME, {**settings, "output_dir": str(out)})
    except BaseException:
        release(explorer)
        raise
    c = explorer.counts(by="status")
    what = (f"the command {settings['solver']!r}" if settings.get("solver") is not None else
            f"{settings['model']} (L={simulation.lattice_size}, mode={simulation.mode})")
    print(
        f"Resuming {store}: {c.get('DONE', 0)} done, {c.get('PENDING', 0) + c.get('CANCELLED', 0)} pending, "
        f"iteration {explorer.iteration}; {what} as recorded" + (f"; changed: {', '.join(changes)}" if changes else "")
    )
    return drive(explorer, simulation, run, out)


