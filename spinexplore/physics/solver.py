"""Ground-state search and finite-temperature sampling for :class:`SpinModel`.

``simulate`` runs, for ``T == 0``, the stages of :mod:`spinexplore.physics._search` (each a
function there, named as below; what they share is one ``Search``, a candidate a ``Candidate``):

1. :func:`~._search.coarse_relaxation`: every ansatz state of the preset (single-Q cycloids,
   cones about an in-plane axis, triple-Q and double-Q superpositions, FM along z, in-plane and
   canted FM; see :mod:`spinexplore.physics._ansatz`; and general single-Q states of every
   commensurate wavevector up to 1.6 q0, longest periods included, with the cone axis in-plane
   perpendicular or parallel to Q, along the field or tilted, and soliton-like anharmonic phases,
   see :mod:`spinexplore.physics._ansatz_single`) relaxed to a coarse torque, many states per
   compiled call; a general single-Q state goes on past its first ``BRIEF_ITER`` iterations only
   while it lies within ``BRIEF_WINDOW`` of the best candidate;
2. :func:`~._search.anneal_candidates`: ``n_anneal`` simulated anneals from random states
   (Metropolis with an adaptive step, geometric cooling, over-relaxation when ``K == 0``),
   relaxed by L-BFGS; an anneal stops at a checkpoint once a quenched copy shows it cannot win
   (:func:`~._search.anneal_from_random_state`);
3. :func:`~._search.refine`: full relaxation of the promising candidates (and the best of every
   family; a general single-Q state whose coarse texture repeats a lower one is skipped, and so
   is a state that cannot win any more), in two steps (:func:`~._search.refine_to_mid_torque`
   to a torque of ``REFINE_MID``, then :func:`~._search.refine_to_full_torque` for the states
   within ``REFINE_MID_WINDOW`` of the best);
4. :func:`~._search.pick_ground_state`: the lowest relaxed energy wins
   (:func:`~._search.pick_winner`; candidates within 1e-9 J per spin of it are the same state;
   the simplest family among them names the winner: fm_z, fm_canted, fm_inplane, helix, cone,
   single_q, double_q, triple_q, anneal). ``label`` is the winner's phase label and
   ``label_gap`` the energy of the best candidate with another label minus the winner's (what
   the confidence uses; :func:`~._search.label_and_label_gap`). ``gap``
   (:func:`~._search.texture_gap`) is the energy of the best candidate whose relaxed
   *texture differs* from the winner's (another set of |Q| of the main S(q) peaks, |m| or m_z
   differing by >= 0.02, or another integer charge) minus the winner's energy, so two copies of
   one state never give ``gap = 0``; ``inf`` when every candidate relaxed into the winner's texture.
   A candidate stopped early counts with the energy it reached, so both gaps are upper bounds
   where they are far above the confidence scale (1e-4 J per spin).

For ``T > 0`` (:func:`heat_to_temperature`) it finds the ``T = 0`` ground state with the same
budget, heats it to ``T`` (equilibration at ``T``), and returns decorrelated snapshots in
``samples``. Starting from the ground state avoids the defects a short anneal freezes in at low
T; near a first-order melting line the ordered state may persist somewhat above its equilibrium
range (superheating).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from spinexplore._validation import check_choice, check_real
from spinexplore.physics._ansatz import AnsatzBudget
from spinexplore.physics._ansatz_single import AXES
from spinexplore.physics._sampling import sample
from spinexplore.physics._search import (Clock, Search, anneal_candidates, coarse_relaxation,
                                         pick_ground_state, refine)
from spinexplore.physics.energy import (  # re-exported: the energy API of the solver
    TORQUE_TOL,
    couplings,
    energy_per_spin,
    local_fields,
    max_torque,
    relax,
)
from spinexplore.physics.lattice import make_lattice
from spinexplore.physics.model import SpinModel

__all__ = ["simulate", "GroundState", "MODES", "Preset", "PRESET_BUDGETS", "TORQUE_TOL",
           "couplings", "energy_per_spin", "local_fields", "max_torque", "relax"]

#: The budget presets of :func:`simulate` (keys of :data:`PRESET_BUDGETS`), cheapest first.
MODES = ("screening", "fast", "accurate")


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

    clock = Clock(timeout)
    preset = PRESET_BUDGETS[mode]
    search = Search(model, lattice, preset, *couplings(model, lattice.L), clock)
    children = np.random.SeedSequence(seed_used).spawn(max(preset.n_anneal, 1) + 1)
    if model.T > 0:
        return heat_to_temperature(search, mode, seed_used, children[0])

    ansatz = coarse_relaxation(search)                                # 1.
    candidates = ansatz + anneal_candidates(search, children, ansatz)  # 2.
    n_refined = refine(search, candidates)                            # 3.
    verdict = pick_ground_state(search, candidates)                   # 4.

    winner = candidates[verdict.winner]
    spins = winner.spins.copy()  # not a view that keeps every candidate alive
    spins.setflags(write=False)
    search.stats.counts.update(candidates=len(candidates), refined=n_refined)
    return GroundState(
        spins=spins, lattice=lattice, model=model, energy=float(winner.energy),
        candidates=tuple((candidates[k].name, float(candidates[k].energy)) for k in verdict.order),
        best=winner.family, gap=float(verdict.gap), max_torque=float(winner.torque),
        mode=mode, seed=seed_used, duration=search.clock.elapsed, samples=None, T=0.0,
        label=verdict.label, label_gap=float(verdict.label_gap), stats=search.stats.as_dict(),
    )


def heat_to_temperature(search: Search, mode: str, seed: int,
                        child: np.random.SeedSequence) -> GroundState:
    """``T > 0``: the ``T = 0`` ground state of the same budget (and seed), heated to ``model.T``
    and sampled there (:func:`~spinexplore.physics._sampling.sample`).

    Starting from the ground state leaves no defects frozen in by a quick anneal at low T, and
    the order melts on its own above the ordering scale.
    """
    model, lattice, clock = search.model, search.lattice, search.clock
    remaining = None if clock.timeout is None else max(clock.timeout - clock.elapsed, 1e-9)
    ground = simulate(model.with_params({"T": 0.0}), lattice.L, mode, seed=seed, timeout=remaining)
    samples, energy, torque, energy_error = sample(model, lattice, search.preset, child, search.nbr,
                                                   search.mats, clock, start=ground.spins)
    return GroundState(
        spins=samples[-1], lattice=lattice, model=model, energy=energy,
        candidates=((f"thermal:T={model.T:g}", energy),), best="thermal", gap=math.inf,
        max_torque=torque, mode=mode, seed=seed, duration=clock.elapsed,
        samples=samples, T=model.T, energy_error=energy_error,
    )
