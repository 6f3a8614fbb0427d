"""Run a user's solver command as a simulation: :class:`ExternalSimulation`.

The command runs in a fresh directory inside the worker's own temp dir, in its own process
group, so that a timeout kills the solver *and everything it started*. The group stays in the
worker's session: when the executor kills a worker (at its timeout, or at Ctrl+C) it kills that
whole session from the parent's side, so that even the children of a wrapper script (``bash
solver.sh`` running ``sleep``) never outlive it. The solver's stdout goes to a file that is
read in a streaming way (a log of hundreds of MB costs no memory); only its tail and the JSON
result are kept. The
parameters reach it as a JSON file, as ``--name value`` arguments or as environment variables,
and the solver answers with a JSON object (in a file or on stdout) that
:func:`spinexplore.results.coerce_result` understands.

POSIX only (it relies on process groups and ``os.killpg``).
"""

from __future__ import annotations

import copy
import json
import math
import os
import shlex
import shutil
import signal
import string
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spinexplore._validation import InputError, InputTypeError, check_choice, check_real
from spinexplore.results import PhaseType, SimulationResult, coerce_result
from spinexplore.simulation._solver_process import (
    WHOLE_STDOUT_BYTES,
    arrays,
    base_tmpdir,
    child_setup_fn,
    jsonable,
    kill_group,
    last_json_line,
    read_end,
    tail_lines,
)

__all__ = ["ExternalSimulation"]

_PASS_MODES = ("json", "args", "env")
_RESERVED = ("params_file", "result_file", "workdir")


def _placeholders(arg: str) -> list[str]:
    """Names of the ``{name}`` fields of one argument (``{h:.3f}`` gives ``h``)."""
    names = []
    for _, field, _, _ in string.Formatter().parse(arg):
        if field is not None:
            names.append(field.split(".")[0].split("[")[0])
    return names


class ExternalSimulation:
    """A simulation that runs an external solver command once per parameter point.

    Parameters
    ----------
    command : str or sequence of str
        The command line, e.g. ``"mysolver --input {params_file}"`` or
        ``["python", "/abs/path/solver.py"]``. A string is split with :func:`shlex.split`.
        Arguments may contain ``{placeholders}``: ``{params_file}``, ``{result_file}``,
        ``{workdir}`` and any parameter name (``{h}``, ``{K:.4f}``). The executable must
        exist on ``PATH`` (or be a path to an executable file); other arguments that name an
        existing file relative to the current directory are made absolute here, since the
        command runs inside its own working directory.
    pass_params : {"json", "args", "env"}, default="json"
        How the parameters reach the solver, besides placeholders.
        ``"json"``: a file ``params.json`` in the working directory (its path is also in
        ``{params_file}`` and ``$SPINEXPLORE_PARAMS_FILE``). ``"args"``: ``--name value`` pairs
        appended to the command. ``"env"``: environment variables ``<env_prefix><name>``.
    result_file : str or None, default="result.json"
        Where the solver writes its JSON result, relative to the working directory (its path
        is also in ``{result_file}`` and ``$SPINEXPLORE_RESULT_FILE``). When the file is absent,
        or ``result_file`` is None, the last JSON object printed on stdout is used. The JSON
        object needs a ``"phase"`` (any label: a :class:`PhaseType` name or integer, or a name
        of the user's such as ``"q0"``; see ``spinexplore.labels``) and may have
        ``confidence``, ``energy``, ``observables``, ``error`` and other numeric keys. The
        energy is optional: a missing, null or NaN ``energy`` is recorded as NaN ("not
        reported") and the point keeps its phase; report a failure with ``"phase": "FAILED"``.
    timeout : float or None, default=None
        Wall-clock limit in seconds. Past it the whole process group gets SIGTERM, then
        SIGKILL after ``kill_grace`` seconds, and the call returns a TIMEOUT result.
    env : mapping of str to str, optional
        Extra environment variables for the solver (added to the current environment).
    workdir : str or path, optional
        Parent of the per-call working directories. Default: the worker's own temp dir
        (``spinexplore.execution.worker_tmpdir()``).
    keep_workdir : bool, default=False
        Keep each call's working directory (for debugging) instead of deleting it.
    env_prefix : str, default="SPINEXPLORE_"
        Prefix of the parameter variables when ``pass_params="env"``.
    kill_grace : float, default=2.0
        Seconds between SIGTERM and SIGKILL at a timeout.
    phases : optional
        The solver's phase labels, declared as for ``ActiveLearningExplorer(phases=...)``
        (names, ``name -> {"display", "color", "code"}``, ``code -> name`` or an ``Enum``).
        An integer ``"phase"`` in the solver's output is read as the declared code when one
        has it, otherwise as a :class:`PhaseType` value. An explorer whose phases declare
        codes gives them to an ``ExternalSimulation`` that has none (see :meth:`with_phases`),
        so they are needed here only to call the simulation directly.

    Raises
    ------
    spinexplore.errors.InputError
        For an executable that cannot be found, an unknown ``pass_params``, a negative
        ``timeout``, or a malformed placeholder: every ``{field}`` must be a parameter name (a
        Python identifier) or a reserved name, so a literal JSON text such as
        ``'{"phase": "SKYRMION"}'`` is refused here (write its braces as ``{{`` and ``}}``)
        instead of failing at every call. A ``ValueError``.
    spinexplore.errors.InputTypeError
        For arguments of the wrong type (also a ``TypeError``).

    Notes
    -----
    The solver also finds ``$SPINEXPLORE_WORKDIR`` (its working directory) and
    ``$SPINEXPLORE_RESULT_FILE`` in its environment. When it exits, anything it left running in
    its process group is killed. When the executor kills the worker that runs it (the run's
    timeout, Ctrl+C, SIGTERM), the executor also kills every process left in that worker's
    session, the solver's children included (the ``sleep`` of a wrapper ``bash solver.sh``);
    on Linux the solver is also killed if its worker dies. Set this ``timeout`` below the
    run's to get the solver's stderr tail in the TIMEOUT result. The stdout is read as a
    stream: a log of any size costs no memory (a stdout above 16 MB is searched line by line
    for its last JSON line). A non-zero exit status raises ``RuntimeError`` with the exit
    status and the last 20 lines of stderr (the explorer records the point as FAILED with that
    text); output that is not a JSON object raises ``ValueError``. The object holds only plain
    data and pickles.

    Examples
    --------
    >>> sim = ExternalSimulation(["python", "solver.py", "{params_file}"], timeout=60)  # doctest: +SKIP
    >>> sim({"h": 0.1, "K": 0.2})  # doctest: +SKIP
    SimulationResult(phase=SKYRMION, ...)
    """

    def __init__(
        self,
        command: str | Sequence[str],
        *,
        pass_params: str = "json",
        result_file: str | None = "result.json",
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        workdir: str | os.PathLike[str] | None = None,
        keep_workdir: bool = False,
        env_prefix: str = "SPINEXPLORE_",
        kill_grace: float = 2.0,
        phases: Any = None,
    ) -> None:
        if isinstance(command, str):
            argv = shlex.split(command)
        elif isinstance(command, Sequence) and all(isinstance(a, (str, os.PathLike)) for a in command):
            argv = [os.fspath(a) for a in command]
        else:
            raise InputTypeError(
                f"command must be a string or a sequence of strings; got {command!r} ({type(command).__name__})"
            )
        if not argv:
            raise InputError(f"command must name an executable; got {command!r}")
        for arg in argv:
            try:
                names = _placeholders(arg)
            except ValueError as exc:
                raise InputError(
                    f"command argument {arg!r} has a malformed placeholder ({exc}); "
                    "write literal braces as '{{' and '}}'"
                ) from None
            bad = [n for n in names if not n.isidentifier()]
            if bad:
                raise InputError(
                    f"command argument {arg!r} has the placeholder {{{bad[0]}}}, which is not a parameter "
                    f"name or one of {list(_RESERVED)}; write literal braces (e.g. of a JSON text) as "
                    "'{{' and '}}'"
                )
        if _placeholders(argv[0]):
            raise InputError(f"the executable {argv[0]!r} of command {command!r} may not contain placeholders")
        exe = shutil.which(argv[0])
        if exe is None:
            raise InputError(
                f"executable {argv[0]!r} of command {command!r} was not found on PATH or is not "
                "executable; give an absolute path or install it"
            )
        # a bare name is looked up on PATH again where it runs; a relative path must survive
        # the change into the per-call working directory
        resolved = [os.path.abspath(exe) if os.sep in argv[0] else argv[0]]
        for arg in argv[1:]:
            if not _placeholders(arg) and not os.path.isabs(arg) and os.path.isfile(arg):
                arg = os.path.abspath(arg)
            resolved.append(arg)
        self.command = command
        self.argv = resolved
        self.pass_params = check_choice("pass_params", pass_params, _PASS_MODES)
        if result_file is not None and not isinstance(result_file, (str, os.PathLike)):
            raise InputTypeError(f"result_file must be a file name or None; got {result_file!r}")
        self.result_file = None if result_file is None else os.fspath(result_file)
        self.timeout = check_real("timeout", timeout, minimum=0.0, strict_min=True, allow_none=True)
        env = dict(env or {})
        for key, value in env.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise InputTypeError(f"env must map str to str; got {key!r}: {value!r}")
        self.env = env
        if workdir is not None and not isinstance(workdir, (str, os.PathLike)):
            raise InputTypeError(f"workdir must be a directory path or None; got {workdir!r}")
        self.workdir = None if workdir is None else os.path.abspath(os.fspath(workdir))
        self.keep_workdir = bool(keep_workdir)
        if not isinstance(env_prefix, str):
            raise InputTypeError(f"env_prefix must be a string; got {env_prefix!r}")
        self.env_prefix = env_prefix
        self.kill_grace = check_real("kill_grace", kill_grace, minimum=0.0)
        self.phases = _vocabulary(phases)

    def with_phases(self, phases: Any) -> ExternalSimulation:
        """A copy that reads the solver's integer phase codes with ``phases`` (a declaration
        or a :class:`~spinexplore.labels.Vocabulary`)."""
        other = copy.copy(self)
        other.phases = _vocabulary(phases)
        return other

    @property
    def placeholders(self) -> list[str]:
        """Parameter names the command's ``{placeholders}`` use (reserved names excluded)."""
        names = [n for arg in self.argv[1:] for n in _placeholders(arg)]
        return sorted({n for n in names if n not in _RESERVED})

    def check_parameters(self, names: Sequence[str]) -> None:
        """Raise ``InputError`` when a placeholder is not among ``names`` (the explorer calls it
        with the space's parameter names before any work)."""
        missing = [n for n in self.placeholders if n not in set(names)]
        if missing:
            raise InputError(
                f"command placeholder(s) {missing} of {self.command!r} are not parameters of the space; "
                f"available: {sorted(names)} and {list(_RESERVED)}"
            )

    def describe(self) -> dict[str, Any]:
        """Settings for the store's metadata (JSON-friendly)."""
        return {
            "simulation": "ExternalSimulation", "command": self.argv, "pass_params": self.pass_params,
            "result_file": self.result_file, "timeout": self.timeout,
            "phases": None if self.phases is None else self.phases.to_json(),
        }

    def __repr__(self) -> str:
        return (
            f"ExternalSimulation({self.command!r}, pass_params={self.pass_params!r}, "
            f"result_file={self.result_file!r}, timeout={self.timeout!r})"
        )

    # ------------------------------------------------------------------ one run
    def _build(self, params: Mapping[str, Any], run_dir: Path) -> tuple[list[str], dict[str, str]]:
        params_file = run_dir / "params.json"
        result_file = run_dir / (self.result_file or "result.json")
        fields = {**params, "params_file": str(params_file), "result_file": str(result_file),
                  "workdir": str(run_dir)}
        argv = [self.argv[0]]
        for arg in self.argv[1:]:
            try:
                argv.append(arg.format_map(fields))
            except KeyError as exc:
                raise ValueError(
                    f"command placeholder {{{exc.args[0]}}} in {arg!r} is not a parameter; "
                    f"available: {sorted(params)} and {list(_RESERVED)}"
                ) from None
            except (IndexError, AttributeError, TypeError, ValueError) as exc:
                raise ValueError(f"cannot fill command argument {arg!r} from {dict(params)!r}: {exc}") from None
        env = {**os.environ, **self.env, "SPINEXPLORE_WORKDIR": str(run_dir),
               "SPINEXPLORE_RESULT_FILE": str(result_file)}
        if self.pass_params == "json":
            params_file.write_text(json.dumps({k: jsonable(v) for k, v in params.items()}))
            env["SPINEXPLORE_PARAMS_FILE"] = str(params_file)
        elif self.pass_params == "args":
            for name, value in params.items():
                argv += [f"--{name}", repr(float(value)) if isinstance(value, (float, np.floating)) else str(value)]
        else:
            for name, value in params.items():
                env[f"{self.env_prefix}{name}"] = repr(float(value)) if isinstance(value, (float, np.floating)) else str(value)
        return argv, env

    def _parse(self, run_dir: Path, stdout: Path) -> dict[str, Any]:
        path = run_dir / self.result_file if self.result_file is not None else None
        if path is not None and path.is_file():
            where, texts = repr(self.result_file), [path.read_text(errors="replace")]
            shown = texts[0]
        else:
            # the whole of a short stdout (pretty-printed JSON), else the last JSON-looking
            # line, read line by line: a solver's log can be hundreds of MB
            size = stdout.stat().st_size if stdout.is_file() else 0
            whole = stdout.read_text(errors="replace") if 0 < size <= WHOLE_STDOUT_BYTES else None
            line = last_json_line(stdout) if size else None
            where = "stdout"
            texts = [t for t in (whole, line) if t is not None]
            shown = whole if whole is not None else read_end(stdout, 300)
        for text in texts:
            try:
                data = json.loads(text)
            except json.JSONDecodeError:
                continue
            if isinstance(data, dict):
                return data
        expected = f"the file {self.result_file!r} or " if self.result_file else ""
        raise ValueError(
            f"external solver {self.command!r} gave no JSON object: expected {expected}a JSON "
            f"object such as {{\"phase\": \"SKYRMION\"}} on stdout; {where} held "
            f"{shown.strip()[-300:]!r}"
        )

    def __call__(self, params: Mapping[str, Any]) -> SimulationResult:
        """Run the solver at one point.

        Parameters
        ----------
        params : mapping of str to float
            The parameter values (free and fixed), as ``ParameterSpace.to_dicts`` gives them.

        Returns
        -------
        SimulationResult
            The parsed result, or a TIMEOUT result when the timeout was reached.

        Raises
        ------
        RuntimeError
            When the solver exits with a non-zero status (with the tail of its stderr).
        ValueError
            When its output is not a JSON object with a valid ``"phase"``.
        """
        if not isinstance(params, Mapping):
            raise TypeError(f"params must be a mapping of parameter names to values; got {params!r}")
        base = Path(self.workdir) if self.workdir is not None else base_tmpdir()
        base.mkdir(parents=True, exist_ok=True)
        run_dir = Path(tempfile.mkdtemp(prefix="ext_", dir=base))
        start = time.perf_counter()
        try:
            argv, env = self._build(params, run_dir)
            stdout, stderr = run_dir / "stdout.txt", run_dir / "stderr.txt"
            with open(stdout, "wb") as out, open(stderr, "wb") as err:
                proc = subprocess.Popen(
                    argv, cwd=run_dir, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                    preexec_fn=child_setup_fn(),  # its own group, in the worker's session (see the module)
                )
            pgid = proc.pid  # leader of its own process group
            timed_out = False
            try:
                proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:  # timeout, Ctrl+C or anything else: leave no process behind
                kill_group(pgid, proc, self.kill_grace if timed_out else 0.0)
            duration = time.perf_counter() - start
            if timed_out:
                tail = tail_lines(stderr)
                return SimulationResult(
                    phase=PhaseType.TIMEOUT, confidence=0.0, duration=duration,
                    error=(f"external solver exceeded timeout={self.timeout:g} s; its process group was killed"
                           + (f"; stderr tail:\n{tail}" if tail else "")),
                )
            if proc.returncode != 0:
                code = proc.returncode
                how = (f"was killed by signal {signal.Signals(-code).name}" if code < 0
                       else f"exited with status {code}")
                raise RuntimeError(
                    f"external solver {self.command!r} {how}; last lines of stderr:\n{tail_lines(stderr) or '(empty)'}"
                )
            data = self._parse(run_dir, stdout)
            if "observables" in data and isinstance(data["observables"], Mapping):
                data["observables"] = {k: arrays(v) for k, v in data["observables"].items()}
            if isinstance(data.get("spins"), list):
                data["spins"] = np.asarray(data["spins"], dtype=float)
            for key in ("energy", "confidence"):
                if data.get(key) is None and key in data:
                    data[key] = math.nan if key == "energy" else 1.0
            try:
                return coerce_result({**data, "duration": data.get("duration", duration)}, vocabulary=self.phases)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"external solver {self.command!r} returned an invalid result: {exc}") from None
        finally:
            if not self.keep_workdir:
                shutil.rmtree(run_dir, ignore_errors=True)


def _vocabulary(phases: Any) -> Any:
    """``phases`` of :class:`ExternalSimulation` as a Vocabulary (None: integers are PhaseType values)."""
    from spinexplore.labels import Vocabulary

    if phases is None:
        return None
    if isinstance(phases, Vocabulary):
        return phases.copy()
    try:
        return Vocabulary(phases, where="phases")
    except (TypeError, ValueError) as exc:
        raise InputError(str(exc)) from None
