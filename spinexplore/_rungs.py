"""The record of every rung of a fidelity ladder, carried in a point's best result.

See :mod:`spinexplore.fidelity` for the reserved observables (``fidelity``,
``fidelity{k}_phase``, ``fidelity{k}_confidence``, ``fidelity{k}_energy``, ``fidelity{k}_cost``).
"""

from __future__ import annotations

import math
import re
from typing import Any

from spinexplore.labels import FIRST_USER_ID
from spinexplore.results import Label, PhaseType, SimulationResult

__all__ = ["FIDELITY_KEY", "RungResult", "best_of", "decided", "decode_label", "encode_label", "merge_result", "rung_of", "rung_results"]

#: Observable holding the rung of a point's best result.
FIDELITY_KEY = "fidelity"
_RUNG_KEY = re.compile(r"^fidelity(\d+)_(phase|confidence|energy|cost)$")


class RungResult(tuple):
    """``(phase, confidence, energy, cost)`` of one rung of one point; ``phase`` is a
    ``PhaseType`` (FAILED/TIMEOUT when that rung failed) or a user's :class:`Label`."""

    __slots__ = ()

    def __new__(cls, phase: PhaseType | Label | int, confidence: float, energy: float, cost: float) -> RungResult:
        if not isinstance(phase, (PhaseType, Label)):
            phase = decode_label(phase)
        return super().__new__(cls, (phase, float(confidence), float(energy), float(cost)))

    phase = property(lambda self: self[0])
    confidence = property(lambda self: self[1])
    energy = property(lambda self: self[2])
    cost = property(lambda self: self[3])


def rung_of(result: SimulationResult | None) -> int:
    """The rung of a (best) result: its ``fidelity`` observable, 0 when it has none."""
    if result is None:
        return 0
    value = result.observables.get(FIDELITY_KEY)
    try:
        return 0 if value is None or not math.isfinite(float(value)) else int(value)
    except (TypeError, ValueError):
        return 0


def encode_label(label: PhaseType | Label, vocabulary: Any = None) -> float:
    """The number ``fidelity{k}_phase`` stores: the label id of the run's vocabulary (as in
    ``/points/phase``), the ``PhaseType`` value for FAILED (8) and TIMEOUT (9)."""
    if isinstance(label, PhaseType):
        return float(int(label))
    if vocabulary is None:
        raise ValueError(f"the label {label!r} of a fidelity rung needs the run's vocabulary to be stored")
    return float(vocabulary.id_of(label))


def decode_label(value: float, vocabulary: Any = None) -> PhaseType | Label:
    """The label of a stored ``fidelity{k}_phase`` number (see :func:`encode_label`); a user's
    label id read without its vocabulary becomes ``Label("label <id>")``."""
    i = int(value)
    if 0 <= i < FIRST_USER_ID:
        return PhaseType(i)
    if vocabulary is not None:
        try:
            return vocabulary.label_of(i)
        except KeyError:
            pass
    return Label(f"label {i}")


def rung_results(result: SimulationResult | None, vocabulary: Any = None) -> dict[int, RungResult]:
    """Every rung a point ran at, ``{rung: RungResult}``, from its (best) result.

    A result without the reserved observables (a single-fidelity run, an old store) is one
    rung-0 entry: its own phase, confidence, energy and duration. ``vocabulary`` (the run's
    :class:`~spinexplore.labels.Vocabulary`) names a user's labels.
    """
    if result is None:
        return {}
    found: dict[int, dict[str, float]] = {}
    for key, value in result.observables.items():
        m = _RUNG_KEY.match(key)
        if m is not None:
            found.setdefault(int(m.group(1)), {})[m.group(2)] = value
    out: dict[int, RungResult] = {}
    for k, fields in found.items():
        phase = fields.get("phase")
        if phase is None or not math.isfinite(float(phase)):
            continue
        out[k] = RungResult(decode_label(phase, vocabulary), _finite(fields.get("confidence"), 0.0),
                            _finite(fields.get("energy"), math.nan), _finite(fields.get("cost"), 0.0))
    own = rung_of(result)
    if own not in out:
        out[own] = RungResult(result.phase, result.confidence, result.energy, result.duration)
    return dict(sorted(out.items()))


def _finite(value: Any, default: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return default
    return v if math.isfinite(v) else default


def decided(label: Any, unknown_as_phase: bool = False) -> bool:
    """Whether a rung's label decides the point's phase: a physical label, and not UNKNOWN
    ("ran and could not decide") unless the exploration learns UNKNOWN as a phase."""
    return bool(label.is_physical) and (unknown_as_phase or label != PhaseType.UNKNOWN)


def best_of(entries: dict[int, RungResult], unknown_as_phase: bool = False, *, default: int = 0) -> int:
    """The rung whose result is a point's best: the highest that decides (:func:`decided`),
    else the highest with a physical label (UNKNOWN), else ``default``."""
    ranked = ([k for k, e in entries.items() if decided(e.phase, unknown_as_phase)]
              or [k for k, e in entries.items() if e.phase.is_physical])
    return max(ranked) if ranked else default


def merge_result(old: SimulationResult | None, rung: int, new: SimulationResult,
                 vocabulary: Any = None, *, unknown_as_phase: bool = False) -> SimulationResult:
    """The point's best result after ``new`` arrived from ``rung``, carrying every rung's record.

    The best result is the highest rung with a label that decides (:func:`decided`), else the
    highest with a physical one (UNKNOWN); a failed or timed-out higher rung, or one that
    could not decide, is recorded (its label, its cost) but the point keeps its cheaper label,
    with the reason in ``error`` for a failure. ``vocabulary`` (the run's) gives a user's
    labels their ids.
    """
    rung = int(rung)
    entries = rung_results(old, vocabulary) if old is not None else {}
    entries[rung] = RungResult(new.phase, new.confidence, new.energy, new.duration)
    best_rung = best_of(entries, unknown_as_phase, default=rung)
    if best_rung == rung:
        base = new
    else:
        base = old if old is not None else new
    obs = {k: v for k, v in base.observables.items() if k != FIDELITY_KEY and not _RUNG_KEY.match(k)}
    obs[FIDELITY_KEY] = float(best_rung)
    if len(entries) > 1:
        for k, e in entries.items():
            obs[f"fidelity{k}_phase"] = encode_label(e.phase, vocabulary)
            obs[f"fidelity{k}_confidence"] = e.confidence
            obs[f"fidelity{k}_energy"] = e.energy
            obs[f"fidelity{k}_cost"] = e.cost
    error = base.error
    if base is not new and not new.phase.is_physical:
        note = f"rung {rung} {new.phase.name}: {(new.error or 'no result').strip().splitlines()[0][:200]}"
        error = f"{error}; {note}" if error else note
    return SimulationResult(phase=base.phase, confidence=base.confidence, energy=base.energy,
                            observables=obs, duration=base.duration, error=error, spins=base.spins)
