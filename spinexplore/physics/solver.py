"""Ground-state search and finite-temperature sampling for :class:`SpinModel`.

``simulate`` runs, for ``T == 0``:

1. relaxation of every ansatz state of the preset (single-Q cycloids, cones about an in-plane
   axis, triple-Q and double-Q superpositions, FM along z, in-plane and canted FM; see
   :mod:`spinexplore.physics._ansatz`; and general single-Q states of every commensurate
   wavevector up to 1.6 q0, longest periods included, with the cone axis in-plane perpendicular
   or parallel to Q, along the field or tilted, and soliton-like anharmonic phases, see
   :mod:`spinexplore.physics._ansatz_single`) to a coarse torque, many states per compiled call;
   a general single-Q state goes on past its first ``_BRIEF_ITER`` iterations only while it lies
   within ``_BRIEF_WINDOW`` of the best candidate;
2. ``n_anneal`` simulated anneals from random states (Metropolis with an adaptive step,
   geometric cooling, over-relaxation when ``K == 0``), relaxed by L-BFGS; an anneal stops at a
   checkpoint once a quenched copy shows it cannot win (see :func:`_anneal`);
3. full relaxation of the promising candidates (and the best of every family; a general
   single-Q state whose coarse texture repeats a lower one is skipped, and so is a state that
   cannot win any more), in two steps (to a torque of ``_REFINE_MID``, then the states within
   ``_REFINE_MID_WINDOW`` of the best to the end);
4. the lowest relaxed energy wins (candidates within 1e-9 J per spin of it are the same state;
   the simplest family among them names the winner: fm_z, fm_canted, fm_inplane, helix, cone,
   single_q, double_q, triple_q, anneal). ``label`` is the winner's phase label and
   ``label_gap`` the energy of the best candidate with another label minus the winner's (what
   the confidence uses). ``gap`` is the energy of the best candidate whose relaxed
   *texture differs* from the winner's (another set of |Q| of the main S(q) peaks, |m| or m_z
   differing by >= 0.02, or another integer charge) minus the winner's energy, so two copies of
   one state never give ``gap = 0``; ``inf`` when every candidate relaxed into the winner's texture.
   A candidate stopped early counts with the energy it reached, so both gaps are upper bounds
   where they are far above the confidence scale (1e-4 J per spin).

For ``T > 0`` it finds the ``T = 0`` ground state with the same budget, heats it to ``T``
(equilibration at ``T``), and returns decorrelated snapshots in ``samples``. Starting from the
ground state avoids the defects a short anneal freezes in at low T; near a first-order melting
line the ordered state may persist somewhat above its equilibrium range (superheating).
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass, field

import numpy as np

from spinexplore._validation import check_choice, check_real
from spinexplore.physics import _kernels
from spinexplore.physics._ansatz import AnsatzBudget, make_candidates
from spinexplore.physics._ansatz_single import AXES
from spinexplore.physics._sampling import anneal, rng_state, sample
from spinexplore.physics._texture_id import fingerprint, label_gap, same_texture
from spinexplore.physics.energy import (  # re-exported: the energy API of the solver
    TORQUE_TOL,
    couplings,
    energy_per_spin,
    energy_scale,
    local_fields,
    max_torque,
    relax,
)
from spinexplore.physics.lattice import Lattice, make_lattice
from spinexplore.physics.model import SpinModel
from spinexplore.physics.textures import random_spins

__all__ = ["simulate", "GroundState", "MODES", "Preset", "PRESET_BUDGETS", "TORQUE_TOL",
           "couplings", "energy_per_spin", "local_fields", "max_torque", "relax"]

#: The budget presets of :func:`simulate` (keys of :data:`PRESET_BUDGETS`), cheapest first.
MODES = ("screening", "fast", "accurate")
_FAMILY_ORDER = {name: k for k, name in enumerate(
    ("fm_z", "fm_canted", "fm_inplane", "helix", "cone", "single_q", "double_q", "triple_q",
     "anneal"))}
_GENERAL_COARSE_ITER = 3000  # iteration cap of the coarse pass for the many general single-Q states


@dataclass(frozen=True)
class Preset:
    """Budget of one ``mode`` of :func:`simulate`."""

    n_anneal: int  # independent annealing restarts
    anneal_sweeps: int  # Metropolis sweeps per anneal
    n_over: int  # over-relaxation sweeps per Metropolis sweep (K == 0 only)
    ansatz: AnsatzBudget
    coarse_tol: float  # torque of the first relaxation pass
    refine_window: float  # energy window (per spin) above the best for full relaxation
    max_iter: int
    # finite temperature
    t_sweeps: int  # annealing sweeps down to T
    eq_sweeps: int
    n_samples: int
    decor_sweeps: int


# The ansatz sets are nested (screening within fast within accurate) and relaxed identically,
# so a larger budget never returns a higher energy.
PRESET_BUDGETS = {
    "screening": Preset(
        n_anneal=0, anneal_sweeps=0, n_over=1,
        ansatz=AnsatzBudget(n_single=3, both_chiralities=False, offsets=(0.0, 0.5), n_cone=3,
                            cone_amplitudes=(1.0,), n_triple=3, triple_offsets=(0.5, 0.0),
                            n_double=4, double_variants=((0.5, 0.4),),
                            general_qmax=1.6, general_orbits=6, general_axes=("perp",),
                            general_offsets=(1.0,)),
        coarse_tol=1e-3, refine_window=2e-3, max_iter=20000,
        t_sweeps=300, eq_sweeps=300, n_samples=4, decor_sweeps=25,
    ),
    "fast": Preset(
        n_anneal=2, anneal_sweeps=1500, n_over=1,
        ansatz=AnsatzBudget(n_single=5, both_chiralities=True, offsets=(0.0, 0.5), n_cone=3,
                            cone_amplitudes=(1.0, 2.0), n_triple=5, triple_offsets=(0.5, 0.0, 1.0),
                            n_double=16, double_variants=((0.5, 0.4), (0.0, 1.0)),
                            general_qmax=1.6, general_orbits=40, general_axes=("perp", "-perp", "par"),
                            general_offsets=(1.0,)),
        coarse_tol=1e-3, refine_window=3e-3, max_iter=20000,
        t_sweeps=1500, eq_sweeps=1500, n_samples=10, decor_sweeps=50,
    ),
    "accurate": Preset(
        n_anneal=3, anneal_sweeps=8000, n_over=2,
        ansatz=AnsatzBudget(n_single=10, both_chiralities=True, offsets=(0.0, 0.5, 1.0),
                            n_cone=6, cone_amplitudes=(1.0, 2.0, 0.4), n_triple=12,
                            triple_offsets=(0.5, 0.0, 1.0, 1.5), n_double=30,
                            double_variants=((0.5, 0.4), (0.0, 1.0), (0.0, 0.3), (1.0, 1.0)),
                            general_qmax=1.6, general_orbits=40, general_axes=AXES,
                            general_offsets=(1.0, 0.4), general_solitons=(0.0, 0.5)),
        coarse_tol=1e-3, refine_window=5e-3, max_iter=50000,
        t_sweeps=6000, eq_sweeps=6000, n_samples=20, decor_sweeps=100,
    ),
}


@dataclass(frozen=True, eq=False)
class GroundState:
    """Result of :func:`simulate`.

    Attributes
    ----------
    spins : ndarray of shape (N, 3)
        Unit vectors of the winning relaxed state (the last snapshot when ``T > 0``).
    lattice : Lattice
    model : SpinModel
    energy : float
        Energy per spin in units of J1 (the sample mean when ``T > 0``).
    candidates : tuple of (str, float)
        ``("family:detail", energy per spin)`` of every relaxed candidate, lowest first.
    best : str
        Family of the winner: ``anneal``, ``helix``, ``cone``, ``single_q``, ``triple_q``,
        ``double_q``, ``fm_z``, ``fm_inplane``, ``fm_canted`` (``thermal`` when ``T > 0``).
    gap : float
        Energy per spin of the best candidate with a different texture minus ``energy``
        (``>= 0``; ``inf`` when there is none, and always when ``T > 0``).
    label : str or None
        Phase label (``PhaseType`` name) of ``spins`` by
        :func:`~spinexplore.physics.classify.classify`; None when ``T > 0``.
    label_gap : float
        Energy per spin of the best candidate whose label differs from ``label`` minus
        ``energy`` (``>= 0``; ``inf`` when every candidate has the winner's label, and when
        ``T > 0``): the distance to a phase boundary that the confidence uses.
    stats : dict
        Where the search spent its time (``T == 0``): ``seconds`` and ``iterations`` per stage
        (``coarse``: the ansatz states to the coarse torque; ``anneal``: the anneals with their
        quenches; ``refine``: the full relaxations; ``classify``: fingerprints, labels and
        gaps), ``candidates`` (relaxed states), ``refined`` (relaxed fully),
        ``anneal_sweeps`` (Metropolis sweeps run), ``brief_only`` (general single-Q states
        stopped after their brief relaxation) and ``refine_skipped`` (states in the refinement
        window skipped as unable to win). Empty when ``T > 0``.
    max_torque : float
        Max ``|S_i x dE/dS_i|`` of ``spins``.
    mode : str
    seed : int
        The integer seed that reproduces this result: ``simulate(..., seed=result.seed)``.
    duration : float
        Wall time in seconds.
    samples : ndarray of shape (n_samples, N, 3) or None
        Decorrelated equilibrium snapshots when ``T > 0``.
    T : float
    energy_error : float
        Standard error of ``energy`` when ``T > 0`` (the snapshots' energies, binned); NaN at
        ``T = 0``.
    """

    spins: np.ndarray = field(repr=False)
    lattice: Lattice = field(repr=False)
    model: SpinModel
    energy: float
    candidates: tuple[tuple[str, float], ...] = field(repr=False)
    best: str
    gap: float
    max_torque: float
    mode: str
    seed: int
    duration: float
    samples: np.ndarray | None = field(default=None, repr=False)
    T: float = 0.0
    label: str | None = None
    label_gap: float = math.inf
    energy_error: float = math.nan
    stats: dict = field(default_factory=dict, repr=False, compare=False)


# --------------------------------------------------------------------- simulate ------------


#: Candidates per compiled relaxation call (the timeout is checked between calls).
_BATCH = 64
#: Iterations every general single-Q state gets before the search decides whether it goes on.
_BRIEF_ITER = 10
#: A general single-Q state goes on to the coarse torque only when its energy after
#: _BRIEF_ITER iterations lies within this (J per spin) of the best candidate's at that point.
#: Measured on 25 points per preset box (L = 24): the winner and every state within 2e-3 of it
#: are kept down to 0.02; 0.05 leaves a factor 2.5 of room.
_BRIEF_WINDOW = 0.05
#: Fractions of an anneal's sweeps at which a quenched copy decides whether it goes on: the
#: margin rule from 30 % to 50 % (a quenched copy within the margin then rarely leaves it) and
#: the frozen rule at 90 % (against 80 %).
_ANNEAL_CHECKPOINTS = (0.3, 0.4, 0.5, 0.8, 0.9)
#: The margin rule applies from this fraction of the sweeps on (earlier the state may still order).
_ANNEAL_MARGIN_FROM = 0.3
#: The frozen rule applies from this fraction on: earlier, quenches can agree over several
#: checkpoints and the anneal still heal (square preset, fast, audit seeds: at h/u = 0.96,
#: K/u = 0.75 judged frozen at 30 % it missed the winner by 1.1e-7 J per spin, at h/u = 0.24,
#: K/u = 0.75 judged frozen at 60 % by 1.6e-4; issue 20).
_ANNEAL_FROZEN_FROM = 0.9
#: An anneal whose quenched copy lies this far (J per spin) above the best coarse ansatz state
#: at a checkpoint stops there: its defects (>= ~1e-3 J per spin each at L = 24) do not heal.
#: (1e-3 lost the fast square skyrmion at h/u = 0.24, K/u = 0.75 by 1.6e-4; issue 20.)
_ANNEAL_MARGIN = 5e-3
#: A candidate at the coarse torque whose energy lies this far (J per spin) above the best
#: fully relaxed one is not relaxed further: it cannot win. Measured on 36 points of each
#: preset's box (screening and fast, L = 24): the full relaxation lowers a state at the coarse
#: torque by at most 3.1e-4 (99 % by under 5e-6).
_REFINE_DROP = 1e-3
#: The full relaxation goes in two steps: every candidate it takes on to this torque, then
#: only those within _REFINE_MID_WINDOW (J per spin) of the best to 0.5 TORQUE_TOL. Measured
#: on 36 points of the square box (fast): the second step lowers a state by at most 8.2e-7.
_REFINE_MID = 1e-5
_REFINE_MID_WINDOW = 1e-5
#: Families relaxed with the exact arithmetic of earlier releases (``_kernels.relax`` with
#: ``exact=True``; the others take reassociated dot products and a two-pass objective, about 2x
#: faster per iteration). A helix starts on a symmetric saddle and rounding picks the minimum it
#: falls into: with the fast arithmetic the square preset's ``accurate`` lost a meron-antimeron
#: state (h/u = 1.2, K/u = 1.375; issue 20). The other families are checked against eae91a8 by
#: the audit and the solver benchmark; an anneal's final quench is one call.
_EXACT_FAMILIES = frozenset({"fm_z", "fm_canted", "fm_inplane", "helix", "anneal"})
#: L-BFGS memory (stored pairs) of the exact arithmetic, and of the others: six pairs take
#: about as many iterations as ten on the coarse relaxations of both preset boxes (L = 24) at
#: 25-30 % less cost per iteration (issue 20; checked by the audit and the solver benchmark).
_MEMORY = 10
_MEMORY_FAST = 6
#: Two checkpoints whose quenched energies agree within this (J per spin) mean a frozen anneal.
_ANNEAL_FROZEN = 2e-5
#: A frozen anneal goes on only when it lies this far below the best coarse ansatz state.
_ANNEAL_WINNING = 1e-5


def _memory(exact: bool) -> int:
    """L-BFGS memory of a relaxation with (``exact``) or without the exact arithmetic."""
    return _MEMORY if exact else _MEMORY_FAST


class _Stats:
    """Where one ground-state search spent its time (``GroundState.stats``)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.iterations: dict[str, int] = {}
        self.counts: dict[str, int] = {}

    def add(self, stage: str, seconds: float, iterations: int | None = None) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds
        if iterations is not None:
            self.iterations[stage] = self.iterations.get(stage, 0) + iterations

    def as_dict(self) -> dict:
        return {"seconds": dict(self.seconds), "iterations": dict(self.iterations),
                **self.counts}


class _Fingerprints:
    """Texture fingerprints of the candidates by index, computed once per relaxed state."""

    def __init__(self, lattice: Lattice) -> None:
        self.lattice = lattice
        self.cache: dict[int, tuple] = {}

    def get(self, k: int, spins: np.ndarray) -> tuple:
        if k not in self.cache:
            self.cache[k] = fingerprint(spins, self.lattice)
        return self.cache[k]

    def drop(self, k: int) -> None:
        self.cache.pop(k, None)


def _anneal(model: SpinModel, lattice: Lattice, preset: Preset, child: np.random.SeedSequence,
            nbr: np.ndarray, mats: np.ndarray, scale: float, e_ref: float, clock: _Clock,
            stats: _Stats) -> tuple[np.ndarray, float, float]:
    """One anneal from a random state, relaxed to the coarse torque: (spins, E per spin, torque).

    At every checkpoint (:data:`_ANNEAL_CHECKPOINTS`) a copy is relaxed to the coarse torque; the
    anneal stops there, and that copy is its result, when the copy lies more than
    :data:`_ANNEAL_MARGIN` above ``e_ref`` (the best coarse ansatz energy), or when it repeats the
    previous checkpoint's energy (a frozen anneal, from :data:`_ANNEAL_FROZEN_FROM` of the sweeps
    on) without lying :data:`_ANNEAL_WINNING` below ``e_ref``. An anneal that can still win runs
    to the end.
    """
    N = lattice.N
    s = random_spins(lattice, child)
    temps = np.geomspace(1.0 * scale, 0.01 * scale, preset.anneal_sweeps)
    quenched: list[tuple[np.ndarray, float, float]] = []
    margin_from = _ANNEAL_MARGIN_FROM * len(temps)
    frozen_from = _ANNEAL_FROZEN_FROM * len(temps)

    def stop(state: np.ndarray, sweeps: int) -> bool:
        q = state.copy()
        e, t, it = _kernels.relax(q, nbr, mats, model.K, model.h, preset.coarse_tol,
                                  preset.max_iter, _MEMORY_FAST)
        stats.iterations["anneal_quench"] = stats.iterations.get("anneal_quench", 0) + int(it)
        e /= N
        frozen = bool(quenched) and abs(e - quenched[-1][1]) <= _ANNEAL_FROZEN
        quenched.append((q, e, t))
        late = sweeps >= margin_from
        frozen = frozen and sweeps >= frozen_from
        return (late and e > e_ref + _ANNEAL_MARGIN) or (frozen and e > e_ref - _ANNEAL_WINNING)

    _, done = anneal(s, nbr, mats, model, temps, preset.n_over, rng_state(child), clock,
                     checkpoints=_ANNEAL_CHECKPOINTS, stop=stop)
    stats.counts["anneal_sweeps"] = stats.counts.get("anneal_sweeps", 0) + done
    if done < len(temps):
        return quenched[-1]
    e, t, it = _kernels.relax(s, nbr, mats, model.K, model.h, preset.coarse_tol, preset.max_iter,
                              _MEMORY, True)
    stats.iterations["anneal_quench"] = stats.iterations.get("anneal_quench", 0) + int(it)
    return s, e / N, t


def _resolve_seed(seed) -> int:
    """The integer seed to record: drawn seeds keep 53 bits so they survive a float64 round trip."""
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(11))
    if isinstance(seed, np.random.SeedSequence):
        return int(seed.generate_state(1, np.uint64)[0] >> np.uint64(11))
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            f"seed must be a non-negative int, a numpy SeedSequence or None; got {seed!r}"
        )
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int; got {seed!r}")
    return int(seed)


class _Clock:
    def __init__(self, timeout: float | None):
        self.t0 = time.perf_counter()
        self.timeout = timeout

    def check(self, stage: str) -> None:
        if self.timeout is not None and time.perf_counter() - self.t0 > self.timeout:
            raise TimeoutError(
                f"simulate exceeded timeout={self.timeout!r} s during {stage} "
                f"({time.perf_counter() - self.t0:.2f} s elapsed)"
            )

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0


def simulate(model: SpinModel, lattice_size: int = 24, mode: str = "fast",
             seed: int | np.random.SeedSequence | None = None,
             timeout: float | None = None) -> GroundState:
    """Find the ground state of ``model`` on an ``L x L`` torus (or sample it at ``model.T``).

    Parameters
    ----------
    model : SpinModel
    lattice_size : int, default 24
        Even, ``>= 6``.
    mode : {"screening", "fast", "accurate"}
        Budget preset (:data:`PRESET_BUDGETS`).
    seed : int, SeedSequence or None
        Seeds every random choice; equal seeds give identical results.
    timeout : float or None
        Seconds; ``TimeoutError`` is raised between stages once it is exceeded.

    Returns
    -------
    GroundState

    Raises
    ------
    ValueError, TypeError
        For bad arguments, before any work.
    TimeoutError
        When ``timeout`` is exceeded.
    """
    if not isinstance(model, SpinModel):
        raise TypeError(f"model must be a SpinModel; got {model!r} ({type(model).__name__})")
    lattice = make_lattice(model.lattice, lattice_size)
    check_choice("mode", mode, MODES)
    timeout = check_real("timeout", timeout, minimum=0.0, strict_min=True, allow_none=True)
    seed_used = _resolve_seed(seed)

    clock = _Clock(timeout)
    preset = PRESET_BUDGETS[mode]
    nbr, mats = couplings(model, lattice.L)
    ss = np.random.SeedSequence(seed_used)
    children = ss.spawn(max(preset.n_anneal, 1) + 1)
    if model.T > 0:
        # the T = 0 ground state of the same budget is the start: no defects frozen in by a
        # quick anneal at low T, and the order melts on its own above the ordering scale
        remaining = None if timeout is None else max(timeout - clock.elapsed, 1e-9)
        ground = simulate(model.with_params({"T": 0.0}), lattice.L, mode, seed=seed_used,
                          timeout=remaining)
        samples, energy, torque, energy_error = sample(model, lattice, preset, children[0], nbr, mats, clock,
                                                       start=ground.spins)
        return GroundState(
            spins=samples[-1], lattice=lattice, model=model, energy=energy,
            candidates=((f"thermal:T={model.T:g}", energy),), best="thermal", gap=math.inf,
            max_torque=torque, mode=mode, seed=seed_used, duration=clock.elapsed,
            samples=samples, T=model.T, energy_error=energy_error,
        )

    N = lattice.N
    scale = energy_scale(model)
    stats = _Stats()
    results: list[list] = []  # [family, name, spins, E, torque]

    # 1. every ansatz state to the coarse torque, many per compiled call. The general single-Q
    #    states (the bulk of the list) first get _BRIEF_ITER iterations; only those that then lie
    #    within _BRIEF_WINDOW of the best brief energy of any candidate (and the best of them) go on.
    t0 = time.process_time()
    cands = make_candidates(model, lattice, preset.ansatz)
    n_c = len(cands)
    stack = np.array([c.spins for c in cands], dtype=np.float64)
    general = np.array([c.family == "single_q" for c in cands])
    caps = np.where(general, min(_GENERAL_COARSE_ITER, preset.max_iter), preset.max_iter)
    exact = np.array([c.family in _EXACT_FAMILIES for c in cands])
    energies = np.empty(n_c)
    torques = np.empty(n_c)
    iters = np.zeros(n_c, dtype=np.int64)

    def relax_batch(idx: np.ndarray, tol: float, max_iters: np.ndarray, stage: str) -> None:
        for first in range(0, len(idx), _BATCH):
            part = idx[first:first + _BATCH]
            sub = np.ascontiguousarray(stack[part])
            e, t, it = np.empty(len(part)), np.empty(len(part)), np.empty(len(part), np.int64)
            _kernels.relax_many(sub, nbr, mats, model.K, model.h, tol,
                                np.ascontiguousarray(max_iters[first:first + _BATCH]), _MEMORY,
                                np.ascontiguousarray(exact[part]), e, t, it, _MEMORY_FAST)
            stack[part] = sub
            energies[part], torques[part] = e / N, t
            iters[part] += it
            clock.check(stage)

    everyone = np.arange(n_c)
    relax_batch(everyone, preset.coarse_tol,
                np.where(general, _BRIEF_ITER, caps).astype(np.int64), "relaxing the candidates")
    going_on = np.flatnonzero(general & (energies <= energies.min() + _BRIEF_WINDOW)
                              & (torques > preset.coarse_tol))
    if general.any():
        lowest = np.flatnonzero(general)[np.argmin(energies[general])]
        if torques[lowest] > preset.coarse_tol and lowest not in going_on:
            going_on = np.sort(np.append(going_on, lowest))
    relax_batch(going_on, preset.coarse_tol, caps[going_on] - _BRIEF_ITER,
                "relaxing the general single-Q candidates")
    for k, c in enumerate(cands):
        results.append([c.family, c.name, stack[k], energies[k], torques[k]])
    stats.add("coarse", time.process_time() - t0, iterations=int(iters.sum()))
    stats.counts["brief_only"] = int(general.sum() - len(going_on))

    # 2. anneals from random states, stopped at a checkpoint once they cannot win (_anneal)
    t0 = time.process_time()
    e_ansatz = min(r[3] for r in results) if results else math.inf
    for r in range(preset.n_anneal):
        s, e, t = _anneal(model, lattice, preset, children[r], nbr, mats, scale, e_ansatz, clock,
                          stats)
        results.append(["anneal", f"anneal:{r}", s, e, t])
        clock.check("relaxing the annealed state")
    stats.add("anneal", time.process_time() - t0)

    # 3. full relaxation of the promising candidates (and the best of every family)
    t0 = time.process_time()
    fps = _Fingerprints(lattice)
    e_min = min(r[3] for r in results)
    best_of_family: dict[str, int] = {}
    for k, r in enumerate(results):
        if r[0] not in best_of_family or r[3] < results[best_of_family[r[0]]][3]:
            best_of_family[r[0]] = k
    # candidates in the window are relaxed to _REFINE_MID lowest first; one whose coarse texture
    # repeats a refined one of its family with a lower coarse energy is a copy and is skipped,
    # and so is one at the coarse torque lying more than _REFINE_DROP above the best refined
    refined: list[tuple[tuple, float]] = []  # fingerprint and coarse energy (single-Q)
    n_refined = 0
    e_refined = math.inf
    partly: list[int] = []  # relaxed to _REFINE_MID
    stats.counts["refine_skipped"] = 0
    for k in sorted(range(len(results)), key=lambda k: results[k][3]):
        r = results[k]
        if not (r[3] <= e_min + preset.refine_window or best_of_family[r[0]] == k):
            continue
        if r[4] <= preset.coarse_tol and r[3] > e_refined + _REFINE_DROP:
            stats.counts["refine_skipped"] += 1
            continue
        if r[0] == "single_q":  # only this family is checked for copies
            fp = fps.get(k, r[2])
            if best_of_family[r[0]] != k and any(
                    same_texture(fp, f) and e0 <= r[3] for f, e0 in refined):
                continue
            refined.append((fp, r[3]))
        ex = r[0] in _EXACT_FAMILIES
        e, t, it = _kernels.relax(r[2], nbr, mats, model.K, model.h, _REFINE_MID,
                                  preset.max_iter, _memory(ex), ex)
        r[3], r[4] = e / N, t
        e_refined = min(e_refined, r[3])
        fps.drop(k)
        partly.append(k)
        stats.iterations["refine"] = stats.iterations.get("refine", 0) + int(it)
        clock.check(f"refining candidate {r[1]}")
    # then to the full torque, those within _REFINE_MID_WINDOW of the best
    for k in partly:
        r = results[k]
        if r[4] <= _REFINE_MID and r[3] > e_refined + _REFINE_MID_WINDOW:
            continue
        ex = r[0] in _EXACT_FAMILIES
        e, t, it = _kernels.relax(r[2], nbr, mats, model.K, model.h, 0.5 * TORQUE_TOL,
                                  preset.max_iter, _memory(ex), ex)
        r[3], r[4] = e / N, t
        n_refined += 1
        stats.iterations["refine"] = stats.iterations.get("refine", 0) + int(it)
        clock.check(f"refining candidate {r[1]}")
    stats.add("refine", time.process_time() - t0)

    # 4. the winner, its label and the gaps
    t0 = time.process_time()
    order = sorted(range(len(results)), key=lambda k: results[k][3])
    converged = [k for k in order if results[k][4] <= TORQUE_TOL]
    pool = converged if converged else order
    # ties (within 1e-9 per spin: the same state up to convergence) go to the simplest family
    ties = [k for k in pool if results[k][3] <= results[pool[0]][3] + 1e-9]
    w = min(ties, key=lambda k: (_FAMILY_ORDER.get(results[k][0], 99), results[k][3]))
    winner = results[w]
    f_best = fps.get(w, winner[2])
    gap = math.inf
    for k in order:
        if k == w:
            continue
        if not same_texture(fps.get(k, results[k][2]), f_best):
            gap = max(results[k][3] - winner[3], 0.0)
            break
    others = [k for k in range(len(results)) if k != w]
    label, gap_label = label_gap(winner[2], [(results[k][2], results[k][3]) for k in others],
                                 winner[3], lattice,
                                 fingerprint_of=lambda j: fps.get(others[j], results[others[j]][2]),
                                 winner_fingerprint=f_best)
    stats.add("classify", time.process_time() - t0)
    candidates = tuple((results[k][1], float(results[k][3])) for k in order)
    spins = winner[2].copy()  # not a view that keeps every candidate alive
    spins.setflags(write=False)
    stats.counts.update(candidates=len(results), refined=n_refined)
    return GroundState(
        spins=spins, lattice=lattice, model=model, energy=float(winner[3]),
        candidates=candidates, best=winner[0], gap=float(gap), max_torque=float(winner[4]),
        mode=mode, seed=seed_used, duration=clock.elapsed, samples=None, T=0.0,
        label=label, label_gap=float(gap_label), stats=stats.as_dict(),
    )
