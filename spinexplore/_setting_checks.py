"""The checks of the run settings that are more than a range or a list of names (the table
is :mod:`spinexplore.settings`): the solver mode or fidelity ladder, the axes, a solver
command, a ``[phases]`` table, a path, a boolean. Each is ``check(name, value) -> value`` and
raises :class:`~spinexplore.errors.InputError` naming the setting, the value and what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spinexplore._validation import InputError, InputTypeError, check_choice

__all__ = ["axes", "boolean", "command", "mode", "non_empty_path", "parse_axes", "phases"]


def mode(name: str, value: Any) -> str:
    from spinexplore.fidelity import is_ladder_spec, parse_ladder_spec

    if is_ladder_spec(value):  # a fidelity ladder, cheapest first: "screening,accurate@48"
        return ",".join(m if s is None else f"{m}@{s}" for m, s in parse_ladder_spec(value))
    from spinexplore.physics.solver import MODES

    return check_choice(name, value, MODES)


def non_empty_path(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{name} must be a non-empty directory path; got {value!r}")
    return value


def axes(name: str, value: Any) -> dict[str, list]:
    return parse_axes(value)


def command(name: str, value: Any) -> Any:
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise InputError(f"{name} must be a command line (a string such as \"python solver.py {{params_file}}\" "
                     f"or a list of strings); got {value!r}")


def phases(name: str, value: Any) -> dict[str, Any]:
    """The ``[phases]`` table: ``name = "display name"`` or ``name = {display, color, code}``, in
    legend order; checked by building the vocabulary. Returns it as a plain table."""
    from spinexplore.labels import Vocabulary

    if not isinstance(value, Mapping):
        raise InputError(f"{name} must be a table such as [phases] q0 = \"$q=0$\" (name = display name, or "
                         f"name = {{display = ..., color = ..., code = ...}}); got {value!r}")
    try:
        vocab = Vocabulary(value, where=name)
    except (TypeError, ValueError) as exc:
        raise InputError(str(exc)) from None
    return {e.name: {k: getattr(e, k) for k in ("display", "color", "code") if getattr(e, k) is not None}
            for e in vocab.entries()}


def boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InputTypeError(f"{name} must be true or false; got {value!r}")
    return value


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
                raise InputError(f"axis {name!r} must be \"LOW:HIGH\" or [low, high]; got {value!r}")
        return out
    if isinstance(specs, str) or not isinstance(specs, (list, tuple)):
        raise InputError(f"axes must be a table such as [axes] h = \"0:0.5\" or a list such as "
                         f"[\"h=0:0.5\", \"K=-0.2:0.9\"]; got {specs!r}")
    out = {}
    for spec in specs:
        if not isinstance(spec, str):
            raise InputError(f"each axis entry must be a string NAME=LOW:HIGH; got {spec!r}")
        name, sep, rng = spec.partition("=")
        parts = rng.split(":")
        if not sep or len(parts) not in (2, 3) or not name:
            raise InputError(f"{spec!r} must look like NAME=LOW:HIGH or NAME=LOW:HIGH:log (e.g. h=0:0.5)")
        if name in out:
            raise InputError(f"axis {name!r} is given twice ({spec!r}); give each axis once")
        try:
            low, high = float(parts[0]), float(parts[1])
        except ValueError:
            raise InputError(f"bounds of {name!r} must be numbers; got {rng!r}") from None
        out[name] = [low, high] if len(parts) == 2 else [low, high, parts[2]]
    return out
