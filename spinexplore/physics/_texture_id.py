"""Texture fingerprints and the label gap of the ground-state search (helpers of ``solver.py``)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from spinexplore.physics import _kernels
from spinexplore.physics.classify import classify
from spinexplore.physics.lattice import Lattice
from spinexplore.physics.observables import (
    _PI_TIE,
    _check_spins,
    magnetization,
    structure_factor,
)

__all__ = ["fingerprint", "same_texture", "label_gap"]


def fingerprint(spins: np.ndarray, lattice: Lattice) -> tuple:
    """A coarse texture signature: (sorted |Q| of the main S(q) peaks, |m|, m_z, charge).

    The peaks are the wavevectors with ``S(q) >= S_max / 4`` (``q != 0``;
    :func:`~spinexplore.physics.observables.structure_factor`), the charge the rounded sum of
    :func:`~spinexplore.physics.observables.topological_charge_density`; it is None when a
    coplanar triangle has a solid angle of +-2 pi
    (:func:`~spinexplore.physics.observables.ambiguous_triangles`; e.g. antiferromagnets).
    """
    sq_in, sq_z = structure_factor(spins, lattice)
    sq = sq_in + sq_z
    sq[0] = 0.0
    m = magnetization(spins)
    peaks: tuple = ()
    top = sq.max()
    if top > 1e-4:
        sel = np.flatnonzero(sq >= 0.25 * top)
        peaks = tuple(sorted(np.round(_q_lengths(lattice)[sel], 4)))
    # the solid-angle terms once for both (as ambiguous_triangles and topological_charge_density)
    ambiguous, q = _kernels.solid_angle_charge(_check_spins(spins, lattice), lattice.triangles,
                                               _PI_TIE)
    charge = None if ambiguous else int(round(q))
    return peaks, float(np.linalg.norm(m)), float(m[2]), charge


_Q_LENGTHS: dict[tuple[str, int], np.ndarray] = {}


def _q_lengths(lattice: Lattice) -> np.ndarray:
    """``|q|`` of ``lattice.q_vectors``, computed once per lattice kind and size."""
    key = (lattice.kind, lattice.L)
    if key not in _Q_LENGTHS:
        _Q_LENGTHS[key] = np.linalg.norm(lattice.q_vectors, axis=1)
    return _Q_LENGTHS[key]


def same_texture(f1: tuple, f2: tuple) -> bool:
    """True when two fingerprints describe the same texture (up to symmetry)."""
    return (
        len(f1[0]) == len(f2[0])
        and all(abs(x - y) < 2e-3 for x, y in zip(f1[0], f2[0]))
        and abs(f1[1] - f2[1]) < 0.02
        and abs(f1[2] - f2[2]) < 0.02
        and (f1[3] is None or f2[3] is None or f1[3] == f2[3])
    )


def label_gap(spins: np.ndarray, others: list[tuple[np.ndarray, float]], energy: float,
              lattice: Lattice, fingerprint_of: Callable[[int], tuple] | None = None,
              winner_fingerprint: tuple | None = None) -> tuple[str, float]:
    """Phase label of ``spins`` and the energy gap to the lowest of ``others`` with another label.

    ``others`` holds ``(spins, energy per spin)`` of the other relaxed candidates. They are
    classified lowest first; a texture equal (:func:`same_texture`) to one already classified
    reuses its label, so the cost is a few ``classify`` calls. The gap is ``inf`` when every
    candidate has the winner's label. ``fingerprint_of(j)`` (the fingerprint of ``others[j]``)
    and ``winner_fingerprint`` let a caller that already has the fingerprints pass them in.
    """
    label = classify(spins, lattice).phase.name
    f0 = fingerprint(spins, lattice) if winner_fingerprint is None else winner_fingerprint
    seen = [(f0, label)]
    for j in sorted(range(len(others)), key=lambda j: others[j][1]):
        s, e = others[j]
        fp = fingerprint(s, lattice) if fingerprint_of is None else fingerprint_of(j)
        other = next((lab for f, lab in seen if same_texture(fp, f)), None)
        if other is None:
            other = classify(s, lattice).phase.name
            seen.append((fp, other))
        if other != label:
            return label, max(e - energy, 0.0)
    return label, math.inf
