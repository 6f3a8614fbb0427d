"""Result records shared by every layer: phases, point status and simulation results."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

__all__ = ["Label", "PhaseType", "PointStatus", "PointRecord", "SimulationResult", "coerce_result", "parse_label"]


class PhaseType(enum.IntEnum):
    """Magnetic phases a simulation can be labelled with.

    The integer values are part of the on-disk format (``docs/store-format.md``): never
    renumber a member, only append new ones.
    """

    FERROMAGNET = 0
    SINGLE_Q = 1
    DOUBLE_Q = 2
    TRIPLE_Q = 3
    SKYRMION = 4
    MERON_ANTIMERON = 5
    PARAMAGNET = 6
    UNKNOWN = 7
    FAILED = 8
    TIMEOUT = 9

    @property
    def is_physical(self) -> bool:
        """True for a phase a surrogate can learn (not FAILED or TIMEOUT)."""
        return self not in (PhaseType.FAILED, PhaseType.TIMEOUT)

    @classmethod
    def parse(cls, value: Any) -> PhaseType:
        """Turn a member, its name (any case) or its integer value into a ``PhaseType``."""
        if isinstance(value, PhaseType):
            return value
        if isinstance(value, str):
            key = value.strip().upper().replace("-", "_").replace(" ", "_")
            if key in cls.__members__:
                return cls[key]
            allowed = ", ".join(cls.__members__)
            raise ValueError(f"unknown phase {value!r}; allowed names: {allowed}")
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            try:
                return cls(int(value))
            except ValueError:
                pass
        allowed = ", ".join(cls.__members__)
        raise ValueError(f"cannot interpret {value!r} as a PhaseType; allowed: {allowed} or 0-{len(cls) - 1}")


class Label(str):
    """A phase label of a user's simulation that is not a :class:`PhaseType` (``"q0"``).

    A string with the read-only attributes a ``PhaseType`` member has (``name``,
    ``is_physical``), so code written for ``result.phase.name`` works for any label. Its
    integer id belongs to the exploration's :class:`~spinexplore.labels.Vocabulary`.
    """

    __slots__ = ()

    @property
    def name(self) -> str:
        return str(self)

    @property
    def is_physical(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"Label({str(self)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Label, (str(self),))


def parse_label(value: Any) -> PhaseType | Label:
    """A label from what a simulation returned, without a vocabulary.

    A ``PhaseType`` stays; a string that names a ``PhaseType`` member (any case, ``-`` or
    spaces for ``_``) or an integer 0-9 becomes that member (the old behaviour); a member
    of another enum is read by its name; any other non-empty string is a :class:`Label`.
    Integer codes of a declared vocabulary are read by ``Vocabulary.resolve``.
    """
    if isinstance(value, (PhaseType, Label)):
        return value
    if isinstance(value, enum.Enum):
        value = value.name
    if isinstance(value, str):
        text = value.strip()
        key = text.upper().replace("-", "_").replace(" ", "_")
        if key in PhaseType.__members__:
            return PhaseType[key]
        if not text or len(text) > 80 or any(ord(c) < 32 for c in text):
            raise ValueError(f"a phase label must be a non-empty string of at most 80 printable characters; "
                             f"got {value!r}")
        return Label(text)
    return PhaseType.parse(value)


class PointStatus(enum.IntEnum):
    """Life cycle of one point of an exploration (stored as its integer value)."""

    PENDING = 0
    DONE = 1
    FAILED = 2
    TIMEOUT = 3
    CANCELLED = 4

    @property
    def is_finished(self) -> bool:
        """True once the point has an outcome that must never be recomputed."""
        return self in (PointStatus.DONE, PointStatus.FAILED, PointStatus.TIMEOUT)


def _freeze(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        arr = obj.copy()
        arr.flags.writeable = False
        return arr
    return obj


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class SimulationResult:
    """The outcome of one simulation at one parameter point.

    Parameters
    ----------
    phase : PhaseType, str, enum member or int
        The phase label: a built-in :class:`PhaseType`, or any label of the user's (kept as
        a :class:`Label`; see :func:`parse_label`). ``PhaseType.FAILED``/``TIMEOUT`` mark a
        failed simulation: they are outcomes (``status``), never stored as phases.
    confidence : float
        Confidence of the label in [0, 1].
    energy : float
        Energy per spin in units of J1 (NaN when unknown).
    observables : mapping of str to float or ndarray
        Measured quantities (``m_z``, ``Q_total``...). Scalars are stored by the store.
    duration : float
        Wall time of the simulation in seconds.
    error : str or None
        Error text for FAILED or TIMEOUT results.
    spins : ndarray of shape (N, 3) or None
        Final spin configuration, kept only on request.
    """

    phase: PhaseType | Label
    confidence: float = 1.0
    energy: float = math.nan
    observables: Mapping[str, Any] = field(default_factory=dict)
    duration: float = 0.0
    error: str | None = None
    spins: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "phase", parse_label(self.phase))
        conf = float(self.confidence)
        if not (0.0 <= conf <= 1.0) or math.isnan(conf):
            raise ValueError(f"confidence must be in [0, 1]; got {self.confidence!r}")
        object.__setattr__(self, "confidence", conf)
        object.__setattr__(self, "energy", float(self.energy))
        object.__setattr__(self, "duration", float(self.duration))
        obs = {str(k): _freeze(v) for k, v in dict(self.observables).items()}
        object.__setattr__(self, "observables", MappingProxyType(obs))
        if self.spins is not None:
            object.__setattr__(self, "spins", _freeze(np.asarray(self.spins, dtype=float)))

    def __reduce__(self) -> tuple[Any, ...]:
        # mappingproxy cannot be pickled: rebuild from plain fields (results cross processes)
        return (
            _rebuild_result,
            (self.phase if isinstance(self.phase, Label) else int(self.phase), self.confidence, self.energy, dict(self.observables),
             self.duration, self.error, self.spins),
        )

    @property
    def ok(self) -> bool:
        """True when the simulation produced a label (it did not fail or time out)."""
        return self.phase.is_physical

    @property
    def label(self) -> str:
        """The label's name (``"SKYRMION"``, ``"q0"``)."""
        return str(self.phase.name)

    @property
    def status(self) -> PointStatus:
        """The point status this result gives: DONE, or FAILED / TIMEOUT for a failure."""
        if self.phase == PhaseType.TIMEOUT and not isinstance(self.phase, Label):
            return PointStatus.TIMEOUT
        if self.phase == PhaseType.FAILED and not isinstance(self.phase, Label):
            return PointStatus.FAILED
        return PointStatus.DONE

    def scalar_observables(self) -> dict[str, float]:
        """The observables that are real scalars, as plain floats."""
        out: dict[str, float] = {}
        for key, value in self.observables.items():
            if isinstance(value, (bool, np.bool_)):
                out[key] = float(value)
            elif isinstance(value, (int, float, np.integer, np.floating)):
                out[key] = float(value)
            elif isinstance(value, np.ndarray) and value.ndim == 0 and np.isrealobj(value):
                out[key] = float(value)
        return out

    def __repr__(self) -> str:
        return (
            f"SimulationResult(phase={self.phase.name}, confidence={self.confidence:.3g}, "
            f"energy={self.energy:.6g}, duration={self.duration:.3g}s"
            + (f", error={self.error!r}" if self.error else "")
            + ")"
        )


def _rebuild_result(phase, confidence, energy, observables, duration, error, spins):  # noqa: ANN001
    return SimulationResult(
        phase=phase if isinstance(phase, str) else PhaseType(phase), confidence=confidence, energy=energy, observables=observables,
        duration=duration, error=error, spins=spins,
    )


def coerce_result(value: Any, *, duration: float = 0.0, vocabulary: Any = None) -> SimulationResult:
    """Turn what a user's simulation returned into a :class:`SimulationResult`.

    Accepted: a ``SimulationResult``, a label (a ``PhaseType`` or its name, any string, a
    member of the user's enum, an integer code), a mapping with a ``"phase"`` key (optional
    ``confidence``, ``energy``, ``observables``; other numeric keys become observables), or
    ``None``, which means TIMEOUT as in the old tool. ``vocabulary`` (a
    :class:`~spinexplore.labels.Vocabulary`) reads declared names and integer codes; without
    one an integer is a ``PhaseType`` value.

    Raises
    ------
    TypeError
        For anything else (the explorer records it as FAILED with this message).
    """
    if value is None:
        return SimulationResult(
            phase=PhaseType.TIMEOUT, confidence=0.0, duration=duration,
            error="simulation returned None (recorded as TIMEOUT)",
        )
    if isinstance(value, SimulationResult):
        if value.duration == 0.0 and duration:
            return SimulationResult(
                phase=value.phase, confidence=value.confidence, energy=value.energy,
                observables=value.observables, duration=duration, error=value.error,
                spins=value.spins,
            )
        return value
    read = parse_label if vocabulary is None else vocabulary.resolve
    if isinstance(value, (str, enum.Enum)) or (
            isinstance(value, (int, np.integer)) and not isinstance(value, bool)):
        return SimulationResult(phase=read(value), duration=duration)
    if isinstance(value, Mapping):
        if "phase" not in value:
            raise TypeError(
                f"a simulation returned a mapping without a 'phase' key (keys: {sorted(map(str, value))}); "
                "return a SimulationResult, a PhaseType or a dict with 'phase'"
            )
        known = {"phase", "confidence", "energy", "observables", "duration", "error", "spins"}
        obs = dict(value.get("observables") or {})
        for k, v in value.items():
            if k not in known and isinstance(v, (int, float, np.integer, np.floating)):
                obs[str(k)] = v
        return SimulationResult(
            phase=read(value["phase"]),
            confidence=value.get("confidence", 1.0),
            energy=value.get("energy", math.nan),
            observables=obs,
            duration=value.get("duration", duration),
            error=value.get("error"),
            spins=value.get("spins"),
        )
    raise TypeError(
        f"a simulation returned {type(value).__name__} {value!r:.80}; expected a SimulationResult, "
        "a label (PhaseType, string, enum member or integer code), a dict with a 'phase' key, or None"
    )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class PointRecord:
    """One point of an exploration as the explorer and the store see it.

    Parameters
    ----------
    index : int
        Position of the point in the exploration (0, 1, 2... in order of proposal).
    params : ndarray of shape (n_dims,)
        Physical coordinates of the free dimensions, in the order of ``space.names``.
    status : PointStatus
    iteration : int
        Round in which the point was proposed (0 = initial design).
    result : SimulationResult or None
        Set once the point is finished.
    worker : str
        Which worker ran it (``"pid:1234"`` or a Dask worker address), empty when pending.
    """

    index: int
    params: np.ndarray
    status: PointStatus
    iteration: int = 0
    result: SimulationResult | None = None
    worker: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", int(self.index))
        object.__setattr__(self, "params", _freeze(np.asarray(self.params, dtype=float).ravel()))
        object.__setattr__(self, "status", PointStatus(int(self.status)))
        object.__setattr__(self, "iteration", int(self.iteration))

    @property
    def phase(self) -> PhaseType | Label | None:
        """The phase of a finished point, else None."""
        return None if self.result is None else self.result.phase
