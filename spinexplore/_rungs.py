"""The record of every rung of a fidelity ladder, carried in a point's best result.

See :mod:`spinexplore.fidelity` for the reserved observables (``fidelity``,
``fidelity{k}_phase``, ``fidelity{k}_confidence``, ``fidelity{k}_energy``, ``fidelity{k}_cost``).
"""

from __future__ import annotations

import math
import re
from typing import Any

from spinexplore.results import PhaseType, SimulationResult

__all__ = ["FIDELITY_KEY", "RungResult", "merge_result", "rung_of", "rung_results"]

#: Observable holding the rung of a point's best result.
FIDELITY_KEY = "fidelity"
_RUNG_KEY = re.compile(r"^fidelity(\d+)_(phase|confidence|energy|cost)$")


class RungResult(tuple):
    """``(phase, confidence, energy, cost)`` of one rung of one point."""

    __slots__ = ()

    def __new__(cls, phase: PhaseType, confidence: float, energy: float, cost: float) -> RungResult:
        return super().__new__(cls, (PhaseType(int(phase)), float(confidence), float(energy), float(cost)))

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


def rung_results(result: SimulationResult | None) -> dict[int, RungResult]:
    """Every rung a point ran at, ``{rung: RungResult}``, from its (best) result.

    A result without the reserved observables (a single-fidelity run, an old store) is one
    rung-0 entry: its own phase, confidence, energy and duration.
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
        out[k] = RungResult(int(phase), _finite(fields.get("confidence"), 0.0),
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


def merge_result(old: SimulationResult | None, rung: int, new: SimulationResult) -> SimulationResult:
    """The point's best result after ``new`` arrived from ``rung``, carrying every rung's record.

    The best result is the highest rung with a physical phase; a failed or timed-out higher
    rung is recorded (its label FAILED/TIMEOUT, its cost) but the point keeps its cheaper label,
    with the reason in ``error``.
    """
    rung = int(rung)
    entries = rung_results(old) if old is not None else {}
    entries[rung] = RungResult(new.phase, new.confidence, new.energy, new.duration)
    physical = [k for k, e in entries.items() if e.phase.is_physical]
    best_rung = max(physical) if physical else rung
    if best_rung == rung:
        base = new
    else:
        base = old if old is not None else new
    obs = {k: v for k, v in base.observables.items() if k != FIDELITY_KEY and not _RUNG_KEY.match(k)}
    obs[FIDELITY_KEY] = float(best_rung)
    if len(entries) > 1:
        for k, e in entries.items():
            obs[f"fidelity{k}_phase"] = float(int(e.phase))
            obs[f"fidelity{k}_confidence"] = e.confidence
            obs[f"fidelity{k}_energy"] = e.energy
            obs[f"fidelity{k}_cost"] = e.cost
    error = base.error
    if base is not new and not new.phase.is_physical:
        note = f"rung {rung} {new.phase.name}: {(new.error or 'no result').strip().splitlines()[0][:200]}"
        error = f"{error}; {note}" if error else note
    return SimulationResult(phase=base.phase, confidence=base.confidence, energy=base.energy,
                            observables=obs, duration=base.duration, error=error, spins=base.spins)
