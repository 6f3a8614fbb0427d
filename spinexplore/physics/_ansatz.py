"""Ansatz states for the ground-state search (helpers of ``solver.py``).

The states are built with :mod:`spinexplore.physics.textures` (helices, the cones' rotation
planes, triple-Q and double-Q superpositions, uniform states) and the chirality that the DMI
favours is chosen with :mod:`spinexplore.physics.energy`; this module imports neither the
solver nor anything above it.

Every wavevector used here is an allowed wavevector of the torus (``Lattice.q_integers``), so
each ansatz is exactly periodic. Sets of wavevectors are deduplicated under the lattice's
rotation group (C6 triangular, C4 square) combined with the same spin rotation about z, which
maps both DMI types, the exchange, ``K`` and ``h`` onto themselves; ``Q -> -Q`` is covered by the
C2 rotation and by the cos/sin form of each term.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from spinexplore.physics import textures
from spinexplore.physics._ansatz_single import general_single_q, single_q_orbits
from spinexplore.physics._spins import normalize
from spinexplore.physics.energy import energy_per_spin
from spinexplore.physics.lattice import Lattice, make_lattice, orbit_key
from spinexplore.physics.model import SpinModel

__all__ = ["helix_energy", "continuum_q0", "AnsatzBudget", "Candidate", "make_candidates"]

#: The rotation plane (:data:`spinexplore.physics.textures.PLANES`) each DMI type favours.
_PLANE = {"interfacial": "neel", "bulk": "bloch"}


def helix_energy(model: SpinModel, lattice: Lattice, q: np.ndarray) -> np.ndarray:
    """Analytic single-Q helix energy per spin at ``h = K = 0`` (physics.md 2, row 3).

    ``E(q) = -sum_s J_s sum_delta cos(q.delta) - |D| |sum_delta d-rotated sin(q.delta)|`` for
    wavevectors ``q`` of shape (..., 2).
    """
    q = np.asarray(q, dtype=float)
    e = np.zeros(q.shape[:-1])
    for shell, J in ((1, model.J1), (2, model.J2), (3, model.J3)):
        if J != 0.0:
            e -= J * np.cos(q @ lattice.bond_vectors(shell).T).sum(axis=-1)
    if model.D != 0.0:
        delta = lattice.bond_vectors(1)
        dhat = delta / np.linalg.norm(delta, axis=1)[:, None]
        v = np.sin(q @ delta.T) @ dhat
        e -= abs(model.D) * np.linalg.norm(v, axis=-1)
    return e


def continuum_q0(model: SpinModel, lattice: Lattice) -> float:
    """Length of the wavevector minimising :func:`helix_energy` (fine grid, then refined)."""
    b = lattice.b
    n = 241
    f = np.linspace(-0.5, 0.5, n)
    f1, f2 = np.meshgrid(f, f, indexing="ij")
    q = f1[..., None] * b[0] + f2[..., None] * b[1]
    e = helix_energy(model, lattice, q)
    k = np.unravel_index(np.argmin(e), e.shape)
    from scipy.optimize import minimize

    res = minimize(lambda v: float(helix_energy(model, lattice, v)), q[k], method="Nelder-Mead",
                   options={"xatol": 1e-10, "fatol": 1e-15, "maxiter": 2000})
    best = res.x if res.fun <= e[k] else q[k]
    return float(np.linalg.norm(best))


# --------------------------------------------------------------------------- candidates ----


@dataclass(frozen=True)
class Candidate:
    """An ansatz: family name, a detail string and the unrelaxed spins (N, 3)."""

    family: str
    detail: str
    spins: np.ndarray

    @property
    def name(self) -> str:
        return f"{self.family}:{self.detail}"


@dataclass(frozen=True)
class AnsatzBudget:
    """How many ansatz states a preset builds."""

    n_single: int  # wavevector orbits for single-Q states
    both_chiralities: bool
    offsets: tuple[float, ...]  # field offsets of single-Q states
    n_cone: int
    cone_amplitudes: tuple[float, ...]
    n_triple: int
    triple_offsets: tuple[float, ...]
    n_double: int
    double_variants: tuple[tuple[float, float], ...]  # (offset m, out-of-plane weight alpha)
    # general single-Q states (_ansatz_single): wavevector orbits with |Q| <= general_qmax * q0
    general_qmax: float = 0.0  # 0 disables the family
    general_orbits: int = 0
    general_axes: tuple[str, ...] = ()
    general_offsets: tuple[float, ...] = ()
    general_solitons: tuple[float, ...] = (0.0,)


def _helix(lattice: Lattice, i: int, dmi: str, chi: float, offset: float = 0.0,
           normalized: bool = True) -> np.ndarray:
    """``offset e_z + cos(Q.r) e_z + chi sin(Q.r) e`` for the wavevector row ``i`` of the grid,
    ``e`` in the rotation plane the DMI favours (``chi = +-1``)."""
    return textures.multi_q(lattice, [lattice.q_integers[i]], plane=_PLANE[dmi],
                            chirality=-int(chi), offset=offset, normalized=normalized)


def _diverse(items: list[tuple[float, tuple, tuple]]) -> list[tuple]:
    """Order ``(score, group, value)`` items: the best of every group first, then the rest."""
    by_group: dict[tuple, list] = {}
    for score, group, value in sorted(items, key=lambda t: (t[0], t[1])):
        by_group.setdefault(group, []).append((score, value))
    out, rank = [], 0
    while True:
        layer = [(lst[rank][0], lst[rank][1]) for lst in by_group.values() if rank < len(lst)]
        if not layer:
            return out
        out.extend(v for _, v in sorted(layer, key=lambda t: t[0]))
        rank += 1


@dataclass(frozen=True)
class _Plan:
    single: tuple[int, ...]  # one wavevector index per symmetry orbit, by analytic energy
    triples: tuple[tuple[int, int, int], ...]
    doubles: tuple[tuple[int, int], ...]
    chi0: float
    q0: float


@functools.lru_cache(maxsize=32)
def _plan(kind: str, L: int, J1: float, J2: float, J3: float, D: float, dmi: str) -> _Plan | None:
    """Wavevector sets for the ansatz states; depends on the couplings, not on ``h`` or ``K``."""
    model = SpinModel(lattice=kind, J1=J1, J2=J2, J3=J3, D=D, dmi=dmi)
    lattice = make_lattice(kind, L)
    qn = lattice.q_integers
    qv = lattice.q_vectors
    lengths = np.linalg.norm(qv, axis=1)
    nonzero = lengths > 1e-9
    q0 = continuum_q0(model, lattice)
    if q0 < 1e-6:
        return None
    e_q = helix_energy(model, lattice, qv)
    window = nonzero & (lengths >= 0.45 * q0 - 1e-9) & (lengths <= 1.6 * q0 + 1e-9)
    best_allowed = nonzero & (e_q <= e_q[nonzero].min() + 1e-9)
    idx = np.flatnonzero(window | best_allowed)
    orbits: dict[tuple, int] = {}
    for i in idx[np.argsort(e_q[idx], kind="stable")]:
        orbits.setdefault(orbit_key(kind, qv[i : i + 1]), int(i))
    single = tuple(orbits.values())

    w = [int(i) for i in np.flatnonzero(window)]
    wset = {(int(qn[i][0]), int(qn[i][1])): i for i in w}
    half = L // 2
    cos_lo, cos_hi = math.cos(math.radians(140)), math.cos(math.radians(100))
    triples: dict[tuple, tuple] = {}
    doubles: dict[tuple, tuple] = {}
    for ia, a in enumerate(w):
        for b in w[ia + 1 :]:
            la, lb = lengths[a], lengths[b]
            cab = float(qv[a] @ qv[b]) / (la * lb)
            if abs(la - lb) <= 1e-9 * la and abs(cab) < 1e-9:
                key = orbit_key(kind, qv[[a, b]])
                score = float(e_q[a] + e_q[b]) / 2
                if key not in doubles or score < doubles[key][0]:
                    doubles[key] = (score, (round(float(la), 6),), (a, b))
            if not (cos_lo <= cab <= cos_hi):
                continue
            c = wset.get(
                (((-int(qn[a][0]) - int(qn[b][0])) + half) % L - half,
                 ((-int(qn[a][1]) - int(qn[b][1])) + half) % L - half)
            )
            if c is None or c <= b:
                continue
            ls = lengths[[a, b, c]]
            if ls.max() / ls.min() > 1.25:
                continue
            cbc = float(qv[b] @ qv[c]) / (lengths[b] * lengths[c])
            cac = float(qv[a] @ qv[c]) / (lengths[a] * lengths[c])
            if not (cos_lo <= cbc <= cos_hi and cos_lo <= cac <= cos_hi):
                continue
            key = orbit_key(kind, qv[[a, b, c]])
            score = float(e_q[[a, b, c]].mean())
            if key not in triples or score < triples[key][0]:
                triples[key] = (score, tuple(sorted(np.round(ls, 3))), (a, b, c))

    chi_e = [energy_per_spin(_helix(lattice, single[0], dmi, chi, normalized=False), model, lattice)
             for chi in (1.0, -1.0)]
    return _Plan(
        single=single,
        triples=tuple(_diverse(list(triples.values()))),
        doubles=tuple(_diverse(list(doubles.values()))),
        chi0=1.0 if chi_e[0] <= chi_e[1] else -1.0,
        q0=q0,
    )


def make_candidates(model: SpinModel, lattice: Lattice, budget: AnsatzBudget) -> list[Candidate]:
    """All ansatz states for ``model`` on ``lattice`` within ``budget`` (physics.md 1.5).

    States along ``-z`` replace those along ``+z`` when ``h < 0`` (every spin reversed, which
    maps the energy at ``h`` onto the energy at ``-h``). The spins of the returned candidates are
    read-only: the states that do not depend on ``h`` and ``K`` (helices, triple-Q, double-Q and
    general single-Q states; everything but the uniform states and the cones) are built once per
    process for a set of couplings, field sign and budget (:func:`_templates`) and shared by every
    call; copy them before relaxing.
    """
    p = -1.0 if model.h < 0 else 1.0
    out = [Candidate("fm_z", f"{'+' if p > 0 else '-'}z", textures.fm(lattice, (0.0, 0.0, p))),
           Candidate("fm_inplane", "x", textures.fm(lattice, (1.0, 0.0, 0.0)))]
    if model.K > 0 and abs(model.h) < 2 * model.K:
        c = model.h / (2 * model.K)
        out.append(Candidate("fm_canted", f"cos={c:.4f}", textures.canted_fm(lattice, c)))
    else:
        out.append(Candidate("fm_canted", "cos=0.7071", textures.fm(lattice, (1.0, 0.0, p))))
    for cand in out:
        cand.spins.setflags(write=False)

    plan = _plan(model.lattice, lattice.L, model.J1, model.J2, model.J3, model.D, model.dmi)
    if plan is None:
        return out
    helices, rest = _templates(model.lattice, lattice.L, model.J1, model.J2, model.J3, model.D,
                               model.dmi, p, budget)
    out.extend(helices)
    qn = lattice.q_integers
    for i in plan.single[: budget.n_cone]:
        for detail, s in _cones(model, lattice, i, p, plan.chi0, budget.cone_amplitudes):
            s.setflags(write=False)
            out.append(Candidate("cone", f"({qn[i][0]},{qn[i][1]}),{detail}", s))
    out.extend(rest)
    return out


@functools.lru_cache(maxsize=12)
def _templates(kind: str, L: int, J1: float, J2: float, J3: float, D: float, dmi: str, p: float,
               budget: AnsatzBudget) -> tuple[tuple[Candidate, ...], tuple[Candidate, ...]]:
    """The candidates of :func:`make_candidates` that depend neither on ``h`` (beyond its sign
    ``p``) nor on ``K``: (helices, then triple-Q, double-Q and general single-Q states), read-only."""
    plan = _plan(kind, L, J1, J2, J3, D, dmi)
    lattice = make_lattice(kind, L)
    qn = lattice.q_integers
    chi0 = plan.chi0
    plane = _PLANE[dmi]

    def label(i):
        return f"({qn[i][0]},{qn[i][1]})"

    helices = []
    for i in plan.single[: budget.n_single]:
        for chi in ((chi0, -chi0) if budget.both_chiralities else (chi0,)):
            for off in budget.offsets:
                helices.append(Candidate("helix", f"{label(i)},chi={chi:+.0f},off={off:g}",
                                         _helix(lattice, i, dmi, chi, p * off)))

    rest = []
    for trio in plan.triples[: budget.n_triple]:
        name = "+".join(label(t) for t in trio)
        for m in budget.triple_offsets:
            s = textures.triple_q_skx(lattice, [qn[t] for t in trio], plane=plane,
                                      chirality=-int(chi0), offset=m)
            rest.append(Candidate("triple_q", f"{name},m={m:g}", p * s))

    for pair in plan.doubles[: budget.n_double]:
        name = "+".join(label(t) for t in pair)
        for m, alpha in budget.double_variants:
            s = textures.multi_q(lattice, [qn[t] for t in pair], amplitude_z=-1.0,
                                 amplitude_e=-1.0, plane=plane, chirality=-int(chi0),
                                 normalized=False)
            s[:, 2] *= alpha
            s[:, 2] += m
            rest.append(Candidate("double_q", f"{name},m={m:g},a={alpha:g}", normalize(p * s)))

    if budget.general_qmax > 0 and budget.general_orbits > 0:
        orbits = single_q_orbits(kind, L, round(budget.general_qmax * plan.q0, 9))
        for detail, s in general_single_q(lattice, p, orbits[: budget.general_orbits],
                                          budget.general_axes, budget.general_offsets,
                                          budget.general_solitons):
            rest.append(Candidate("single_q", detail, s))
    for cand in helices + rest:
        cand.spins.setflags(write=False)
    return tuple(helices), tuple(rest)


def _cones(model: SpinModel, lattice: Lattice, i: int, p: float, chi0: float,
           amplitudes: tuple[float, ...]):
    """Yield ``(detail, spins)`` of the cones about an in-plane axis for wavevector row ``i``.

    The cone axis ``m`` is in-plane perpendicular to the DMI rotation plane, tilted towards the
    field by ``cos = h / 2K`` (0.5 without easy-plane ``K``); the spins rotate about it in the
    DMI-favoured sense with amplitude ``A`` before normalising.
    """
    q = lattice.q_vectors[i]
    zhat = np.array([0.0, 0.0, 1.0])
    e = textures.rotation_plane(q, _PLANE[model.dmi])[1]
    if model.dmi == "interfacial":
        nrm = np.cross(e, zhat)
    else:
        nrm = np.array([q[0], q[1], 0.0])
    nrm = nrm / np.linalg.norm(nrm)
    c = min(abs(model.h) / (2 * model.K), 0.95) if model.K > 0 else 0.5
    phase = lattice.positions @ q
    for sgn in (1.0, -1.0):
        m = sgn * math.sqrt(1 - c * c) * nrm + p * c * zhat
        e2 = np.cross(m, e)
        e2 /= np.linalg.norm(e2)
        for amp in amplitudes:
            s = m[None, :] + amp * (np.cos(phase)[:, None] * e2 + chi0 * np.sin(phase)[:, None] * e)
            yield f"axis={sgn:+.0f},A={amp:g}", normalize(s)
