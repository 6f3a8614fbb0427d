"""Phase labels: the open vocabulary of an exploration.

A simulation may label a point with a built-in :class:`~spinexplore.results.PhaseType`, a
string (``"q0"``, ``"sqrt3 x sqrt3"``), a member of an enum of the user's, or an integer
code that a declared vocabulary names. Every exploration keeps a :class:`Vocabulary`:
label ids (the integers stored in the ``phase`` column, fed to the surrogate and returned by
``predict``), names, optional display names (LaTeX allowed) and colours, and an order. It
grows as labels arrive, and may be declared up front for fixed names, colours and order.

Ids ``0 .. 9`` are the :class:`PhaseType` values, whether or not a run uses them (so an old
store, an old ``predict`` output and a built-in run read the same); labels of the user get
ids from 10 up, in order of declaration, then of arrival. UNKNOWN (the simulation ran and
could not decide) and the outcomes FAILED and TIMEOUT are not phases: FAILED and TIMEOUT are
statuses of a point (:class:`~spinexplore.results.PointStatus`) and never enter a
vocabulary; UNKNOWN keeps id 7 and is not learned unless asked (``unknown_as_phase``).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from spinexplore.results import Label, PhaseType, parse_label

__all__ = ["FIRST_USER_ID", "MAX_ID", "PhaseLabel", "Vocabulary", "UNKNOWN_ID"]

#: The first id of a label that is not a :class:`PhaseType` (ids below are PhaseType values).
FIRST_USER_ID = len(PhaseType)
#: The largest label id (the ``phase`` column of a store is int8).
MAX_ID = 127
#: Id of UNKNOWN ("ran and could not decide").
UNKNOWN_ID = int(PhaseType.UNKNOWN)
_OUTCOMES = (PhaseType.FAILED, PhaseType.TIMEOUT)
_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$|^(?:tab:|xkcd:)?[A-Za-z][A-Za-z ]*$|^C[0-9]$")
_FIELDS = ("display", "color", "code")


@dataclass(frozen=True, slots=True)
class PhaseLabel:
    """One entry of a :class:`Vocabulary`.

    Parameters
    ----------
    id : int
        The integer a store, the surrogate and ``predict`` use for the label.
    name : str
        The label as the simulation reports it (PhaseType labels: the member name).
    display : str or None
        Name in legends and tables (LaTeX allowed, e.g. ``r"$\\sqrt{3}\\times\\sqrt{3}$"``).
    color : str or None
        A matplotlib colour (``"#4477AA"``, ``"tab:red"``, ``"C3"``); None: chosen by id.
    code : int or None
        An integer the simulation may return for this label.
    declared : bool
        Declared up front (it keeps its legend entry and region even with few points).
    """

    id: int
    name: str
    display: str | None = None
    color: str | None = None
    code: int | None = None
    declared: bool = False

    @property
    def label(self) -> PhaseType | Label:
        """The label object results carry (a PhaseType member or a :class:`Label`)."""
        return PhaseType(self.id) if self.id < FIRST_USER_ID else Label(self.name)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "name": self.name}
        out.update({k: getattr(self, k) for k in _FIELDS if getattr(self, k) is not None})
        if self.declared:
            out["declared"] = True
        return out


def _check_name(name: Any, where: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{where}: a phase name must be a non-empty string; got {name!r}")
    text = name.strip()
    if len(text) > 80 or any(ord(c) < 32 for c in text):
        raise ValueError(f"{where}: a phase name must be at most 80 printable characters; got {name!r}")
    return text


def _is_color(text: str) -> bool:
    """A colour matplotlib understands (a plain pattern when matplotlib is not installed)."""
    try:
        from matplotlib.colors import is_color_like
    except ImportError:
        return bool(_COLOR.match(text))
    return bool(text) and is_color_like(text)


def _check_entry(name: str, spec: Any, where: str) -> dict[str, Any]:
    """Normalise one declared entry: a display string, None, or a mapping of display/color/code."""
    if spec is None:
        return {}
    if isinstance(spec, str):
        return {"display": spec}
    if not isinstance(spec, Mapping):
        raise TypeError(f"{where}[{name!r}] must be a display name (str) or a table with keys "
                        f"{list(_FIELDS)}; got {type(spec).__name__} {spec!r:.60}")
    unknown = sorted(set(map(str, spec)) - set(_FIELDS))
    if unknown:
        raise ValueError(f"{where}[{name!r}] has unknown keys {unknown}; allowed: {list(_FIELDS)}")
    out: dict[str, Any] = {}
    if spec.get("display") is not None:
        if not isinstance(spec["display"], str):
            raise TypeError(f"{where}[{name!r}].display must be a string; got {spec['display']!r}")
        out["display"] = spec["display"]
    if spec.get("color") is not None:
        color = spec["color"]
        if not isinstance(color, str) or not _is_color(color.strip()):
            raise ValueError(f"{where}[{name!r}].color must be a matplotlib colour such as '#4477AA', "
                             f"'tab:red' or 'C3'; got {color!r}")
        out["color"] = color.strip()
    if spec.get("code") is not None:
        code = spec["code"]
        if isinstance(code, bool) or not isinstance(code, (int, np.integer)):
            raise TypeError(f"{where}[{name!r}].code must be an integer; got {code!r}")
        out["code"] = int(code)
    return out


def _declarations(phases: Any, where: str) -> list[tuple[str, dict[str, Any]]]:
    """``(name, fields)`` pairs of a declaration, in order."""
    if phases is None:
        return []
    if isinstance(phases, Vocabulary):
        return [(e.name, {k: getattr(e, k) for k in _FIELDS if getattr(e, k) is not None})
                for e in phases.entries() if e.declared]
    if isinstance(phases, type) and issubclass(phases, enum.Enum):
        out = []
        for member in phases:
            fields: dict[str, Any] = {}
            if isinstance(member.value, (int, np.integer)) and not isinstance(member.value, bool) \
                    and phases is not PhaseType:
                fields["code"] = int(member.value)
            out.append((member.name, fields))
        return out
    if isinstance(phases, Mapping):
        out = []
        for key, spec in phases.items():
            if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
                # {code: name} or {code: {"name": ..., ...}}: a simulation returning integers
                if isinstance(spec, str):
                    out.append((_check_name(spec, where), {"code": int(key)}))
                    continue
                if isinstance(spec, Mapping) and "name" in spec:
                    rest = {k: v for k, v in spec.items() if k != "name"}
                    out.append((_check_name(spec["name"], where),
                                {**_check_entry(str(spec["name"]), rest, where), "code": int(key)}))
                    continue
                raise TypeError(f"{where}[{key}] must name the phase of code {key} (a string); got {spec!r}")
            name = key.name if isinstance(key, enum.Enum) else _check_name(key, where)
            out.append((name, _check_entry(name, spec, where)))
        return out
    if isinstance(phases, (str, bytes)) or not isinstance(phases, Iterable):
        raise TypeError(f"{where} must be a list of phase names, a mapping name -> display name or "
                        f"table, or an Enum class; got {type(phases).__name__} {phases!r:.60}")
    out = []
    for item in phases:
        if isinstance(item, PhaseLabel):
            out.append((item.name, {k: getattr(item, k) for k in _FIELDS if getattr(item, k) is not None}))
        elif isinstance(item, enum.Enum):
            out.append((item.name, {}))
        else:
            out.append((_check_name(item, where), {}))
    return out


class Vocabulary:
    """The phase labels of one exploration: ids, names, display names, colours, order.

    Parameters
    ----------
    phases : optional
        Labels declared up front, in the order legends list them: a list of names
        (``["q0", "sqrt3 x sqrt3", "cuboc"]``), a mapping ``name -> display name`` or
        ``name -> {"display": ..., "color": ..., "code": ...}``, a mapping ``code -> name``
        for a simulation that returns integers, or an ``Enum`` class (its members' names; integer
        values become codes). Labels not declared are added as they arrive.

    Notes
    -----
    Ids never change once given, so a store written with one vocabulary and read with the
    grown one agrees. PhaseType labels keep their values as ids.
    """

    def __init__(self, phases: Any = None, *, where: str = "phases") -> None:
        self._by_id: dict[int, PhaseLabel] = {}
        self._by_name: dict[str, int] = {}
        self._by_code: dict[int, int] = {}
        self.declare(phases, where=where)

    # ---------------------------------------------------------------- building
    def declare(self, phases: Any, *, where: str = "phases") -> Vocabulary:
        """Declare labels (see the class); an existing label keeps its id and gets the new fields."""
        for name, fields in _declarations(phases, where):
            label = parse_label(name)
            if label in _OUTCOMES:
                raise ValueError(f"{where}: {name!r} is an outcome (a point status), not a phase; "
                                 "FAILED and TIMEOUT cannot be declared")
            code = fields.get("code")
            if code is not None and code in self._by_code and self._by_id[self._by_code[code]].name != str(label.name):
                raise ValueError(f"{where}: code {code} is given to both "
                                 f"{self._by_id[self._by_code[code]].name!r} and {name!r}")
            i = self._add(label)
            old = self._by_id[i]
            self._by_id[i] = PhaseLabel(i, old.name, fields.get("display", old.display),
                                        fields.get("color", old.color), fields.get("code", old.code), True)
            if code is not None:
                self._by_code[code] = i
        return self

    def _add(self, label: PhaseType | Label) -> int:
        name = str(label.name)
        i = self._by_name.get(name)
        if i is not None:
            return i
        if isinstance(label, PhaseType):
            i = int(label)
        else:
            i = max([FIRST_USER_ID - 1, *self._by_id]) + 1
            if i > MAX_ID:
                raise ValueError(f"an exploration holds at most {MAX_ID - FIRST_USER_ID + 1} phase labels of its "
                                 f"own; {name!r} would be one more (labels: {self.names()[:6]}...)")
        self._by_id[i] = PhaseLabel(i, name)
        self._by_name[name] = i
        return i

    def resolve(self, value: Any) -> PhaseType | Label:
        """The label a simulation's value stands for: a declared code or name, a PhaseType
        (member, name in any case, or value 0-9), an enum member (its name) or a new string."""
        if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, PhaseType)):
            i = self._by_code.get(int(value))
            if i is not None:
                return self._by_id[i].label
        if isinstance(value, str) and value.strip() in self._by_name:
            return self._by_id[self._by_name[value.strip()]].label
        return parse_label(value)

    def id_of(self, label: Any) -> int:
        """The id of a label (added when new). FAILED and TIMEOUT have none: ``ValueError``."""
        label = self.resolve(label)
        if label in _OUTCOMES:
            raise ValueError(f"{label.name} is an outcome (a point status), not a phase label")
        return self._add(label)

    # ---------------------------------------------------------------- reading
    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and str(name) in self._by_name

    def __len__(self) -> int:
        return len(self._by_id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.to_json() == other.to_json()

    def __repr__(self) -> str:
        return f"Vocabulary({self.names()!r})"

    def entry(self, i: int) -> PhaseLabel:
        """The entry of id ``i`` (a PhaseType value not yet seen gets a plain entry)."""
        i = int(i)
        if i in self._by_id:
            return self._by_id[i]
        if 0 <= i < FIRST_USER_ID:
            return PhaseLabel(i, PhaseType(i).name)
        raise KeyError(f"label id {i} is not in this vocabulary (ids: {sorted(self._by_id)})")

    def label_of(self, i: int) -> PhaseType | Label:
        return self.entry(i).label

    def name_of(self, i: int) -> str:
        return self.entry(i).name

    def entries(self) -> list[PhaseLabel]:
        """Every entry in legend order: declared ones as declared, then the others by id."""
        declared = [e for e in self._by_id.values() if e.declared]
        rest = sorted((e for e in self._by_id.values() if not e.declared), key=lambda e: e.id)
        return declared + rest

    def names(self) -> list[str]:
        return [e.name for e in self.entries()]

    def order_key(self, i: int) -> tuple[int, int]:
        """Sort key of id ``i`` in legend order."""
        es = self.entries()
        for k, e in enumerate(es):
            if e.id == int(i):
                return (0, k)
        return (1, int(i))

    @property
    def is_builtin(self) -> bool:
        """True when every label is a PhaseType and nothing is declared (what an old store holds)."""
        return all(i < FIRST_USER_ID and not e.declared and e.code is None and e.display is None
                   and e.color is None for i, e in self._by_id.items())

    @property
    def has_codes(self) -> bool:
        """Whether some label is declared with an integer ``code`` a simulation may return."""
        return bool(self._by_code)

    # ---------------------------------------------------------------- JSON
    def to_json(self) -> list[dict[str, Any]]:
        """The entries as JSON-able dicts, in legend order (what a store keeps)."""
        return [e.to_dict() for e in self.entries()]

    @classmethod
    def from_json(cls, data: Any) -> Vocabulary:
        """Rebuild from :meth:`to_json` (``None``: the built-in vocabulary of an old store)."""
        vocab = cls()
        if data is None:
            return vocab
        if not isinstance(data, list):
            raise ValueError(f"a stored vocabulary must be a list of entries; got {type(data).__name__}")
        for item in data:
            if not isinstance(item, Mapping) or "id" not in item or "name" not in item:
                raise ValueError(f"a stored vocabulary entry needs 'id' and 'name'; got {item!r:.80}")
            i, name = int(item["id"]), str(item["name"])
            if not 0 <= i <= MAX_ID or i in vocab._by_id or name in vocab._by_name:
                raise ValueError(f"stored vocabulary entry {item!r:.80} has a bad or repeated id or name")
            if i < FIRST_USER_ID and name != PhaseType(i).name:
                raise ValueError(f"stored vocabulary entry {item!r:.80}: id {i} is {PhaseType(i).name}")
            code = item.get("code")
            vocab._by_id[i] = PhaseLabel(i, name, item.get("display"), item.get("color"),
                                         None if code is None else int(code), bool(item.get("declared", False)))
            vocab._by_name[name] = i
            if code is not None:
                vocab._by_code[int(code)] = i
        return vocab

    @classmethod
    def from_state(cls, state: Mapping[str, Any] | None) -> Vocabulary:
        """The vocabulary an explorer state holds (the built-in one when it holds none)."""
        return cls.from_json(state.get("vocabulary") if isinstance(state, Mapping) else None)

    def copy(self) -> Vocabulary:
        return Vocabulary.from_json(self.to_json())
