"""The command line's run settings: the TOML config, the checks, the space and the simulation.

Every setting is declared once, in the table of :mod:`spinexplore.settings` (default, allowed
values, whether resume may change it, help); here each one is checked with it before anything
is written: a message names where the value came from (a flag, a key of a config file, an
``--override``), the value and what is allowed.
The store records the settings of a run (:func:`stored_settings`); ``resume`` rebuilds the run
from that record, never from ``config.toml`` (an export for people), and refuses an explicit
setting that differs from it unless the setting is in :data:`SAFE_ON_RESUME`.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from spinexplore._validation import InputError, check_n_points
from spinexplore.settings import (  # noqa: F401 - the table's names, as the CLI has always exported them
    DEFAULTS,
    MAX_SECONDS,
    MAX_SEED,
    SAFE_ON_RESUME,
    SCHEDULES,
    TABLE,
    parse_axes,
)
from spinexplore.settings import check as _check_one
from spinexplore.store.hdf5 import DEFAULT_FILENAME as STORE_NAME

__all__ = ["CLIError", "DEFAULTS", "SAFE_ON_RESUME", "load_toml", "write_toml", "parse_axes",
           "check_settings", "run_settings", "check_budget", "build", "check_execution", "check_output_dir",
           "collect", "stored_settings"]

CONFIG_NAME = "config.toml"

#: Errors of a path the user chose that a different path (or free space) fixes.
PATH_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO,
               errno.ENAMETOOLONG, errno.ENOTDIR, errno.EISDIR, errno.ENOENT, errno.EEXIST,
               errno.ELOOP, errno.EXDEV, errno.EMLINK, errno.EFBIG}


class CLIError(Exception):
    """Bad command-line input: printed as one line, exit code 2."""

    exit_code = 2


# ---------------------------------------------------------------------------- config file
def load_toml(path: Path) -> dict[str, Any]:
    """Read a TOML config file; every problem is a :class:`CLIError` naming the file."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    where = f"--config {str(path)!r}"
    if path.is_dir():
        raise CLIError(f"{where} is a directory; give the TOML file itself (e.g. {str(path / CONFIG_NAME)!r})")
    if not path.exists():
        raise CLIError(f"{where}: file does not exist")
    if not path.is_file():
        raise CLIError(f"{where} is not a regular file; give a TOML file")
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise CLIError(f"{where} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
                       f"{exc.start}); save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise CLIError(f"{where} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise CLIError(f"{where} cannot be read: {exc.strerror or exc}") from None
    out = {}
    for key, value in data.items():
        norm = key.replace("-", "_")
        if norm in out:
            raise CLIError(f"{where}: key {key!r} is given twice (as {norm!r} and {key!r})")
        out[norm] = value
    unknown = sorted(set(out) - set(DEFAULTS))
    if unknown:
        raise CLIError(f"{where}: unknown keys {unknown}; allowed: {sorted(DEFAULTS)}")
    return out


def write_toml(path: Path, settings: Mapping[str, Any]) -> None:
    """Export the settings for people (atomically: a full disk leaves the old file whole)."""
    import tomli_w

    clean = {k: v for k, v in settings.items() if v is not None and k in DEFAULTS}
    text = ("# spinexplore run settings, exported for people; `spinexplore resume` reads the store,\n"
            "# never this file. Rerun with: spinexplore run --config this-file --output-dir NEW\n"
            + tomli_w.dumps(clean))
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------- values
def check_settings(settings: dict[str, Any], sources: Mapping[str, str]) -> dict[str, Any]:
    """Check every setting and the point budget; messages name the value's source."""
    out = dict(settings)
    for key, setting in TABLE.items():
        try:
            out[key] = setting.check(settings.get(key))
        except (InputError, CLIError) as exc:
            raise CLIError(f"{sources.get(key, key)}: {exc}") from None
    check_budget(out)
    return out


def run_settings(settings: Mapping[str, Any], *, progress: bool) -> Any:
    """The :class:`~spinexplore.settings.RunSettings` that the explorer runs with, built once from
    ``settings`` whose every value its row of the table has already checked (:func:`check_settings`,
    or resume's checks): not checked again on the way. The strategy is the explorer's own (given
    when it is made); a relation between settings (``converge_window`` needs ``converge``) is
    checked here, before any work."""
    from spinexplore.settings import RunSettings

    try:
        return RunSettings.from_checked({k: v for k, v in settings.items() if k != "strategy"}, progress=progress)
    except InputError as exc:
        raise CLIError(str(exc)) from None


def check_budget(settings: Mapping[str, Any]) -> None:
    """The point budget ``n_initial + n_iterations * n_per_iteration`` against the limits."""
    what = (f"n_initial + n_iterations x n_per_iteration = {settings['n_initial']} + "
            f"{settings['n_iterations']} x {settings['n_per_iteration']}")
    try:
        check_n_points(settings["n_initial"] + settings["n_iterations"] * settings["n_per_iteration"], what=what)
    except InputError as exc:
        raise CLIError(str(exc)) from None


def make_simulation(model: str, lattice_size: int, mode: str) -> Any:
    """The built-in solver for ``--mode``: a ``SpinSimulation``, or a fidelity ``Ladder`` for a
    comma list (``screening,accurate``; ``accurate@48`` sets one rung's lattice size)."""
    from spinexplore.fidelity import Ladder, is_ladder_spec, parse_ladder_spec
    from spinexplore.simulation import SpinSimulation

    if not is_ladder_spec(mode):
        return SpinSimulation(model=model, lattice_size=lattice_size, mode=mode)
    rungs = parse_ladder_spec(mode)
    if len(rungs) == 1:  # "accurate@48": one simulation at that lattice size
        return SpinSimulation(model=model, lattice_size=rungs[0][1] or lattice_size, mode=rungs[0][0])
    return Ladder.from_modes(mode, model=model, lattice_size=lattice_size)


def _default_axes(model: Any) -> dict[str, list[float]]:
    u = model.natural_unit
    return {"h": [0.0, round(1.2 * u, 6)], "K": [round(-0.5 * u, 6), round(2.0 * u, 6)]}


def build(settings: dict[str, Any], sources: Mapping[str, str]) -> tuple[Any, Any]:
    """Build (and so check) the space and the simulation of checked ``settings`` (a new run).

    Fills ``settings["axes"]`` with the default box when it is None.
    """
    from spinexplore.physics.model import SpinModel
    from spinexplore.simulation import SpinSimulation
    from spinexplore.space import ParameterSpace

    if settings.get("solver") is not None:
        return _build_external(settings, sources)
    try:
        simulation = make_simulation(settings["model"], settings["lattice_size"], settings["mode"])
        if settings["axes"] is None:
            settings["axes"] = _default_axes(SpinModel.preset(settings["model"]))
        space = ParameterSpace({k: tuple(v) for k, v in settings["axes"].items()})
    except InputError as exc:
        raise CLIError(f"{sources.get('axes', 'axes')}: {exc}" if "dimension" in str(exc) else str(exc)) from None
    check_execution(settings, sources, simulation, space)
    return space, simulation


def _build_external(settings: dict[str, Any], sources: Mapping[str, str]) -> tuple[Any, Any]:
    """The space and the :class:`~spinexplore.ExternalSimulation` of a run with ``solver`` (a command)."""
    from spinexplore.simulation._external import ExternalSimulation
    from spinexplore.space import ParameterSpace

    if settings["axes"] is None:
        raise CLIError(f"{sources.get('solver', 'solver')}: a run of an external command needs its axes "
                       "(--axes NAME=LOW:HIGH ... or an [axes] table): there is no built-in model to take "
                       "them from")
    try:
        space = ParameterSpace({k: tuple(v) for k, v in settings["axes"].items()})
        simulation = external_simulation(settings["solver"])
    except InputError as exc:
        raise CLIError(f"{sources.get('solver', 'solver')}: {exc}") from None
    check_execution(settings, sources, simulation, space)
    return space, simulation


def external_simulation(command: Any, described: Mapping[str, Any] | None = None) -> Any:
    """An :class:`~spinexplore.ExternalSimulation` of ``command`` (the solver prints or writes
    its JSON result; ``described``: the store's description, for resume)."""
    from spinexplore.simulation._external import ExternalSimulation

    from spinexplore.labels import Vocabulary

    d = dict(described or {})
    phases = None if d.get("phases") is None else Vocabulary.from_json(d["phases"])
    return ExternalSimulation(command, pass_params=d.get("pass_params", "json"),
                              result_file=d.get("result_file", "result.json"), timeout=d.get("timeout"),
                              phases=phases)


def check_execution(settings: Mapping[str, Any], sources: Mapping[str, str], simulation: Any, space: Any) -> None:
    """What running needs, before any work: the parameter ranges, the backend, the memory."""
    try:
        if hasattr(simulation, "check_space"):
            simulation.check_space(space)
    except InputError as exc:
        raise CLIError(str(exc)) from None
    _check_backend(settings, sources)
    _check_memory(settings, simulation)


def _check_backend(settings: Mapping[str, Any], sources: Mapping[str, str]) -> None:
    """The backend's optional dependency (from the registry) and, for MPI, the launcher: before any work."""
    from spinexplore.execution import BACKENDS

    backend = settings["backend"]
    where = sources.get("backend", "backend")
    try:
        if backend is not None:  # None: sequential or process, never missing
            BACKENDS.check_available(backend)
    except ImportError as exc:
        raise CLIError(f"{where}: {exc}") from None
    if backend == "mpi":
        from spinexplore.execution._mpi import check_mpi_launch

        try:
            check_mpi_launch()
        except (ImportError, InputError) as exc:
            raise CLIError(f"{where}: {exc}") from None


def _check_memory(settings: Mapping[str, Any], simulation: Any) -> None:
    """Local workers times one simulation's peak memory must fit in the free memory."""
    from spinexplore._validation import available_memory
    from spinexplore.execution.base import workers_for

    if settings["backend"] in ("dask", "mpi") or not hasattr(simulation, "memory_estimate"):
        return  # the workers run elsewhere
    workers = workers_for(settings["n_jobs"])  # checked with the table
    need = workers * simulation.memory_estimate
    free = available_memory()
    if free is not None and need > free:
        raise CLIError(
            f"{workers} workers at lattice_size={simulation.lattice_size} need about {need / 1e9:.1f} GB "
            f"but only {free / 1e9:.1f} GB of memory is available; use fewer workers (--n-jobs) or a "
            "smaller lattice"
        )


def stored_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """What the store records of a run (everything but where it lives)."""
    out = {k: settings[k] for k in DEFAULTS if k != "output_dir"}
    out["surrogate"] = settings.get("surrogate")
    return out


# ---------------------------------------------------------------------------- output path
def check_output_dir(value: str, *, must_exist: bool = False) -> Path:
    """Check an output directory before anything is written (a new run) or read (the others)."""
    if not isinstance(value, str) or not value.strip():
        raise CLIError(f"the output directory must be a non-empty path; got {value!r}")
    out = Path(value).expanduser()
    if must_exist:
        if not out.is_dir():
            raise CLIError(f"{str(out)!r} is not a directory; give the --output-dir of a spinexplore run")
        if not (out / STORE_NAME).is_file():
            raise CLIError(f"no {STORE_NAME} in {str(out)!r}; is it the --output-dir of a spinexplore run?")
        return out
    parts = Path(os.path.abspath(out)).parts
    for part in parts[1:]:
        if len(os.fsencode(part)) > 255:
            raise CLIError(f"output directory {str(out)!r}: the name {part[:40]!r}... is {len(os.fsencode(part))} "
                           "bytes long; names are limited to 255 bytes")
    existing = Path(os.path.abspath(out))
    while not existing.exists():
        if existing.is_symlink():
            raise CLIError(f"output directory {str(out)!r}: {str(existing)!r} is a broken symbolic link")
        existing = existing.parent
    if not existing.is_dir():
        if existing == Path(os.path.abspath(out)):
            raise CLIError(f"output directory {str(out)!r} exists and is a file; choose a directory path")
        raise CLIError(f"output directory {str(out)!r}: {str(existing)!r} is a file, not a directory; "
                       "choose a directory path")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise CLIError(f"output directory {str(out)!r}: {str(existing)!r} is not writable (read-only file system "
                       "or no permission); choose another path")
    return out


def collect(args: Any, *, keys: Sequence[str], config: str | None) -> tuple[dict[str, Any], dict[str, str]]:
    """Explicit settings from a config file and the flags (flags win), with their sources."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    if config is not None:
        for key, value in load_toml(Path(config)).items():
            values[key], sources[key] = value, f"config file {config!r}, key {key!r}"
    for key in keys:
        value = getattr(args, key, None)
        if value is not None:
            values[key], sources[key] = value, "--" + key.replace("_", "-")
    return values, sources
