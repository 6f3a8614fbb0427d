"""The energy layer: coupling tables, energy per spin, local fields, torque and relaxation.

Everything that evaluates the Hamiltonian of a :class:`~spinexplore.physics.model.SpinModel`
on a spin configuration lives here, on top of the numba kernels (:mod:`._kernels`); the ansatz
builder, the ground-state search, the samplers and the thermal series all use it, and it imports
none of them.

The coupling tables hold, for every site ``i`` and neighbour slot ``b``, the neighbour index
``nbr[i, b]`` and the 3 x 3 matrix ``mats[b]`` such that the exchange-plus-DMI field on ``i`` is
``sum_b mats[b] S_nbr[i, b]``; the single-ion term ``K S_z^2`` and the Zeeman term ``-h S_z``
are added by the kernels (physics.md 1.1 for the Hamiltonian and its sign conventions).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from spinexplore.physics import _kernels, _lbfgs
from spinexplore.physics._spins import normalize
from spinexplore.physics.lattice import Lattice, lattice_for_spins, make_lattice
from spinexplore.physics.model import SpinModel

__all__ = ["TORQUE_TOL", "couplings", "energy_per_spin", "local_fields", "max_torque", "relax",
           "energy_scale"]

#: Max torque ``|S_i x dE/dS_i|`` of a converged relaxation (physics.md 2: ``<~ 1e-6``).
TORQUE_TOL = 1e-6


def _cross_matrix(c: np.ndarray) -> np.ndarray:
    return np.array([[0.0, -c[2], c[1]], [c[2], 0.0, -c[0]], [-c[1], c[0], 0.0]])


def _dmi_vectors(lattice: Lattice, dmi: str) -> np.ndarray:
    """DMI unit vectors of the forward nearest-neighbour bonds, shape (z_b, 3)."""
    delta = lattice.bond_vectors(1)
    delta = delta / np.linalg.norm(delta, axis=1)[:, None]
    if dmi == "interfacial":
        return np.stack([-delta[:, 1], delta[:, 0], np.zeros(len(delta))], axis=1)
    return np.stack([delta[:, 0], delta[:, 1], np.zeros(len(delta))], axis=1)


def couplings(model: SpinModel, L: int) -> tuple[np.ndarray, np.ndarray]:
    """Neighbour table ``nbr`` (N, M) and slot matrices ``mats`` (M, 3, 3) of the kernels.

    For a forward bond ``i -> j = i + delta`` with DMI vector ``d`` the field on ``i`` from ``j`` is
    ``J S_j - D S_j x d`` and the field on ``j`` from ``i`` is ``J S_i + D S_i x d``; both are
    ``(J I - [c]_x) S`` with ``c = -D d`` or ``c = +D d``. Shells with zero coupling are skipped.
    The tables do not depend on ``K``, ``h`` or ``T`` and are cached (read-only).
    """
    return _couplings(model.lattice, L, model.J1, model.J2, model.J3, model.D, model.dmi)


@functools.lru_cache(maxsize=32)
def _couplings(kind: str, L: int, J1: float, J2: float, J3: float, D1: float, dmi: str):
    lattice = make_lattice(kind, L)
    eye = np.eye(3)
    nbrs, mats = [], []
    for shell, J in ((1, J1), (2, J2), (3, J3)):
        D = D1 if shell == 1 else 0.0
        if J == 0.0 and D == 0.0:
            continue
        table = lattice.all_neighbors(shell)
        zb = table.shape[1] // 2
        dvec = _dmi_vectors(lattice, dmi) if shell == 1 else np.zeros((zb, 3))
        for b in range(2 * zb):
            c = -D * dvec[b] if b < zb else D * dvec[b - zb]
            nbrs.append(table[:, b])
            mats.append(J * eye - _cross_matrix(c))
    nbr = np.ascontiguousarray(np.stack(nbrs, axis=1), dtype=np.int64)
    mat = np.ascontiguousarray(np.stack(mats), dtype=np.float64)
    nbr.setflags(write=False)
    mat.setflags(write=False)
    return nbr, mat


def energy_scale(model: SpinModel) -> float:
    """The largest bond coupling ``max(|J1|, |J2|, |J3|, |D|)`` (at least 1e-3): the start
    temperature scale of an anneal."""
    return max(abs(model.J1), abs(model.J2), abs(model.J3), abs(model.D), 1e-3)


def _prepare(spins: Any, model: SpinModel, lattice: Lattice | None):
    """The lattice, a writable float64 copy of ``spins`` and the coupling tables."""
    lattice = lattice_for_spins(spins, model.lattice if lattice is None else lattice)
    if lattice.kind != model.lattice:
        raise ValueError(
            f"lattice must be of the model's kind {model.lattice!r}; got a {lattice.kind} lattice"
        )
    s = np.array(spins, dtype=np.float64, order="C")  # a writable copy (one numba signature)
    nbr, mats = couplings(model, lattice.L)
    return lattice, s, nbr, mats


def energy_per_spin(spins: np.ndarray, model: SpinModel, lattice: Lattice | None = None) -> float:
    """Energy per spin (units of J1) of ``spins`` (N, 3); ``lattice`` defaults to L = sqrt(N)."""
    lattice, s, nbr, mats = _prepare(spins, model, lattice)
    fields = np.empty_like(s)
    return _kernels.energy_and_fields(s, nbr, mats, model.K, model.h, fields) / lattice.N


def local_fields(spins: np.ndarray, model: SpinModel, lattice: Lattice | None = None) -> np.ndarray:
    """Local fields ``-dE/dS_i``, shape (N, 3)."""
    _, s, nbr, mats = _prepare(spins, model, lattice)
    fields = np.empty_like(s)
    _kernels.energy_and_fields(s, nbr, mats, model.K, model.h, fields)
    return fields


def max_torque(spins: np.ndarray, model: SpinModel, lattice: Lattice | None = None) -> float:
    """Max over sites of ``|S_i x dE/dS_i|`` for unit spins."""
    f = local_fields(spins, model, lattice)
    return float(np.max(np.linalg.norm(np.cross(np.asarray(spins, dtype=float), f), axis=1)))


def relax(spins: np.ndarray, model: SpinModel, lattice: Lattice | None = None, *,
          tol: float = TORQUE_TOL, max_iter: int = 50000) -> tuple[np.ndarray, float, float]:
    """Relax ``spins`` to max torque ``<= tol`` (L-BFGS on the sphere, :func:`._lbfgs.relax`).

    The spins are normalised first (:func:`._spins.normalize`). Returns the relaxed spins, the
    energy per spin and the final max torque.
    """
    lattice, s, nbr, mats = _prepare(spins, model, lattice)
    s = normalize(s)
    e, t, _ = _lbfgs.relax(s, nbr, mats, model.K, model.h, 0.5 * tol, max_iter, 10,
                           False, -np.inf)
    return s, e / lattice.N, float(t)
