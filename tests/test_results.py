"""PhaseType, SimulationResult and the coercion of what a simulation returns."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from spinexplore import PhaseType, PointRecord, PointStatus, SimulationResult
from spinexplore.results import coerce_result


def test_phase_members_and_parse():
    assert [p.name for p in PhaseType][:6] == [
        "FERROMAGNET", "SINGLE_Q", "DOUBLE_Q", "TRIPLE_Q", "SKYRMION", "MERON_ANTIMERON",
    ]
    assert PhaseType.parse("skyrmion") is PhaseType.SKYRMION
    assert PhaseType.parse("meron-antimeron") is PhaseType.MERON_ANTIMERON
    assert PhaseType.parse(4) is PhaseType.SKYRMION
    assert not PhaseType.TIMEOUT.is_physical and PhaseType.UNKNOWN.is_physical
    with pytest.raises(ValueError, match="unknown phase 'helix'; allowed names: FERROMAGNET"):
        PhaseType.parse("helix")


def test_result_is_frozen_and_read_only():
    spins = np.zeros((4, 3))
    r = SimulationResult(phase="SINGLE_Q", confidence=0.9, energy=-3.1, observables={"m_z": 0.1}, spins=spins)
    assert r.phase is PhaseType.SINGLE_Q
    with pytest.raises(AttributeError):
        r.confidence = 0.5  # type: ignore[misc]
    with pytest.raises(ValueError):
        r.spins[0, 0] = 1.0
    with pytest.raises(TypeError):
        r.observables["m_z"] = 2.0  # type: ignore[index]
    assert r.scalar_observables() == {"m_z": 0.1}
    r2 = pickle.loads(pickle.dumps(r))
    assert r2.phase is PhaseType.SINGLE_Q and r2.energy == -3.1


def test_confidence_range():
    with pytest.raises(ValueError, match=r"confidence must be in \[0, 1\]; got 1.5"):
        SimulationResult(phase=PhaseType.FERROMAGNET, confidence=1.5)


@pytest.mark.parametrize(
    "value, phase",
    [
        (PhaseType.SKYRMION, PhaseType.SKYRMION),
        ("FERROMAGNET", PhaseType.FERROMAGNET),
        ({"phase": "SINGLE_Q", "confidence": 0.7, "energy": -1.0, "m_z": 0.3}, PhaseType.SINGLE_Q),
        (None, PhaseType.TIMEOUT),
    ],
)
def test_coerce_accepted_returns(value, phase):
    r = coerce_result(value, duration=2.0)
    assert r.phase is phase
    assert r.duration == 2.0
    if isinstance(value, dict):
        assert r.confidence == 0.7 and r.observables["m_z"] == 0.3


@pytest.mark.parametrize("garbage", [42.5, [1, 2], {"energy": 1.0}, object()])
def test_coerce_rejects_garbage(garbage):
    with pytest.raises((TypeError, ValueError)):
        coerce_result(garbage)


def test_point_record():
    rec = PointRecord(index=3, params=[0.1, 0.2], status=1, iteration=2)
    assert rec.status is PointStatus.DONE and rec.status.is_finished
    assert rec.phase is None and rec.params.shape == (2,)
    assert math.isnan(SimulationResult(phase=PhaseType.UNKNOWN).energy)
