"""The command line's run settings: defaults, the TOML config, checks, and what resume may change.

Every setting is checked here before anything is written: a message names where the value
came from (a flag, a key of a config file, an ``--override``), the value and what is allowed.
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

from spinexplore._validation import (
    MAX_POINTS,
    InputError,
    check_choice,
    check_int,
    check_n_jobs,
    check_n_points,
    check_real,
)
from spinexplore.store.hdf5 import DEFAULT_FILENAME as STORE_NAME

__all__ = ["CLIError", "DEFAULTS", "SAFE_ON_RESUME", "load_toml", "write_toml", "parse_axes",
           "check_settings", "check_budget", "build", "check_execution", "check_output_dir", "collect",
           "stored_settings"]

CONFIG_NAME = "config.toml"

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
    "schedule": None,
    "max_time": None,
    "max_cpu_time": None,
    "converge": None,
    "converge_window": None,
    # a user's solver instead of the built-in model, and the names of its phases (issue 22)
    "solver": None,
    "phases": None,
    "unknown_as_phase": False,
}

#: Settings that ``resume`` may change (with the same flag, ``--override KEY=VALUE`` or a
#: config key): how the remaining points run, and how many rounds there are. Every other
#: setting (model, lattice size, mode, axes, seed, strategy, initial design) is what the
#: finished points were computed with, so a different value is refused.
SAFE_ON_RESUME = ("n_jobs", "backend", "timeout", "checkpoint_interval", "n_iterations",
                  "n_per_iteration", "schedule", "max_time", "max_cpu_time", "converge",
                  "converge_window")
SCHEDULES = ("async", "batch")
#: Longest per-simulation timeout and run time limits, in seconds (about 30 years).
MAX_SECONDS = 1e9
#: Largest seed (what the store keeps as a 64-bit integer).
MAX_SEED = 2**63 - 1
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
def parse_axes(specs: Any) -> dict[str, list]:
    """``["h=0:0.5", "K=-0.2:0.9:log"]`` or a TOML table ``{h = "0:0.5", K = [-0.2, 0.9]}``
    -> ``{"h": [0.0, 0.5], "K": [-0.2, 0.9, "log"]}``; a repeated name is refused."""
    if isinstance(specs, Mapping):
        out: dict[str, list] = {}
        for name, value in specs.items():
            if isinstance(value, str):
                out.update(parse_axes([f"{name}={value}"]))
            elif isinstance(value, (list, tuple)) and len(value) in (2, 3):
                out[str(name)] = list(value)
            else:
                raise CLIError(f"axis {name!r} must be \"LOW:HIGH\" or [low, high]; got {value!r}")
        return out
    if isinstance(specs, str) or not isinstance(specs, (list, tuple)):
        raise CLIError(
            f"axes must be a table such as [axes] h = \"0:0.5\" or a list such as "
            f"[\"h=0:0.5\", \"K=-0.2:0.9\"]; got {specs!r}"
        )
    out = {}
    for spec in specs:
        if not isinstance(spec, str):
            raise CLIError(f"each axis entry must be a string NAME=LOW:HIGH; got {spec!r}")
        name, sep, rng = spec.partition("=")
        parts = rng.split(":")
        if not sep or len(parts) not in (2, 3) or not name:
            raise CLIError(f"{spec!r} must look like NAME=LOW:HIGH or NAME=LOW:HIGH:log (e.g. h=0:0.5)")
        if name in out:
            raise CLIError(f"axis {name!r} is given twice ({spec!r}); give each axis once")
        try:
            low, high = float(parts[0]), float(parts[1])
        except ValueError:
            raise CLIError(f"bounds of {name!r} must be numbers; got {rng!r}") from None
        out[name] = [low, high] if len(parts) == 2 else [low, high, parts[2]]
    return out


def _check_one(key: str, value: Any) -> Any:
    """Check one setting's type and range; return its normalized value."""
    from spinexplore.execution import BACKENDS
    from spinexplore.physics.model import PRESETS
    from spinexplore.samplers import SAMPLERS
    from spinexplore.simulation import MAX_LATTICE_SIZE
    from spinexplore.strategies import STRATEGIES

    if key in ("n_initial", "n_per_iteration"):
        return check_int(key, value, minimum=1, maximum=MAX_POINTS)
    if key == "n_iterations":
        return check_int(key, value, minimum=0, maximum=MAX_POINTS)
    if key in ("checkpoint_interval", "converge_window"):
        return None if value is None and key == "converge_window" else check_int(key, value, minimum=1, maximum=MAX_POINTS)
    if key == "lattice_size":
        return check_int(key, value, minimum=6, maximum=MAX_LATTICE_SIZE)
    if key == "n_jobs":
        return check_n_jobs(value)
    if key == "seed":
        return check_int(key, value, minimum=0, maximum=MAX_SEED)
    if key in ("timeout", "max_time", "max_cpu_time"):
        return check_real(key, value, minimum=0.0, maximum=MAX_SECONDS, strict_min=True, allow_none=True)
    if key == "converge":
        value = check_real(key, value, minimum=0.0, strict_min=True, allow_none=True)
        if value is not None and value >= 1:
            raise InputError(f"converge must be a fraction of the box in (0, 1), e.g. 0.01; got {value!r}")
        return value
    if key == "strategy":
        return check_choice(key, value, STRATEGIES)
    if key == "mode":
        from spinexplore.fidelity import is_ladder_spec, parse_ladder_spec

        if is_ladder_spec(value):  # a fidelity ladder, cheapest first: "screening,accurate@48"
            return ",".join(m if s is None else f"{m}@{s}" for m, s in parse_ladder_spec(value))
        return check_choice(key, value, ("screening", "fast", "accurate"))
    if key == "model":
        return check_choice(key, value, PRESETS)
    if key == "initial_method":
        return check_choice(key, value, SAMPLERS)
    if key == "backend":
        return None if value is None else check_choice(key, value, sorted(BACKENDS))
    if key == "schedule":
        return None if value is None else check_choice(key, value, SCHEDULES)
    if key == "output_dir":
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"output_dir must be a non-empty directory path; got {value!r}")
        return value
    if key == "axes":
        return None if value is None else parse_axes(value)
    if key == "solver":
        if value is None:
            return None
        if isinstance(value, str) and value.strip():
            return value
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
            return list(value)
        raise InputError(f"solver must be a command line (a string such as \"python solver.py {{params_file}}\" "
                         f"or a list of strings); got {value!r}")
    if key == "phases":
        return None if value is None else check_phases(value)
    if key == "unknown_as_phase":
        if not isinstance(value, bool):
            raise InputError(f"unknown_as_phase must be true or false; got {value!r}")
        return value
    raise CLIError(f"unknown setting {key!r}; allowed: {sorted(DEFAULTS)}")  # pragma: no cover


def check_phases(value: Any) -> dict[str, Any]:
    """The ``[phases]`` table: ``name = "display name"`` or ``name = {display, color, code}``, in
    legend order; checked by building the vocabulary. Returns it as a plain table."""
    from spinexplore.labels import Vocabulary

    if not isinstance(value, Mapping):
        raise InputError(f"phases must be a table such as [phases] q0 = \"$q=0$\" (name = display name, or "
                         f"name = {{display = ..., color = ..., code = ...}}); got {value!r}")
    try:
        vocab = Vocabulary(value, where="phases")
    except (TypeError, ValueError) as exc:
        raise InputError(str(exc)) from None
    out: dict[str, Any] = {}
    for e in vocab.entries():
        fields = {k: getattr(e, k) for k in ("display", "color", "code") if getattr(e, k) is not None}
        out[e.name] = fields
    return out


def check_settings(settings: dict[str, Any], sources: Mapping[str, str]) -> dict[str, Any]:
    """Check every setting and the point budget; messages name the value's source."""
    out = dict(settings)
    for key in DEFAULTS:
        try:
            out[key] = _check_one(key, settings.get(key))
        except (InputError, CLIError) as exc:
            raise CLIError(f"{sources.get(key, key)}: {exc}") from None
    check_budget(out)
    return out


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
    from spinexplore.execution import resolve_n_jobs

    if settings["backend"] in ("dask", "mpi") or not hasattr(simulation, "memory_estimate"):
        return  # the workers run elsewhere
    workers = resolve_n_jobs(settings["n_jobs"])
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
