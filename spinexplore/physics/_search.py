"""The stages of the ``T == 0`` ground-state search of :func:`spinexplore.physics.solver.simulate`.

Read beside ``physics.md`` 1.5 ("relax the annealed state AND relaxed ansatz states and keep the
lowest energy") and the numbered stages of the solver's docstring: 1. :func:`coarse_relaxation`
of the ansatz states, 2. :func:`anneal_candidates` (:func:`anneal_from_random_state`),
3. :func:`refine` (:func:`refine_to_mid_torque`, :func:`refine_to_full_torque`),
4. :func:`pick_ground_state` (:func:`pick_winner`, :func:`texture_gap`,
:func:`label_and_label_gap`). A candidate is a :class:`Candidate`; what every stage reads (the
model, the coupling tables, the budget, the clock, the statistics) is one :class:`Search`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spinexplore.physics import _lbfgs, _lbfgs_pairs
from spinexplore.physics._ansatz import make_candidates
from spinexplore.physics._sampling import anneal, checkpoint_marks, next_mark, rng_state
from spinexplore.physics._texture_id import fingerprint, label_gap, same_texture
from spinexplore.physics.energy import TORQUE_TOL, energy_scale
from spinexplore.physics.lattice import Lattice
from spinexplore.physics.model import SpinModel
from spinexplore.physics.textures import random_spins

__all__ = ["Candidate", "Clock", "Search", "Stats", "Verdict", "anneal_candidates",
           "anneal_from_random_state", "coarse_relaxation", "label_and_label_gap", "pick_ground_state",
           "pick_winner", "refine", "refine_to_full_torque", "refine_to_mid_torque", "texture_gap"]

#: Families from simplest to most complex: a tie (the same state) goes to the first.
FAMILY_ORDER = {name: k for k, name in enumerate(
    ("fm_z", "fm_canted", "fm_inplane", "helix", "cone", "single_q", "double_q", "triple_q",
     "anneal"))}
#: Candidates within this (J per spin) of the lowest energy are the same state up to convergence.
TIE = 1e-9
GENERAL_COARSE_ITER = 3000  # iteration cap of the coarse pass for the many general single-Q states
#: Candidates per compiled relaxation call (the timeout is checked between calls).
BATCH = 64
#: Iterations every general single-Q state gets before the search decides whether it goes on.
BRIEF_ITER = 10
#: A general single-Q state goes on to the coarse torque only when its energy after
#: BRIEF_ITER iterations lies within this (J per spin) of the best candidate's at that point.
#: Measured on 25 points per preset box (L = 24): the winner and every state within 2e-3 of it
#: are kept down to 0.02; 0.05 leaves a factor 2.5 of room.
BRIEF_WINDOW = 0.05
#: Fractions of an anneal's sweeps at which a quenched copy decides whether it goes on: the
#: margin rule from 30 % to 50 % (a quenched copy within the margin then rarely leaves it) and
#: the frozen rule at 90 % (against 80 %).
ANNEAL_CHECKPOINTS = (0.3, 0.4, 0.5, 0.8, 0.9)
#: The margin rule applies from this fraction of the sweeps on (earlier the state may still order).
ANNEAL_MARGIN_FROM = 0.3
#: The frozen rule applies from this fraction on: earlier, quenches can agree over several
#: checkpoints and the anneal still heal (square preset, fast, audit seeds: at h/u = 0.96,
#: K/u = 0.75 judged frozen at 30 % it missed the winner by 1.1e-7 J per spin, at h/u = 0.24,
#: K/u = 0.75 judged frozen at 60 % by 1.6e-4; issue 20).
ANNEAL_FROZEN_FROM = 0.9
#: An anneal whose quenched copy lies this far (J per spin) above the best coarse ansatz state
#: at a checkpoint stops there: its defects (>= ~1e-3 J per spin each at L = 24) do not heal.
#: (1e-3 lost the fast square skyrmion at h/u = 0.24, K/u = 0.75 by 1.6e-4; issue 20.)
ANNEAL_MARGIN = 5e-3
#: Two checkpoints whose quenched energies agree within this (J per spin) mean a frozen anneal.
ANNEAL_FROZEN = 2e-5
#: A frozen anneal goes on only when it lies this far below the best coarse ansatz state.
ANNEAL_WINNING = 1e-5
#: A quench only the margin rule reads ends this far (J per spin) below the margin (its answer).
QUENCH_STOP_SLACK = 1e-6
#: A candidate at the coarse torque whose energy lies this far (J per spin) above the best
#: fully relaxed one is not relaxed further: it cannot win. Measured on 36 points of each
#: preset's box (screening and fast, L = 24): the full relaxation lowers a state at the coarse
#: torque by at most 3.1e-4 (99 % by under 5e-6).
REFINE_DROP = 1e-3
#: The full relaxation goes in two steps: every candidate it takes on to this torque, then
#: only those within REFINE_MID_WINDOW (J per spin) of the best to 0.5 TORQUE_TOL. Measured
#: on 36 points of the square box (fast): the second step lowers a state by at most 8.2e-7.
REFINE_MID = 1e-5
REFINE_MID_WINDOW = 1e-5
#: Families relaxed with the exact arithmetic of earlier releases (``_lbfgs.relax`` with
#: ``exact=True``; the others take reassociated dot products and a two-pass objective, about 2x
#: faster per iteration). A helix starts on a symmetric saddle and rounding picks the minimum it
#: falls into: with the fast arithmetic the square preset's ``accurate`` lost a meron-antimeron
#: state (h/u = 1.2, K/u = 1.375; issue 20). The other families are checked against eae91a8 by
#: the audit and the solver benchmark; an anneal's final quench is one call.
EXACT_FAMILIES = frozenset({"fm_z", "fm_canted", "fm_inplane", "helix", "anneal"})
#: L-BFGS memory (stored pairs) of the exact arithmetic, and of the others: six pairs take
#: about as many iterations as ten on the coarse relaxations of both preset boxes (L = 24) at
#: 25-30 % less cost per iteration (issue 20; checked by the audit and the solver benchmark).
MEMORY = 10
MEMORY_FAST = 6


class Clock:
    """Wall time since the search began, and the ``timeout`` checked between stages."""

    def __init__(self, timeout: float | None):
        self.t0 = time.perf_counter()
        self.timeout = timeout

    def check(self, stage: str) -> None:
        """Raise ``TimeoutError`` naming ``stage`` once the timeout is exceeded."""
        if self.timeout is not None and time.perf_counter() - self.t0 > self.timeout:
            raise TimeoutError(
                f"simulate exceeded timeout={self.timeout!r} s during {stage} "
                f"({time.perf_counter() - self.t0:.2f} s elapsed)"
            )

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0


class Stats:
    """Where one ground-state search spent its time (``GroundState.stats``)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.iterations: dict[str, int] = {}
        self.counts: dict[str, int] = {}

    def add(self, stage: str, seconds: float, iterations: int | None = None) -> None:
        """Add the CPU ``seconds`` (and the relaxation ``iterations``) of ``stage``."""
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds
        if iterations is not None:
            self.count_iterations(stage, iterations)

    def count_iterations(self, stage: str, iterations: int) -> None:
        """Add relaxation ``iterations`` to ``stage``."""
        self.iterations[stage] = self.iterations.get(stage, 0) + iterations

    def as_dict(self) -> dict:
        return {"seconds": dict(self.seconds), "iterations": dict(self.iterations),
                **self.counts}


@dataclass(frozen=True, eq=False)
class Search:
    """What every stage of one ground-state search reads: the model on its torus, the coupling
    tables of :func:`~spinexplore.physics.energy.couplings`, the budget, the clock and the
    statistics it adds to. ``preset`` is a :class:`spinexplore.physics.solver.Preset` (not
    imported: the solver imports this module, as it does ``_sampling``)."""

    model: SpinModel
    lattice: Lattice
    preset: Any
    nbr: np.ndarray
    mats: np.ndarray
    clock: Clock
    stats: Stats = field(default_factory=Stats)

    def relax(self, spins: np.ndarray, tol: float, exact: bool) -> tuple[float, float, int]:
        """Relax ``spins`` in place to the torque ``tol``: (energy per spin, torque, iterations)."""
        e, t, it = _lbfgs.relax(spins, self.nbr, self.mats, self.model.K, self.model.h, tol,
                                  self.preset.max_iter, MEMORY if exact else MEMORY_FAST, exact,
                                  -math.inf)
        return e / self.lattice.N, t, int(it)


@dataclass(eq=False)
class Candidate:
    """One candidate state: its family (``helix``, ``triple_q``, ..., ``anneal``), its name
    (``family:detail``), its spins (relaxed in place), energy per spin and max torque as the
    stages leave them, and its texture fingerprint, read once per relaxed state."""

    family: str
    name: str
    spins: np.ndarray
    energy: float
    torque: float
    _fingerprint: tuple | None = field(default=None, repr=False)

    @property
    def exact(self) -> bool:
        """Whether the family is relaxed with the exact arithmetic (:data:`EXACT_FAMILIES`)."""
        return self.family in EXACT_FAMILIES

    def fingerprint(self, lattice: Lattice) -> tuple:
        """The texture fingerprint (:func:`~spinexplore.physics._texture_id.fingerprint`), cached."""
        if self._fingerprint is None:
            self._fingerprint = fingerprint(self.spins, lattice)
        return self._fingerprint

    def relaxed(self, energy: float, torque: float) -> None:
        """Record a further relaxation (the fingerprint read before it no longer holds)."""
        self.energy, self.torque = energy, torque
        self._fingerprint = None


# ---------------------------------------------------------------- 1. coarse relaxation ------


def coarse_relaxation(search: Search) -> list[Candidate]:
    """Stage 1: every ansatz state of the preset relaxed to the coarse torque, many per call.

    The general single-Q states (family ``single_q``, the bulk of the list) first get
    :data:`BRIEF_ITER` iterations; only those that then lie within :data:`BRIEF_WINDOW` of the
    best brief energy of any candidate (and the best of them) go on, up to
    :data:`GENERAL_COARSE_ITER` iterations.
    """
    model, lattice, preset, clock = search.model, search.lattice, search.preset, search.clock
    N = lattice.N
    t0 = time.process_time()
    ansatz = make_candidates(model, lattice, preset.ansatz)
    n_c = len(ansatz)
    stack = np.array([c.spins for c in ansatz], dtype=np.float64)
    general = np.array([c.family == "single_q" for c in ansatz])
    caps = np.where(general, min(GENERAL_COARSE_ITER, preset.max_iter), preset.max_iter)
    exact = np.array([c.family in EXACT_FAMILIES for c in ansatz])
    energies = np.empty(n_c)
    torques = np.empty(n_c)
    iters = np.zeros(n_c, dtype=np.int64)

    def relax_batch(idx: np.ndarray, tol: float, max_iters: np.ndarray, stage: str) -> None:
        for first in range(0, len(idx), BATCH):
            part = idx[first:first + BATCH]
            sub = np.ascontiguousarray(stack[part])
            e, t, it = np.empty(len(part)), np.empty(len(part)), np.empty(len(part), np.int64)
            _lbfgs_pairs.relax_many(sub, search.nbr, search.mats, model.K, model.h, tol,
                                np.ascontiguousarray(max_iters[first:first + BATCH]), MEMORY,
                                np.ascontiguousarray(exact[part]), e, t, it, MEMORY_FAST)
            stack[part] = sub
            energies[part], torques[part] = e / N, t
            iters[part] += it
            clock.check(stage)

    relax_batch(np.arange(n_c), preset.coarse_tol,
                np.where(general, BRIEF_ITER, caps).astype(np.int64), "relaxing the candidates")
    going_on = np.flatnonzero(general & (energies <= energies.min() + BRIEF_WINDOW)
                              & (torques > preset.coarse_tol))
    if general.any():
        lowest = np.flatnonzero(general)[np.argmin(energies[general])]
        if torques[lowest] > preset.coarse_tol and lowest not in going_on:
            going_on = np.sort(np.append(going_on, lowest))
    relax_batch(going_on, preset.coarse_tol, caps[going_on] - BRIEF_ITER,
                "relaxing the general single-Q candidates")
    candidates = [Candidate(c.family, c.name, stack[k], energies[k], torques[k])
                  for k, c in enumerate(ansatz)]
    search.stats.add("coarse", time.process_time() - t0, iterations=int(iters.sum()))
    search.stats.counts["brief_only"] = int(general.sum() - len(going_on))
    return candidates


# ---------------------------------------------------------------- 2. anneals ----------------


def anneal_candidates(search: Search, children: list[np.random.SeedSequence],
                      ansatz: list[Candidate]) -> list[Candidate]:
    """Stage 2: ``preset.n_anneal`` anneals from random states (``children[r]`` seeds the r-th),
    each judged against the best coarse ansatz state (:func:`anneal_from_random_state`)."""
    t0 = time.process_time()
    e_ansatz = min(c.energy for c in ansatz) if ansatz else math.inf
    annealed = []
    for r in range(search.preset.n_anneal):
        s, e, t = anneal_from_random_state(search, children[r], e_ansatz)
        annealed.append(Candidate("anneal", f"anneal:{r}", s, e, t))
        search.clock.check("relaxing the annealed state")
    search.stats.add("anneal", time.process_time() - t0)
    return annealed


def anneal_from_random_state(search: Search, child: np.random.SeedSequence,
                             e_ref: float) -> tuple[np.ndarray, float, float]:
    """One anneal from a random state, relaxed to the coarse torque: (spins, E per spin, torque).

    Metropolis with an adaptive step and geometric cooling from ``energy_scale`` to 1 % of it
    (over-relaxation when ``K == 0``). At every checkpoint (:data:`ANNEAL_CHECKPOINTS`) a copy is
    relaxed to the coarse torque; the anneal stops there, and that copy is its result, when the
    copy lies more than :data:`ANNEAL_MARGIN` above ``e_ref`` (the best coarse ansatz energy), or
    when it repeats the previous checkpoint's energy (a frozen anneal, from
    :data:`ANNEAL_FROZEN_FROM` of the sweeps on) without lying :data:`ANNEAL_WINNING` below
    ``e_ref``. An anneal that can still win runs to the end.
    """
    model, lattice, preset, stats = search.model, search.lattice, search.preset, search.stats
    nbr, mats = search.nbr, search.mats
    N = lattice.N
    scale = energy_scale(model)
    s = random_spins(lattice, child)
    temps = np.geomspace(1.0 * scale, 0.01 * scale, preset.anneal_sweeps)
    quenched: list[tuple[np.ndarray, float, float]] = []
    margin_from = ANNEAL_MARGIN_FROM * len(temps)
    frozen_from = ANNEAL_FROZEN_FROM * len(temps)
    marks = checkpoint_marks(len(temps), ANNEAL_CHECKPOINTS)

    def stop(state: np.ndarray, sweeps: int) -> bool:
        q = state.copy()
        # no frozen test reads this quench (here or at the next checkpoint, which compares the
        # two): it may end once the margin rule's answer is known, since an accepted L-BFGS
        # step raises E by at most 1e-12 (|E| + 1); the results do not change
        alone = margin_from <= sweeps and max(sweeps, next_mark(marks, sweeps)) < frozen_from
        e_stop = (e_ref + ANNEAL_MARGIN - QUENCH_STOP_SLACK) * N if alone else -math.inf
        e, t, it = _lbfgs.relax(q, nbr, mats, model.K, model.h, preset.coarse_tol,
                                  preset.max_iter, MEMORY_FAST, False, e_stop)
        stats.count_iterations("anneal_quench", int(it))
        e /= N
        frozen = bool(quenched) and abs(e - quenched[-1][1]) <= ANNEAL_FROZEN
        quenched.append((q, e, t))
        return ((sweeps >= margin_from and e > e_ref + ANNEAL_MARGIN)
                or (frozen and sweeps >= frozen_from and e > e_ref - ANNEAL_WINNING))

    _, done = anneal(s, nbr, mats, model, temps, preset.n_over, rng_state(child), search.clock,
                     checkpoints=ANNEAL_CHECKPOINTS, stop=stop)
    stats.counts["anneal_sweeps"] = stats.counts.get("anneal_sweeps", 0) + done
    if done < len(temps):
        return quenched[-1]
    e, t, it = _lbfgs.relax(s, nbr, mats, model.K, model.h, preset.coarse_tol, preset.max_iter,
                              MEMORY, True, -math.inf)
    stats.count_iterations("anneal_quench", int(it))
    return s, e / N, t


# ---------------------------------------------------------------- 3. refinement -------------


def refine(search: Search, candidates: list[Candidate]) -> int:
    """Stage 3: full relaxation of the promising candidates (in place); returns how many reached
    the full torque.

    The candidates within ``preset.refine_window`` of the lowest energy, and the best of every
    family, go to :data:`REFINE_MID` lowest first (:func:`refine_to_mid_torque`), then those
    within :data:`REFINE_MID_WINDOW` of the best to ``0.5 TORQUE_TOL``
    (:func:`refine_to_full_torque`).
    """
    t0 = time.process_time()
    partly, e_refined = refine_to_mid_torque(search, candidates)
    n_refined = refine_to_full_torque(search, [candidates[k] for k in partly], e_refined)
    search.stats.add("refine", time.process_time() - t0)
    return n_refined


def best_of_each_family(candidates: list[Candidate]) -> dict[str, int]:
    """Index of the lowest candidate of every family (the first one on a tie)."""
    best: dict[str, int] = {}
    for k, c in enumerate(candidates):
        if c.family not in best or c.energy < candidates[best[c.family]].energy:
            best[c.family] = k
    return best


def refine_to_mid_torque(search: Search, candidates: list[Candidate]) -> tuple[list[int], float]:
    """First step of :func:`refine`: (indices relaxed to :data:`REFINE_MID`, their best energy).

    Lowest first; a general single-Q state whose coarse texture repeats a refined one of its
    family with a lower coarse energy is a copy and is skipped, and so is a state at the coarse
    torque lying more than :data:`REFINE_DROP` above the best refined one (counted in
    ``refine_skipped``).
    """
    preset, stats = search.preset, search.stats
    e_min = min(c.energy for c in candidates)
    best_of_family = best_of_each_family(candidates)
    refined: list[tuple[tuple, float]] = []  # fingerprint and coarse energy (single-Q)
    e_refined = math.inf
    partly: list[int] = []
    stats.counts["refine_skipped"] = 0
    for k in sorted(range(len(candidates)), key=lambda k: candidates[k].energy):
        c = candidates[k]
        if not (c.energy <= e_min + preset.refine_window or best_of_family[c.family] == k):
            continue
        if c.torque <= preset.coarse_tol and c.energy > e_refined + REFINE_DROP:
            stats.counts["refine_skipped"] += 1
            continue
        if c.family == "single_q":  # only this family is checked for copies
            fp = c.fingerprint(search.lattice)
            if best_of_family[c.family] != k and any(
                    same_texture(fp, f) and e0 <= c.energy for f, e0 in refined):
                continue
            refined.append((fp, c.energy))
        e, t, it = search.relax(c.spins, REFINE_MID, c.exact)
        c.relaxed(e, t)
        e_refined = min(e_refined, c.energy)
        partly.append(k)
        stats.count_iterations("refine", it)
        search.clock.check(f"refining candidate {c.name}")
    return partly, e_refined


def refine_to_full_torque(search: Search, partly: list[Candidate], e_refined: float) -> int:
    """Second step of :func:`refine`: the states of ``partly`` within :data:`REFINE_MID_WINDOW`
    of ``e_refined`` (and any not yet at :data:`REFINE_MID`) to ``0.5 TORQUE_TOL``; returns
    how many."""
    n_refined = 0
    for c in partly:
        if c.torque <= REFINE_MID and c.energy > e_refined + REFINE_MID_WINDOW:
            continue
        e, t, it = search.relax(c.spins, 0.5 * TORQUE_TOL, c.exact)
        c.relaxed(e, t)
        n_refined += 1
        search.stats.count_iterations("refine", it)
        search.clock.check(f"refining candidate {c.name}")
    return n_refined


# ---------------------------------------------------------------- 4. the ground state -------


@dataclass(frozen=True)
class Verdict:
    """The outcome of :func:`pick_ground_state`: the winner's index, all indices lowest first,
    the texture gap, the winner's label and the gap to the best candidate with another label."""

    winner: int
    order: list[int]
    gap: float
    label: str
    label_gap: float


def pick_ground_state(search: Search, candidates: list[Candidate]) -> Verdict:
    """Stage 4: the winner (:func:`pick_winner`), its texture gap (:func:`texture_gap`), its label
    and the gap to the best other label (:func:`label_and_label_gap`)."""
    t0 = time.process_time()
    order = sorted(range(len(candidates)), key=lambda k: candidates[k].energy)
    w = pick_winner(candidates, order)
    gap = texture_gap(search.lattice, candidates, order, w)
    label, gap_label = label_and_label_gap(search.lattice, candidates, w)
    search.stats.add("classify", time.process_time() - t0)
    return Verdict(w, order, gap, label, gap_label)


def pick_winner(candidates: list[Candidate], order: list[int]) -> int:
    """The lowest relaxed energy among the converged candidates (torque <= ``TORQUE_TOL``; all
    when none is), ties (within :data:`TIE`: the same state) going to the simplest family."""
    converged = [k for k in order if candidates[k].torque <= TORQUE_TOL]
    pool = converged if converged else order
    ties = [k for k in pool if candidates[k].energy <= candidates[pool[0]].energy + TIE]
    return min(ties, key=lambda k: (FAMILY_ORDER.get(candidates[k].family, 99), candidates[k].energy))


def texture_gap(lattice: Lattice, candidates: list[Candidate], order: list[int], w: int) -> float:
    """Energy of the lowest candidate whose texture differs from the winner's (another set of
    main S(q) peaks, |m| or m_z, or charge; :func:`same_texture`) minus the winner's; ``inf``
    when every candidate relaxed into the winner's texture."""
    winner = candidates[w]
    f_best = winner.fingerprint(lattice)
    for k in order:
        if k != w and not same_texture(candidates[k].fingerprint(lattice), f_best):
            return max(candidates[k].energy - winner.energy, 0.0)
    return math.inf


def label_and_label_gap(lattice: Lattice, candidates: list[Candidate], w: int) -> tuple[str, float]:
    """The winner's phase label and the energy of the lowest candidate with another label minus
    the winner's (:func:`~spinexplore.physics._texture_id.label_gap`)."""
    winner = candidates[w]
    others = [c for k, c in enumerate(candidates) if k != w]
    return label_gap(winner.spins, [(c.spins, c.energy) for c in others], winner.energy, lattice,
                     fingerprint_of=lambda j: others[j].fingerprint(lattice),
                     winner_fingerprint=winner.fingerprint(lattice))
