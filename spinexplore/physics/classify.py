"""Rule-based phase label of a spin configuration: the oracle the surrogate learns from.

The rules of ``physics.md`` 3.2 are functions, tried in the order of :data:`RULES` by
:func:`decide`; the first that returns a :class:`Verdict` wins, and a configuration no rule fits
is UNKNOWN (never forced into a wrong label):

1. :func:`paramagnet`, :func:`field_induced_paramagnet` (``T > 0``): no Bragg weight;
2. :func:`ferromagnet`: uniform moment, no net charge, no modulated pair (polarized / canted);
3. :func:`meron_antimeron_crystal`: a square in-plane double-Q pair with vortex-antivortex pairs
   and charge of both signs (with or without a net charge);
4. :func:`skyrmion_crystal`: a net charge (``|Q_total| >= 1/2``) of one sign, else UNKNOWN;
5. no net charge: :func:`no_bragg_peak`, then :func:`single_q` (every primary peak a multiple of
   one ``Q``, so an anharmonic soliton lattice whose ``2Q`` outweighs ``Q`` still counts, and that
   ``+-Q`` family with its harmonics holds ``> 80 %`` of the modulated weight),
   :func:`diffuse_single_peak`, :func:`double_q` and :func:`triple_q` (two / three primary
   pairs, each ``>= 25 %`` of the strongest, three only when ``Q1 +- Q2 +- Q3 = 0`` within one
   grid step, whose integer combinations hold ``> 80 %`` of it).

What the rules share (peaks, charge, magnetization, number of magnetic cells ``|det(n_a, n_b)|``
of two independent primaries) is read once into :class:`Measured`; the peak geometry lives in
:mod:`spinexplore.physics._reciprocal`.

Confidence (:func:`confidence`) is the smallest of the deciding rule's margins (each mapped
linearly to [0, 1] between its threshold and a "clearly satisfied" value) and, when the solver's
energy gap to the best state with a different label is known (``GroundState.label_gap``),
``1 - exp(-gap / 1e-4)``. For SINGLE_Q one margin is the harmonic content: the fundamental's
share of the family weight, 1 at ``>= 0.6`` (a helix), falling to 0 at 0.2 (a soliton lattice).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from spinexplore.physics import _reciprocal as reciprocal
from spinexplore.physics.lattice import Lattice
from spinexplore.physics.observables import measure
from spinexplore.results import PhaseType

__all__ = ["Classification", "Thresholds", "classify"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Thresholds:
    """Thresholds of the decision rules (defaults from ``physics.md`` 3.2, checked on relaxed states).

    Attributes
    ----------
    paramagnet_sq : float
        Largest ``S(q)`` (``q = 0`` included) below which a state is PARAMAGNET.
    fm_m_abs, fm_m_abs_thermal : float
        Smallest ``|m|`` of a FERROMAGNET at ``T = 0`` and at ``T > 0``.
    fm_peak : float
        Largest ``+-q`` pair weight allowed in a FERROMAGNET.
    polarized_m_xy : float
        FM sub-label: ``polarized`` below it, ``canted`` above.
    single_q_fraction, single_q_fraction_thermal : float
        Share of the modulated weight in one ``+-Q`` family (harmonics included) for SINGLE_Q.
    secondary : float
        A pair counts as a primary peak at this fraction of the strongest one.
    skyrmion_minority : float
        Largest minority-sign share ``min(Q+, |Q-|) / (Q+ + |Q-|)`` of a SKYRMION state.
    meron_minority, meron_minority_per_cell : float
        Smallest minority-sign share (or per-cell minority charge) of a MERON_ANTIMERON state.
    meron_inplane_ratio : float
        Smallest ``S_perp(Q) / S_z(Q)`` at the primary peaks of a MERON_ANTIMERON state.
    square_angle_deg, square_length : float
        Tolerances for "orthogonal" (degrees) and "equal length" (relative).
    gap_scale : float
        Energy gap (J per spin) at which the gap factor of the confidence is ``1 - 1/e``.
    fundamental_low, fundamental_high : float
        SINGLE_Q harmonic margin: the share of the family's weight in the fundamental ``+-Q``
        (a pure helix has 1, a soliton lattice less) maps linearly from 0 at ``fundamental_low``
        to 1 at ``fundamental_high``.
    """

    paramagnet_sq: float = 0.05
    fm_m_abs: float = 0.95
    fm_m_abs_thermal: float = 0.5
    fm_peak: float = 0.02
    polarized_m_xy: float = 0.05
    single_q_fraction: float = 0.8
    single_q_fraction_thermal: float = 0.5
    secondary: float = 0.25
    skyrmion_minority: float = 0.25
    meron_minority: float = 0.1
    meron_minority_per_cell: float = 0.3
    meron_inplane_ratio: float = 2.0
    square_angle_deg: float = 10.0
    square_length: float = 0.1
    gap_scale: float = 1e-4
    fundamental_low: float = 0.2
    fundamental_high: float = 0.6


class Classification(NamedTuple):
    """Result of :func:`classify`; unpacks as ``phase, confidence, evidence``."""

    phase: PhaseType
    confidence: float
    evidence: dict[str, Any]


def _ramp(value: float, zero: float, one: float) -> float:
    """0 at ``zero``, 1 at ``one``, linear between and clipped (either direction)."""
    if one == zero:
        return 1.0 if value >= one else 0.0
    return float(min(1.0, max(0.0, (value - zero) / (one - zero))))


def _square_pair(p1: dict[str, Any], p2: dict[str, Any], th: Thresholds) -> tuple[float, float]:
    """Margins for 'orthogonal' and 'equal length' of two peaks."""
    q1, q2 = np.asarray(p1["q"]), np.asarray(p2["q"])
    cosang = abs(float(q1 @ q2)) / (p1["norm"] * p2["norm"])
    angle = math.degrees(math.acos(min(1.0, cosang)))  # in [0, 90]
    length = abs(p1["norm"] - p2["norm"]) / max(p1["norm"], p2["norm"])
    tol_a, tol_l = th.square_angle_deg, th.square_length
    return _ramp(angle, 90.0 - tol_a, 90.0 - tol_a / 2), _ramp(length, tol_l, tol_l / 2)


class Verdict(NamedTuple):
    """What a deciding rule returns: the label, the rule's name in words and its margins."""

    phase: PhaseType
    rule: str
    margins: dict[str, float]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Measured:
    """What the rules share, read once from the observables of one configuration.

    ``evidence`` is the JSON-friendly record :func:`classify` returns; a rule adds what it
    measures to it (also when it does not decide), in the order the rules run.
    """

    lattice: Lattice
    obs: dict[str, Any]
    thermal: bool  # T > 0: the FM and SINGLE_Q rules are relaxed for thermal fluctuations
    sq: np.ndarray  # S(q) = S_perp(q) + S_z(q) on the L x L grid (q = 0 at index 0)
    peaks: list[dict[str, Any]]  # primary +-Q pairs, strongest first
    n_peaks: int
    modulated: float  # sum over q != 0 of S(q), the "modulated weight" (floored above zero)
    q_total: float  # net Berg-Luscher charge and its positive / negative parts
    q_plus: float
    q_minus: float
    minority: float  # charge of the minority sign, min(Q+, |Q-|)
    minority_frac: float  # minority / (Q+ + |Q-|)
    n_cells: int | None  # magnetic cells on the torus (two or three primaries)
    top: float  # weight of the strongest pair
    inplane_ratio: float  # S_perp / S_z at the two strongest peaks
    evidence: dict[str, Any]

    @property
    def topological(self) -> bool:
        """A net topological charge, ``|Q_total| >= 1/2``."""
        return abs(self.q_total) >= 0.5

    def fraction_threshold(self, th: Thresholds) -> tuple[float, float]:
        """The share of the modulated weight a family must exceed, and the share where its margin is 1."""
        frac_min = th.single_q_fraction_thermal if self.thermal else th.single_q_fraction
        return frac_min, (1.0 + frac_min) / 2


def _measured(obs: dict[str, Any], lattice: Lattice, temperature: float, energy_gap: float | None) -> Measured:
    """The shared quantities and the evidence every label reports (physics.md 3.1)."""
    sq = np.asarray(obs["sq_inplane"]) + np.asarray(obs["sq_z"])
    peaks = list(obs["peaks"])
    n_peaks = int(obs["n_peaks"])
    modulated = max(float(obs["sq_modulated"]), 1e-300)
    q_tot, q_plus, q_minus = float(obs["Q_total"]), float(obs["Q_plus"]), float(obs["Q_minus"])
    charge_abs = q_plus - q_minus
    minority = min(q_plus, -q_minus)
    minority_frac = minority / charge_abs if charge_abs > 1e-6 else 0.0
    n_cells = reciprocal.n_cells(peaks) if 2 <= n_peaks <= 3 else None
    w_in2 = sum(p["weight_inplane"] for p in peaks[:2])
    w_z2 = sum(p["weight_z"] for p in peaks[:2])
    inplane_ratio = w_in2 / w_z2 if w_z2 > 0 else math.inf
    evidence: dict[str, Any] = {
        "Q_vectors": [list(map(float, p["q"])) for p in peaks],
        "Q_labels": [list(map(int, p["n"])) for p in peaks],
        "Q_weights": [float(p["weight"]) for p in peaks],
        "Q_inplane_ratio": float(min(inplane_ratio, 1e6)),
        "n_peaks": n_peaks,
        "n_cells": n_cells,
        "Q_total": q_tot,
        "Q_per_cell": (q_tot / n_cells) if n_cells else None,
        "Q_plus": q_plus,
        "Q_minus": q_minus,
        "minority_fraction": float(minority_frac),
        "m_z": float(obs["m_z"]),
        "m_xy": float(obs["m_xy"]),
        "m_abs": float(obs["m_abs"]),
        "sq_max": float(obs["sq_max"]),
        "n_vortices": int(obs["n_vortices"]),
        "n_antivortices": int(obs["n_antivortices"]),
        "energy_gap": None if energy_gap is None else float(energy_gap),
    }
    return Measured(
        lattice=lattice, obs=obs, thermal=temperature > 0, sq=sq, peaks=peaks, n_peaks=n_peaks,
        modulated=modulated, q_total=q_tot, q_plus=q_plus, q_minus=q_minus, minority=minority,
        minority_frac=minority_frac, n_cells=n_cells, top=peaks[0]["weight"] if peaks else 0.0,
        inplane_ratio=inplane_ratio, evidence=evidence,
    )


# The rules of physics.md 3.2, in order: each returns a Verdict when it decides, else None.


def paramagnet(m: Measured, th: Thresholds) -> Verdict | None:
    """Short-range order only: no Bragg weight anywhere, ``max_q S(q) < 0.05`` (``q = 0`` included)."""
    if m.obs["sq_max"] < th.paramagnet_sq:
        margin = _ramp(m.obs["sq_max"], th.paramagnet_sq, th.paramagnet_sq / 2)
        return Verdict(PhaseType.PARAMAGNET, "max S(q) below the ordering threshold", {"sq_max": margin})
    return None


def field_induced_paramagnet(m: Measured, th: Thresholds) -> Verdict | None:
    """At ``T > 0``: no Bragg peak at ``q != 0`` and a moderate moment (a field breaks no symmetry)."""
    sq_bragg = float(np.max(m.sq[1:])) if m.sq.size > 1 else 0.0
    m.evidence["sq_bragg"] = sq_bragg
    m_abs = m.obs["m_abs"]
    if m.thermal and sq_bragg < th.paramagnet_sq and m_abs <= th.fm_m_abs_thermal:
        return Verdict(PhaseType.PARAMAGNET, "no Bragg peak at q != 0 and a moderate induced moment", {
            "sq_bragg": _ramp(sq_bragg, th.paramagnet_sq, th.paramagnet_sq / 2),
            "m_abs": _ramp(m_abs, th.fm_m_abs_thermal, 0.8 * th.fm_m_abs_thermal),
        })
    return None


def ferromagnet(m: Measured, th: Thresholds) -> Verdict | None:
    """No net charge, a large uniform moment and no modulated pair; sub-label polarized or canted."""
    m_min = th.fm_m_abs_thermal if m.thermal else th.fm_m_abs
    if not m.topological and m.obs["m_abs"] > m_min and m.top < th.fm_peak:
        m.evidence["sub_label"] = "polarized" if m.obs["m_xy"] < th.polarized_m_xy else "canted"
        return Verdict(PhaseType.FERROMAGNET, "uniform magnetization without Bragg peaks", {
            "m_abs": _ramp(m.obs["m_abs"], m_min, (1.0 + m_min) / 2),
            "peak": _ramp(m.top, th.fm_peak, th.fm_peak / 2),
        })
    return None


def meron_antimeron_crystal(m: Measured, th: Thresholds) -> Verdict | None:
    """A square, in-plane dominated double-Q pair with vortex-antivortex pairs and charge of both signs.

    With a net charge the minority sign must be a sizeable share (or >= 0.3 per cell); without
    one, both signs must reach 0.3 per magnetic cell.
    """
    if m.n_peaks != 2:
        return None
    square = _square_pair(m.peaks[0], m.peaks[1], th)
    if not (min(square) > 0 and m.inplane_ratio > th.meron_inplane_ratio):
        return None
    per_cell_minority = m.minority / m.n_cells if m.n_cells else 0.0
    per_cell = _ramp(per_cell_minority, th.meron_minority_per_cell, 1.5 * th.meron_minority_per_cell)
    if m.topological:
        blob = max(_ramp(m.minority_frac, th.meron_minority, 1.5 * th.meron_minority), per_cell)
    else:
        blob = per_cell
    obs = m.obs
    pairs = min(int(obs["n_vortices"]), int(obs["n_antivortices"])) / m.n_cells if m.n_cells else 0.0
    m.evidence["vortex_pairs_per_cell"] = float(pairs)
    if not (blob > 0 and pairs >= 1.0):
        return None
    orthogonal, equal_length = square
    return Verdict(PhaseType.MERON_ANTIMERON, "square in-plane double-Q with meron charges of both signs", {
        "orthogonal": orthogonal,
        "equal_length": equal_length,
        "inplane_ratio": _ramp(m.inplane_ratio, th.meron_inplane_ratio, 1.5 * th.meron_inplane_ratio),
        "merons": blob,
        "secondary": _ramp(m.peaks[1]["weight"] / m.top, th.secondary, 2 * th.secondary),
    })


def skyrmion_crystal(m: Measured, th: Thresholds) -> Verdict | None:
    """A net charge of one sign (about 1 per magnetic cell); both signs without a meron pair: UNKNOWN."""
    if not m.topological:
        return None
    if not m.minority_frac < th.skyrmion_minority:
        return Verdict(PhaseType.UNKNOWN, "net charge with both signs but no square in-plane pair", {
            "minority": _ramp(m.minority_frac, th.skyrmion_minority, th.meron_minority)})
    margins = {
        "one_sign": _ramp(m.minority_frac, th.skyrmion_minority, th.skyrmion_minority - 0.1),
        "charge_integer": _ramp(abs(m.q_total - round(m.q_total)), 0.25, 0.1),
    }
    if m.n_cells:
        margins["charge_per_cell"] = _ramp(abs(abs(m.q_total) / m.n_cells - 1.0), 0.5, 0.25)
    return Verdict(PhaseType.SKYRMION, "net topological charge of one sign", margins)


def no_bragg_peak(m: Measured, th: Thresholds) -> Verdict | None:
    """Ordered (some ``S(q)`` above threshold) but neither uniform nor with a primary peak."""
    if m.peaks:
        return None
    return Verdict(PhaseType.UNKNOWN, "no Bragg peak and not uniform", {})


def single_q(m: Measured, th: Thresholds) -> Verdict | None:
    """Every primary peak is a harmonic of one ``Q`` and that ``+-Q`` family carries the modulated weight.

    The fundamental's share of the family (a helix 1, a soliton lattice less) is the harmonic margin.
    """
    generator = reciprocal.common_generator(m.peaks, m.lattice)
    if generator is None:
        return None
    frac = reciprocal.lattice_weight([generator], m.sq, m.lattice) / m.modulated
    fundamental = reciprocal.pair_weight(generator["n"], m.sq, m.lattice) / max(frac * m.modulated, 1e-300)
    m.evidence["single_q_fraction"] = float(frac)
    m.evidence["fundamental_fraction"] = float(min(1.0, fundamental))
    m.evidence["Q_single"] = [int(x) for x in generator["n"]]
    frac_min, full = m.fraction_threshold(th)
    if not frac > frac_min:
        return None
    rule = ("one +-Q family carries the modulated weight" if fundamental >= th.fundamental_high
            else "one anharmonic +-Q family (harmonics included) carries the modulated weight")
    return Verdict(PhaseType.SINGLE_Q, rule, {
        "fraction": _ramp(frac, frac_min, full),
        "harmonics": _ramp(fundamental, th.fundamental_low, th.fundamental_high),
    })


def diffuse_single_peak(m: Measured, th: Thresholds) -> Verdict | None:
    """One primary peak whose family holds too little of the modulated weight: UNKNOWN."""
    if m.n_peaks != 1:
        return None
    frac = reciprocal.lattice_weight(m.peaks[:1], m.sq, m.lattice) / m.modulated
    m.evidence["single_q_fraction"] = float(frac)
    frac_min, _ = m.fraction_threshold(th)
    return Verdict(PhaseType.UNKNOWN, "one peak but diffuse modulated weight",
                   {"fraction": _ramp(frac, frac_min, frac_min / 2)})


def _secondary_margin(m: Measured, th: Thresholds) -> float:
    """How clearly the weakest of the (two or three) primary pairs reaches ``secondary`` of the top."""
    weak = m.peaks[min(m.n_peaks, 3) - 1]["weight"] / m.top
    return _ramp(weak, th.secondary, 2 * th.secondary)


def double_q(m: Measured, th: Thresholds) -> Verdict | None:
    """Two primary ``+-Q`` pairs whose integer combinations carry the modulated weight."""
    if m.n_peaks != 2:
        return None
    frac = reciprocal.lattice_weight(m.peaks[:2], m.sq, m.lattice) / m.modulated
    frac_min, full = m.fraction_threshold(th)
    margins = {"secondary": _secondary_margin(m, th), "fraction": _ramp(frac, frac_min, full)}
    m.evidence["multi_q_fraction"] = float(frac)
    if frac > frac_min:
        return Verdict(PhaseType.DOUBLE_Q, "two primary +-Q pairs", margins)
    return Verdict(PhaseType.UNKNOWN, "two peaks but diffuse modulated weight", margins)


def triple_q(m: Measured, th: Thresholds) -> Verdict | None:
    """Three primary pairs with ``Q1 +- Q2 +- Q3 = 0`` (within one grid step); no net charge here."""
    if m.n_peaks != 3:
        return None
    closes, residual = reciprocal.closes(m.peaks, m.lattice)
    m.evidence["triple_q_residual"] = float(residual)
    frac = reciprocal.lattice_weight(m.peaks[:3], m.sq, m.lattice) / m.modulated
    m.evidence["multi_q_fraction"] = frac
    if not closes:
        return Verdict(PhaseType.UNKNOWN, "three primary pairs that do not close", {})
    frac_min, full = m.fraction_threshold(th)
    return Verdict(PhaseType.TRIPLE_Q, "three primary +-Q pairs with Q1 + Q2 + Q3 = 0", {
        "secondary": _secondary_margin(m, th), "fraction": _ramp(frac, frac_min, full)})


RULES = (paramagnet, field_induced_paramagnet, ferromagnet, meron_antimeron_crystal, skyrmion_crystal,
         no_bragg_peak, single_q, diffuse_single_peak, double_q, triple_q)


def decide(m: Measured, th: Thresholds) -> Verdict:
    """The verdict of the first rule of :data:`RULES` that decides; UNKNOWN for four or more primaries."""
    for rule in RULES:
        verdict = rule(m, th)
        if verdict is not None:
            return verdict
    return Verdict(PhaseType.UNKNOWN, f"{m.n_peaks} primary pairs", {})


def confidence(margins: dict[str, float], energy_gap: float | None, th: Thresholds) -> float:
    """The smallest margin, capped by ``1 - exp(-gap / gap_scale)`` when the energy gap is known.

    Adds the gap's margin to ``margins`` (the evidence reports it); 0.5 when no margin is known.
    """
    if energy_gap is not None:
        margins["energy_gap"] = 1.0 - math.exp(-float(energy_gap) / th.gap_scale)
    conf = min(margins.values()) if margins else 0.5
    return float(min(1.0, max(0.0, conf)))


def classify(
    spins: np.ndarray,
    lattice: Lattice,
    observables: dict[str, Any] | None = None,
    *,
    energy_gap: float | None = None,
    temperature: float = 0.0,
    thresholds: Thresholds | None = None,
) -> Classification:
    """Assign a phase label, a confidence and the evidence to a spin configuration.

    Parameters
    ----------
    spins : ndarray of shape (N, 3)
        Unit spins, ideally relaxed to zero torque.
    lattice : Lattice
    observables : dict, optional
        Output of :func:`~spinexplore.physics.observables.measure` for these spins (pass it
        to reuse a finite-temperature average); measured here when None.
    energy_gap : float, optional
        Energy per spin (units of J) from this state to the runner-up state of the solver
        (``GroundState.label_gap``: the best candidate with a different label). A small gap
        lowers the confidence (near a phase boundary); ``inf`` or None leaves it unchanged.
    temperature : float
        Temperature of the state (units of J); ``> 0`` relaxes the FM and SINGLE_Q rules for
        thermal fluctuations.
    thresholds : Thresholds, optional

    Returns
    -------
    Classification
        ``(phase, confidence, evidence)``; ``evidence`` is JSON-friendly (floats, ints,
        strings, lists): ``rule``, ``margins``, ``Q_vectors``, ``Q_labels``, ``Q_weights``,
        ``Q_inplane_ratio``, ``n_cells``, ``Q_total``, ``Q_per_cell``, ``Q_plus``,
        ``Q_minus``, ``minority_fraction``, ``m_z``, ``m_xy``, ``m_abs``, ``sq_max``,
        ``n_vortices``, ``n_antivortices``, ``vortex_pairs_per_cell`` (square pairs only),
        ``energy_gap`` and, for FERROMAGNET,
        ``sub_label`` (``"polarized"`` or ``"canted"``).

    Raises
    ------
    ValueError
        For spins of the wrong shape, a negative temperature or a negative energy gap.
    """
    th = Thresholds() if thresholds is None else thresholds
    if not (isinstance(temperature, (int, float, np.floating)) and temperature >= 0):
        raise ValueError(f"temperature must be a real number >= 0; got {temperature!r}")
    if energy_gap is not None and not (energy_gap >= 0):
        raise ValueError(f"energy_gap must be >= 0 (J per spin) or None; got {energy_gap!r}")
    obs = measure(spins, lattice) if observables is None else observables
    measured = _measured(obs, lattice, temperature, energy_gap)
    verdict = decide(measured, th)
    conf = confidence(verdict.margins, energy_gap, th)
    evidence = measured.evidence
    evidence["rule"] = verdict.rule
    evidence["margins"] = {k: float(v) for k, v in verdict.margins.items()}
    return Classification(verdict.phase, conf, evidence)
