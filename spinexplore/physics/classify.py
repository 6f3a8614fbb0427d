"""Rule-based phase label of a spin configuration: the oracle the surrogate learns from.

The rules follow ``physics.md`` 3.2 and are applied in this order; the first that fits wins,
and a configuration that no rule fits is UNKNOWN (never forced into a wrong label):

1. PARAMAGNET: no Bragg weight, ``max_q S(q) < 0.05`` (``q = 0`` included); at ``T > 0``
   also a disordered state with a field-induced moment (``max_{q != 0} S(q) < 0.05`` and
   ``|m| <= 0.5``), since a field breaks no symmetry.
2. FERROMAGNET: zero net charge, ``|m| > 0.95`` (0.5 at ``T > 0``) and no modulated pair
   above 0.02. Sub-label ``polarized`` (``m_xy < 0.05``) or ``canted``.
3. Net charge (``|Q_total| >= 1/2``):
   MERON_ANTIMERON when the primary peaks are one orthogonal, equal-length pair, they are
   in-plane dominated (``S_perp > 2 S_z``), the in-plane angle has at least one
   vortex-antivortex pair per magnetic cell (two are expected) and the minority-sign charge
   is a sizeable part (``>= 10 %`` of ``|Q+| + |Q-|``, or ``>= 0.3`` per magnetic cell);
   otherwise SKYRMION when one sign dominates (minority ``< 25 %``); otherwise UNKNOWN.
4. No net charge: MERON_ANTIMERON for the square in-plane pair with vortex-antivortex
   pairs and both signs ``>= 0.3`` per cell; SINGLE_Q when every primary peak is a multiple
   of one ``Q`` (so an anharmonic, soliton-like modulation whose ``2Q`` outweighs ``Q`` still
   counts) and that ``+-Q`` family with its harmonics carries ``> 80 %`` of the modulated
   weight; DOUBLE_Q / TRIPLE_Q for two / three primary pairs (each
   ``>= 25 %`` of the strongest, three only when ``Q1 +- Q2 +- Q3 = 0`` within one grid
   step) whose integer combinations carry ``> 80 %`` of it; UNKNOWN otherwise.

The number of magnetic cells is ``|det(n_a, n_b)|`` of the grid labels of the two strongest
independent primary wavevectors (the torus area over the cell area).

Confidence is the smallest of the rule's margins (each mapped linearly to [0, 1] between its
threshold and a "clearly satisfied" value) and, when the solver's energy gap to the best state
with a different label is known (``GroundState.label_gap``), ``1 - exp(-gap / 1e-4)``. For
SINGLE_Q one margin is the harmonic content: the fundamental's share of the family weight,
1 at ``>= 0.6`` (a helix), falling to 0 at 0.2 (a soliton lattice of narrow kinks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from spinexplore.physics._peaks import reduce_q
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


def _n_cells(peaks: list[dict[str, Any]]) -> int | None:
    for i in range(len(peaks)):
        for j in range(i + 1, min(len(peaks), 3)):
            a, b = peaks[i]["n"], peaks[j]["n"]
            det = abs(a[0] * b[1] - a[1] * b[0])
            if det:
                return int(det)
    return None


def _lattice_weight(peaks: list[dict[str, Any]], sq: np.ndarray, lattice: Lattice) -> float:
    """Weight of ``S(q)`` on all integer combinations of the peaks' wavevectors, ``q != 0``.

    For one peak this is the ``+-Q`` family with its harmonics; for two or three it is the
    reciprocal lattice of the magnetic cell (harmonics and ``Q1 +- Q2`` included).
    """
    L = lattice.L
    gens = [np.asarray(p["n"], dtype=np.int64) for p in peaks]
    reached = np.zeros((L, L), dtype=bool)
    reached[0, 0] = True
    frontier = [np.zeros(2, dtype=np.int64)]
    while frontier:  # closure of the subgroup generated by the peaks in Z_L x Z_L
        nxt = []
        for v in frontier:
            for g in gens:
                for w in (v + g, v - g):
                    w %= L
                    if not reached[w[0], w[1]]:
                        reached[w[0], w[1]] = True
                        nxt.append(w)
        frontier = nxt
    reached[0, 0] = False
    n1, n2 = np.nonzero(reached)
    return float(sq[n1 + L * n2].sum())


def _pair_weight(n: list[int], sq: np.ndarray, lattice: Lattice) -> float:
    """``S(Q) + S(-Q)`` for the grid label ``n``."""
    L = lattice.L
    a = (n[0] % L) + L * (n[1] % L)
    b = ((-n[0]) % L) + L * ((-n[1]) % L)
    return float(sq[a] + (sq[b] if b != a else 0.0))


def _common_generator(peaks: list[dict[str, Any]], lattice: Lattice) -> dict[str, Any] | None:
    """The shortest primary peak when every primary peak is a multiple of it, else None.

    An anharmonic (soliton-like) single-Q state can carry more weight in ``2Q`` or ``3Q`` than
    in ``Q``; the peak finder then lists ``Q`` as a second primary although it generates the
    others. Multiples are taken modulo the torus (``k Q = Q' mod L`` for some ``k``).
    """
    if not peaks:
        return None
    L = lattice.L
    g = min(peaks, key=lambda p: p["norm"])
    gn = np.asarray(g["n"], dtype=np.int64)
    multiples = {tuple(int(x) for x in (k * gn) % L) for k in range(1, L)}
    for p in peaks:
        if tuple(int(x) for x in np.asarray(p["n"], dtype=np.int64) % L) not in multiples:
            return None
    return g


def _square_pair(p1: dict[str, Any], p2: dict[str, Any], th: Thresholds) -> tuple[float, float]:
    """Margins for 'orthogonal' and 'equal length' of two peaks."""
    q1, q2 = np.asarray(p1["q"]), np.asarray(p2["q"])
    cosang = abs(float(q1 @ q2)) / (p1["norm"] * p2["norm"])
    angle = math.degrees(math.acos(min(1.0, cosang)))  # in [0, 90]
    length = abs(p1["norm"] - p2["norm"]) / max(p1["norm"], p2["norm"])
    tol_a, tol_l = th.square_angle_deg, th.square_length
    return _ramp(angle, 90.0 - tol_a, 90.0 - tol_a / 2), _ramp(length, tol_l, tol_l / 2)


def _closes(peaks: list[dict[str, Any]], lattice: Lattice) -> tuple[bool, float]:
    """Whether ``Q1 +- Q2 +- Q3`` vanishes within one grid step, and the residual norm."""
    step = float(np.max(np.linalg.norm(lattice.b, axis=1))) / lattice.L * 1.01
    n = [np.asarray(p["n"]) for p in peaks[:3]]
    best = math.inf
    for s2 in (1, -1):
        for s3 in (1, -1):
            _, _, norm = reduce_q(n[0] + s2 * n[1] + s3 * n[2], lattice)
            best = min(best, norm)
    return best <= step, best


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
    thermal = temperature > 0
    sq = np.asarray(obs["sq_inplane"]) + np.asarray(obs["sq_z"])
    peaks = list(obs["peaks"])
    n_peaks = int(obs["n_peaks"])
    W = max(float(obs["sq_modulated"]), 1e-300)
    q_tot, q_plus, q_minus = float(obs["Q_total"]), float(obs["Q_plus"]), float(obs["Q_minus"])
    charge_abs = q_plus - q_minus
    minority = min(q_plus, -q_minus)
    minority_frac = minority / charge_abs if charge_abs > 1e-6 else 0.0
    n_cells = _n_cells(peaks) if 2 <= n_peaks <= 3 else None
    top = peaks[0]["weight"] if peaks else 0.0
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
    margins: dict[str, float] = {}

    def done(phase: PhaseType, rule: str) -> Classification:
        if energy_gap is not None:
            margins["energy_gap"] = 1.0 - math.exp(-float(energy_gap) / th.gap_scale)
        conf = min(margins.values()) if margins else 0.5
        evidence["rule"] = rule
        evidence["margins"] = {k: float(v) for k, v in margins.items()}
        return Classification(phase, float(min(1.0, max(0.0, conf))), evidence)

    # 1. paramagnet
    if obs["sq_max"] < th.paramagnet_sq:
        margins["sq_max"] = _ramp(obs["sq_max"], th.paramagnet_sq, th.paramagnet_sq / 2)
        return done(PhaseType.PARAMAGNET, "max S(q) below the ordering threshold")
    sq_bragg = float(np.max(sq[1:])) if sq.size > 1 else 0.0
    evidence["sq_bragg"] = sq_bragg
    if thermal and sq_bragg < th.paramagnet_sq and obs["m_abs"] <= th.fm_m_abs_thermal:
        # a field-induced moment on a disordered state: no symmetry is broken
        margins["sq_bragg"] = _ramp(sq_bragg, th.paramagnet_sq, th.paramagnet_sq / 2)
        margins["m_abs"] = _ramp(obs["m_abs"], th.fm_m_abs_thermal, 0.8 * th.fm_m_abs_thermal)
        return done(PhaseType.PARAMAGNET, "no Bragg peak at q != 0 and a moderate induced moment")

    topological = abs(q_tot) >= 0.5
    # 2. ferromagnet
    m_min = th.fm_m_abs_thermal if thermal else th.fm_m_abs
    if not topological and obs["m_abs"] > m_min and top < th.fm_peak:
        margins["m_abs"] = _ramp(obs["m_abs"], m_min, (1.0 + m_min) / 2)
        margins["peak"] = _ramp(top, th.fm_peak, th.fm_peak / 2)
        evidence["sub_label"] = "polarized" if obs["m_xy"] < th.polarized_m_xy else "canted"
        return done(PhaseType.FERROMAGNET, "uniform magnetization without Bragg peaks")

    square = None
    if n_peaks == 2:
        square = _square_pair(peaks[0], peaks[1], th)
    per_cell_minority = minority / n_cells if n_cells else 0.0
    # 3./4. meron-antimeron crystal (square in-plane pair with charge of both signs)
    if square is not None and min(square) > 0 and inplane_ratio > th.meron_inplane_ratio:
        if topological:
            blob = max(
                _ramp(minority_frac, th.meron_minority, 1.5 * th.meron_minority),
                _ramp(per_cell_minority, th.meron_minority_per_cell, 1.5 * th.meron_minority_per_cell),
            )
        else:
            blob = _ramp(per_cell_minority, th.meron_minority_per_cell, 1.5 * th.meron_minority_per_cell)
        pairs = min(int(obs["n_vortices"]), int(obs["n_antivortices"])) / n_cells if n_cells else 0.0
        evidence["vortex_pairs_per_cell"] = float(pairs)
        if blob > 0 and pairs >= 1.0:
            margins["orthogonal"], margins["equal_length"] = square
            margins["inplane_ratio"] = _ramp(inplane_ratio, th.meron_inplane_ratio, 1.5 * th.meron_inplane_ratio)
            margins["merons"] = blob
            margins["secondary"] = _ramp(peaks[1]["weight"] / top, th.secondary, 2 * th.secondary)
            return done(
                PhaseType.MERON_ANTIMERON,
                "square in-plane double-Q with meron charges of both signs",
            )

    if topological:
        if minority_frac < th.skyrmion_minority:
            margins["one_sign"] = _ramp(minority_frac, th.skyrmion_minority, th.skyrmion_minority - 0.1)
            margins["charge_integer"] = _ramp(abs(q_tot - round(q_tot)), 0.25, 0.1)
            if n_cells:
                per_cell = abs(q_tot) / n_cells
                evidence["Q_per_cell"] = q_tot / n_cells
                margins["charge_per_cell"] = _ramp(abs(per_cell - 1.0), 0.5, 0.25)
            return done(PhaseType.SKYRMION, "net topological charge of one sign")
        margins["minority"] = _ramp(minority_frac, th.skyrmion_minority, th.meron_minority)
        return done(PhaseType.UNKNOWN, "net charge with both signs but no square in-plane pair")

    if not peaks:
        return done(PhaseType.UNKNOWN, "no Bragg peak and not uniform")

    frac_min = th.single_q_fraction_thermal if thermal else th.single_q_fraction
    full = (1.0 + frac_min) / 2
    generator = _common_generator(peaks, lattice)
    if generator is not None:  # one +-Q family: every primary peak is a harmonic of one Q
        frac = _lattice_weight([generator], sq, lattice) / W
        fundamental = _pair_weight(generator["n"], sq, lattice) / max(frac * W, 1e-300)
        evidence["single_q_fraction"] = float(frac)
        evidence["fundamental_fraction"] = float(min(1.0, fundamental))
        evidence["Q_single"] = [int(x) for x in generator["n"]]
        if frac > frac_min:
            margins["fraction"] = _ramp(frac, frac_min, full)
            margins["harmonics"] = _ramp(fundamental, th.fundamental_low, th.fundamental_high)
            rule = ("one +-Q family carries the modulated weight" if fundamental >= th.fundamental_high
                    else "one anharmonic +-Q family (harmonics included) carries the modulated weight")
            return done(PhaseType.SINGLE_Q, rule)
    if n_peaks == 1:
        frac = _lattice_weight(peaks[:1], sq, lattice) / W
        evidence["single_q_fraction"] = float(frac)
        margins["fraction"] = _ramp(frac, frac_min, frac_min / 2)
        return done(PhaseType.UNKNOWN, "one peak but diffuse modulated weight")

    weak = peaks[min(n_peaks, 3) - 1]["weight"] / top
    if n_peaks == 2:
        frac = _lattice_weight(peaks[:2], sq, lattice) / W
        margins["secondary"] = _ramp(weak, th.secondary, 2 * th.secondary)
        margins["fraction"] = _ramp(frac, frac_min, full)
        evidence["multi_q_fraction"] = float(frac)
        if frac > frac_min:
            return done(PhaseType.DOUBLE_Q, "two primary +-Q pairs")
        return done(PhaseType.UNKNOWN, "two peaks but diffuse modulated weight")
    if n_peaks == 3:
        closes, residual = _closes(peaks, lattice)
        evidence["triple_q_residual"] = float(residual)
        frac = _lattice_weight(peaks[:3], sq, lattice) / W
        evidence["multi_q_fraction"] = frac
        if closes:
            margins["secondary"] = _ramp(weak, th.secondary, 2 * th.secondary)
            margins["fraction"] = _ramp(frac, frac_min, full)
            return done(PhaseType.TRIPLE_Q, "three primary +-Q pairs with Q1 + Q2 + Q3 = 0")
        return done(PhaseType.UNKNOWN, "three primary pairs that do not close")
    return done(PhaseType.UNKNOWN, f"{n_peaks} primary pairs")
