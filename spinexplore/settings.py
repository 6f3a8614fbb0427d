"""Every run setting in one table: name, default, type, allowed values, resume, help.

The table (:data:`SETTINGS`, by name :data:`TABLE`) is the one place a run setting is
declared, in the spirit of scikit-learn's ``_param_validation``: each :class:`Setting` carries
a constraint (:class:`Interval`, :class:`Options` or :class:`Rule`, defined in
:mod:`spinexplore._constraints` so that the executors check ``n_jobs`` with the row's own
:data:`N_JOBS`) that checks a value and says in words what is allowed. Everything else reads it:

- the command line's flags, their types, defaults and ``--help`` text (``cli.py``), the TOML
  config's keys and checks, and what ``resume`` may change (``cli._settings``, ``cli._resume``);
- :meth:`ActiveLearningExplorer.run <spinexplore.explorer.ActiveLearningExplorer.run>` and
  ``classify_pending_points``, which check their keywords once, at the edge, into a frozen
  :class:`RunSettings` (the command line, which has checked them already, builds it with
  :meth:`RunSettings.from_checked`, without a second check); inside the package that object
  travels (explorer -> runner), never loose keywords, and the executor is built once from its
  ``n_jobs`` and ``backend``;
- ``spinexplore bench``'s ``--n-jobs`` and ``--mode``;
- the tests, which fuzz every constraint from the table.

Names of plugins (strategies, samplers, backends, model presets) are read from their
registries at each check, so a plugin registered before a run is accepted everywhere. The
module imports nothing heavier than :mod:`spinexplore._validation`: the registries are
imported when a value is checked or ``--help`` is printed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from spinexplore._constraints import N_JOBS, Interval, Options, Rule
from spinexplore._setting_checks import axes, boolean, command, mode, non_empty_path, parse_axes, phases
from spinexplore._validation import MAX_N_JOBS, MAX_POINTS, InputError, InputTypeError

__all__ = ["DEFAULTS", "Interval", "MAX_SECONDS", "MAX_SEED", "N_JOBS", "Options", "Rule", "RunSettings",
           "SAFE_ON_RESUME", "SCHEDULES", "SETTINGS", "Setting", "TABLE", "check", "parse_axes", "record"]

#: The two schedules of a run (see :mod:`spinexplore.runner`).
SCHEDULES = ("async", "batch")
#: Longest per-simulation timeout and run time limits, in seconds (about 30 years).
MAX_SECONDS = 1e9
#: Largest seed (what the store keeps as a 64-bit integer).
MAX_SEED = 2**63 - 1


# ---------------------------------------------------------------------------- the table
_NOT_API = object()  # Setting.api_default of a setting that is no keyword of explorer.run


@dataclass(frozen=True)
class Setting:
    """One run setting: a row of the table.

    Attributes
    ----------
    name : str
        The TOML key and ``--override`` key; the flag is ``--`` + name with dashes.
    default
        The command line's default (None: see ``none``).
    constraint : Interval, Options or Rule
        What is allowed; ``check`` returns the normalised value or raises ``InputError``.
    help : str
        The ``--help`` text, without the default (added from ``default`` or ``none``).
    resume : bool
        Whether ``resume`` may change it (how the remaining points run, and how many); every
        other setting is what the finished points were computed with.
    none : str or None
        None is allowed, and this says what it means (``"none"``, ``"off"``...).
    flag : bool
        A flag of ``run`` and ``resume`` (else a config key only).
    metavar, nargs
        As in :mod:`argparse`.
    api_default
        The default of the keyword of ``explorer.run`` of the same name (where there is one).
    """

    name: str
    default: Any
    constraint: Interval | Options | Rule
    help: str
    resume: bool = False
    none: str | None = None
    flag: bool = True
    metavar: str | None = None
    nargs: str | None = None
    api_default: Any = _NOT_API

    @property
    def option(self) -> str:
        """The command-line flag, ``--n-jobs``."""
        return "--" + self.name.replace("_", "-")

    @property
    def type(self) -> type:
        """What argparse converts the flag's text to."""
        return getattr(self.constraint, "type", str)

    @property
    def api(self) -> bool:
        """Whether ``explorer.run`` takes it as a keyword."""
        return self.api_default is not _NOT_API

    def check(self, value: Any) -> Any:
        """The normalised value, or :class:`~spinexplore.errors.InputError` naming the setting,
        the value and what is allowed."""
        if value is None and self.none is not None:
            return None
        return self.constraint.check(self.name, value)

    def allowed(self) -> str:
        """What is allowed, in words."""
        return str(self.constraint) + (" or none" if self.none is not None else "")

    def default_text(self) -> str:
        return str(self.default) if self.default is not None else str(self.none)


_POINTS = Interval(int, 1, MAX_POINTS)
_SECONDS = Interval(float, 0.0, MAX_SECONDS, closed="right")

#: The run settings, in the order ``--help`` lists them.
SETTINGS: tuple[Setting, ...] = (
    Setting("n_initial", 20, _POINTS, "points in the initial space-filling design", api_default=None),
    Setting("n_iterations", 3, Interval(int, 0, MAX_POINTS),
            "active-learning rounds after the initial design (on resume: the new total)", resume=True),
    Setting("n_per_iteration", 10, _POINTS, "points proposed per round (the parallel batch)", resume=True),
    Setting("lattice_size", 24, Interval(int, 6, "spinexplore.simulation:MAX_LATTICE_SIZE"),
            "linear size L of the periodic L x L lattice, even"),
    Setting("strategy", "balanced", Options("spinexplore.strategies:STRATEGIES", callables=True),
            "acquisition strategy", api_default=None),
    Setting("n_jobs", 1, N_JOBS,
            f"parallel workers, at most {MAX_N_JOBS}; -1 = all cores, -2 all but one", resume=True, api_default=1),
    Setting("mode", "fast", Rule(mode, "a solver preset or a comma list of them (a fidelity ladder)",
                                 names="spinexplore.physics.solver:MODES"),
            "solver preset, or a fidelity ladder of them, cheapest first (e.g. screening,accurate or "
            "screening,accurate@48, @L: that rung's lattice size)"),
    Setting("model", "triangular-chiral", Options("spinexplore.physics.model:PRESETS"), "model preset"),
    Setting("axes", None, Rule(axes, "NAME=LOW:HIGH[:log] entries or a table of them"),
            "swept parameters and ranges in units of J1 (|value| <= 1000), e.g. h=0:0.57 K=-0.24:0.95",
            none="h in [0, 1.2u], K in [-0.5u, 2u], u = the model's natural unit D^2/J (x1.5 on the "
                 "triangular lattice)", metavar="NAME=LOW:HIGH[:log]", nargs="+"),
    Setting("backend", None, Options("spinexplore.execution:BACKENDS"), "execution backend", resume=True,
            none="sequential for 1 job, process otherwise", api_default=None),
    Setting("timeout", None, _SECONDS, "hard limit per simulation in seconds", resume=True, none="none",
            api_default=None),
    Setting("checkpoint_interval", 10, _POINTS, "checkpoint every N completed simulations", resume=True,
            api_default=10),
    Setting("seed", 0, Interval(int, 0, MAX_SEED), "random seed"),
    Setting("initial_method", "lhs", Options("spinexplore.samplers:SAMPLERS"), "initial design",
            api_default="lhs"),
    Setting("schedule", None, Options(SCHEDULES),
            "how points reach the workers (async: a worker gets a new point as soon as it is free; batch: "
            "rounds of n_per_iteration)",
            resume=True, none="async with more than one worker", api_default=None),
    Setting("max_time", None, _SECONDS, "stop (resumably) after this much wall time", resume=True, none="none",
            metavar="SECONDS", api_default=None),
    Setting("max_cpu_time", None, _SECONDS, "stop (resumably) after this much summed simulation time",
            resume=True, none="none", metavar="SECONDS", api_default=None),
    Setting("converge", None, Interval(float, 0.0, 1.0, closed="neither"),
            "stop when the predicted phase changes on less than this fraction of the box, e.g. 0.01",
            resume=True, none="off", metavar="FRACTION", api_default=None),
    Setting("converge_window", None, _POINTS, "number of new points over which --converge is measured",
            resume=True, none="the run's choice (50)", metavar="N", api_default=None),
    Setting("output_dir", "spinexplore_output", Rule(non_empty_path, "a non-empty directory path"),
            "directory of the run's files", flag=False),
    # a user's solver instead of the built-in model, and the names of its phases (issue 22)
    Setting("solver", None, Rule(command, "a command line: a string or a list of strings"),
            "a command that runs one simulation instead of the built-in model", none="the built-in model",
            flag=False),
    Setting("phases", None, Rule(phases, "a table name = display name or name = {display, color, code}"),
            "the phases of the solver's labels, in legend order", none="the labels as they arrive", flag=False),
    Setting("unknown_as_phase", False, Rule(boolean, "true or false"), "learn UNKNOWN as a phase", flag=False),
)

#: The settings by name.
TABLE: dict[str, Setting] = {s.name: s for s in SETTINGS}
#: The command line's default of every setting (the TOML config uses the same keys).
DEFAULTS: dict[str, Any] = {s.name: s.default for s in SETTINGS}
#: Settings that ``resume`` may change: how the remaining points run, and how many rounds
#: there are. Every other one is what the finished points were computed with.
SAFE_ON_RESUME: tuple[str, ...] = tuple(s.name for s in SETTINGS if s.resume)


def record(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """The settings a run records in its store (``ActiveLearningExplorer(settings=...)``): a
    plain dict of JSON-able values, copied."""
    import json

    if settings is None:
        return {}
    if not isinstance(settings, Mapping):
        raise TypeError(f"settings must be a dict of JSON-able values; got {type(settings).__name__}")
    try:
        return json.loads(json.dumps(dict(settings)))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"settings must hold JSON-able values only: {exc}") from None


def check(name: str, value: Any) -> Any:
    """Check one setting by name; return its normalised value."""
    if name not in TABLE:
        raise InputError(f"unknown setting {name!r}; allowed: {sorted(TABLE)}")
    return TABLE[name].check(value)


# ---------------------------------------------------------------------------- the travelling object
@dataclass(frozen=True)
class RunSettings:
    """The checked settings of one call of ``explorer.run`` or ``classify_pending_points``:
    what travels from the explorer to the runner. Build it with :meth:`checked`, which
    validates every value against :data:`TABLE` before any work starts.

    ``executor`` is a user's executor (or backend name) that overrides ``n_jobs``/``backend``;
    ``goal`` a user's stopping goal; ``progress``/``verbose`` the display.
    """

    n_iterations: int = 0
    n_per_iteration: int = 1
    n_initial: int | None = None
    initial_method: str = "lhs"
    strategy: Any = None
    n_jobs: int = 1
    backend: str | None = None
    checkpoint_interval: int = 10
    timeout: float | None = None
    schedule: str | None = None
    max_time: float | None = None
    max_cpu_time: float | None = None
    converge: float | None = None
    converge_window: int | None = None
    goal: Callable[[Any], bool] | None = None
    executor: Any = None
    progress: bool = True
    verbose: bool = True

    @classmethod
    def checked(cls, **values: Any) -> RunSettings:
        """Check every value named in the table (None where the keyword's default is None);
        raises :class:`~spinexplore.errors.InputError` naming the first bad one."""
        defaults = {f.name: f.default for f in fields(cls)}
        out = {}
        for name, value in values.items():
            if name in TABLE and not (value is None and defaults[name] is None):
                value = TABLE[name].check(value)
            out[name] = value
        if isinstance(out.get("executor"), str):
            out["executor"] = Options("spinexplore.execution:BACKENDS").check("executor", out["executor"])
        return cls.from_checked(out)

    @classmethod
    def from_checked(cls, values: Mapping[str, Any], **extra: Any) -> RunSettings:
        """From values each already checked by its row of :data:`TABLE` (the command line checks
        each one once, at its edge, naming its flag or key): the rows are not checked again, the
        relations between settings are. Keys that are no field (``model``...) are left out."""
        names = {f.name for f in fields(cls)}
        out = {**{k: v for k, v in values.items() if k in names}, **extra}
        if out.get("goal") is not None and not callable(out["goal"]):
            raise InputTypeError(f"goal must be callable as goal(runner) -> bool; got {out['goal']!r}")
        if out.get("converge_window") is not None and out.get("converge") is None:
            raise InputError(f"converge_window={out['converge_window']!r} needs converge (a fraction of the box, "
                             "e.g. 0.01)")
        return cls(**out)

    def make_executor(self) -> tuple[Any, bool]:
        """(executor, whether this run owns it): the user's executor, or one built once from the
        checked ``n_jobs`` and ``backend`` (never checked again on the way)."""
        from spinexplore.execution.registry import build_executor, get_executor

        if self.executor is None:
            return build_executor(self.n_jobs, self.backend), True
        if isinstance(self.executor, str):
            return build_executor(self.n_jobs, self.executor), True
        return get_executor(self.n_jobs, self.executor), False

    @classmethod
    def keys(cls) -> list[str]:
        """The settings of the table that a run takes (the rest describe the simulation)."""
        return [f.name for f in fields(cls) if f.name in TABLE]

    def total_points(self, n_initial: int) -> int:
        """The point budget ``n_initial + n_iterations * n_per_iteration``."""
        return n_initial + self.n_iterations * self.n_per_iteration
