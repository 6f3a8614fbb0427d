"""Anharmonic (soliton-like) single-Q textures are SINGLE_Q, with a confidence that falls with
the harmonic content (issue 13, item 3)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.special import ellipk

from spinexplore.physics.classify import classify
from spinexplore.physics.lattice import make_lattice
from spinexplore.physics.textures import helix, soliton_lattice, wavevector


def modulus_for(kappa: float, period: float) -> float:
    """Elliptic modulus of the sine-Gordon soliton lattice ``phi'' = kappa^2 sin(phi)`` of period
    ``period``: ``period = 2 k K(k) / kappa`` (the anisotropy ``kappa^2`` fixes ``k``)."""
    return brentq(lambda k: 2 * k * ellipk(k * k) / kappa - period, 1e-12, 1 - 1e-15, xtol=1e-15)


def test_soliton_lattice_is_periodic_and_reduces_to_the_helix():
    lat = make_lattice("square", 24)
    np.testing.assert_allclose(soliton_lattice(lat, (2, 0), 0.0), helix(lat, (2, 0)), atol=1e-12)
    s = soliton_lattice(lat, (1, 1), 0.999).reshape(24, 24, 3)
    # period 12 along x and y for Q = (1, 1) * 2 pi / 24 ... i.e. invariant under r -> r + (12, 12)
    np.testing.assert_allclose(np.roll(s, (12, 12), axis=(0, 1)), s, atol=1e-9)
    with pytest.raises(ValueError, match="modulus must be"):
        soliton_lattice(lat, (1, 0), 1.0)


@pytest.mark.parametrize(("kind", "Q"), [("square", (2, 0)), ("square", (1, 1)), ("triangular", (2, 0))])
@pytest.mark.parametrize("kappa", [0.05, 0.2, 0.4, 0.6, 0.9])
def test_soliton_lattice_is_single_q_at_every_anisotropy(kind, Q, kappa):
    lat = make_lattice(kind, 24)
    period = 2 * math.pi / np.linalg.norm(wavevector(lat, Q))
    k = modulus_for(kappa, period)
    result = classify(soliton_lattice(lat, Q, k), lat)
    assert result.phase.name == "SINGLE_Q"
    assert result.evidence["single_q_fraction"] > 0.999  # all weight on Q and its harmonics
    assert 0.0 < result.evidence["fundamental_fraction"] <= 1.0
    assert result.confidence > 0.3


def test_confidence_falls_with_the_harmonic_content():
    lat = make_lattice("square", 24)
    conf, fund = [], []
    for k in (0.0, 0.9, 0.999, 0.99999, 0.9999999):
        r = classify(soliton_lattice(lat, (1, 0), k), lat)
        assert r.phase.name == "SINGLE_Q"
        conf.append(r.confidence)
        fund.append(r.evidence["fundamental_fraction"])
    assert conf[0] == pytest.approx(1.0)
    assert all(b <= a + 1e-12 for a, b in zip(conf, conf[1:]))
    assert all(b < a for a, b in zip(fund, fund[1:]))
    assert conf[-1] < 0.6 and "anharmonic" in r.evidence["rule"]


@pytest.mark.parametrize("admixture", [0.0, 0.3, 0.8, 1.6])
def test_helix_with_a_second_harmonic_stronger_than_the_fundamental(admixture):
    # S ~ helix(Q) + a * helix(2Q) in the perpendicular plane: for a > 1 the 2Q peak is the
    # strongest and Q is listed as a second primary peak; still one +-Q family.
    lat = make_lattice("triangular", 24)
    base = helix(lat, (2, 0))
    extra = helix(lat, (4, 0), plane="bloch")
    s = base + admixture * extra
    s /= np.linalg.norm(s, axis=1, keepdims=True)
    r = classify(s, lat)
    assert r.phase.name == "SINGLE_Q", r.evidence["rule"]
    assert r.evidence["Q_single"] in ([2, 0], [-2, 0])
    if admixture >= 1.6:
        assert r.evidence["n_peaks"] == 2 and r.evidence["Q_weights"][0] > r.evidence["Q_weights"][1]
        assert r.confidence < 1.0


def test_two_independent_wavevectors_are_not_one_family():
    lat = make_lattice("square", 24)
    s = helix(lat, (2, 0)) + 0.9 * helix(lat, (0, 2), plane="bloch")
    s /= np.linalg.norm(s, axis=1, keepdims=True)
    assert classify(s, lat).phase.name != "SINGLE_Q"
