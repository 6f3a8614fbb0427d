"""General single-Q ansatz states: every orientation of the cone axis and rotation plane.

The older families of :mod:`spinexplore.physics._ansatz` build single-Q states only in the
DMI-favoured rotation plane and only for the wavevectors of lowest zero-field helix energy. A
ground-state audit (``benchmarks/ground_state_audit.py``) found states they cannot reach: at
large easy-plane ``K`` and moderate field a long-period elliptic cone about an in-plane axis
(on the square preset, ``Q = (1, 1) 2 pi / 24``) lies 1.2e-3 J per spin below the best of them.
This module builds, for every symmetry orbit of allowed wavevectors with
``0 < |Q| <= q_max`` (longest periods first), the normalised states

    ``S(r) = c a + cos(phi) e1 + chi sin(phi) e2``,  ``phi = Q.r + s sin(Q.r)``

with the cone axis ``a`` along one of :data:`AXES` (in-plane perpendicular or parallel to
``Q``, along the field, or tilted 45 degrees between them), ``e1, e2`` spanning the plane
perpendicular to ``a``, both senses ``chi``, cone weights ``c`` and an anharmonicity ``s``
(``s > 0`` bunches the rotation into soliton-like kinks, the relaxed shape of a helix in a
field or an anisotropy).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from spinexplore.physics._spins import normalize
from spinexplore.physics.lattice import Lattice, make_lattice, orbit_key

__all__ = ["AXES", "single_q_orbits", "general_single_q"]

#: Cone-axis orientations in the frame of ``Q``: ``perp = z x Q_hat``, ``par = Q_hat``, ``z`` along
#: the field; ``+z`` variants are tilted 45 degrees towards the field.
AXES = ("perp", "-perp", "par", "z", "perp+z", "-perp+z", "par+z")


@functools.lru_cache(maxsize=32)
def single_q_orbits(kind: str, L: int, q_max: float) -> tuple[int, ...]:
    """Row indices (into ``Lattice.q_vectors``) of one wavevector per orbit, ``0 < |Q| <= q_max``.

    Orbits are taken under the lattice rotations (C6 or C4) and ``Q -> -Q``; the result is ordered
    by ``|Q|`` (longest period first), then by the grid label, so a shorter list is a prefix.
    """
    lattice = make_lattice(kind, L)
    qv = lattice.q_vectors
    lengths = np.linalg.norm(qv, axis=1)
    idx = np.flatnonzero((lengths > 1e-9) & (lengths <= q_max + 1e-9))
    order = sorted(idx, key=lambda i: (round(float(lengths[i]), 9), tuple(lattice.q_integers[i])))
    seen: dict[tuple, int] = {}
    for i in order:
        seen.setdefault(orbit_key(kind, qv[i : i + 1]), int(i))
    return tuple(seen.values())


def _axis(name: str, q: np.ndarray, p: float) -> np.ndarray:
    qh = np.array([q[0], q[1], 0.0]) / math.hypot(q[0], q[1])
    perp = np.array([-qh[1], qh[0], 0.0])
    z = np.array([0.0, 0.0, p])
    base = {"perp": perp, "-perp": -perp, "par": qh, "z": z}
    if name in base:
        return base[name]
    v = base[name[:-2]] + z
    return v / np.linalg.norm(v)


def general_single_q(lattice: Lattice, p: float, orbits: tuple[int, ...], axes: tuple[str, ...],
                     offsets: tuple[float, ...], solitons: tuple[float, ...]):
    """Yield ``(detail, spins)`` for every combination (see the module docstring).

    Parameters
    ----------
    lattice : Lattice
    p : float
        Sign of the field (``+1`` or ``-1``): ``z`` axes point along it.
    orbits : tuple of int
        Wavevector rows from :func:`single_q_orbits`.
    axes : tuple of str
        Names from :data:`AXES`.
    offsets : tuple of float
        Cone weights ``c``.
    solitons : tuple of float
        Anharmonicities ``s`` in ``[0, 1)``.
    """
    pos = lattice.positions
    qn = lattice.q_integers
    qv = lattice.q_vectors
    for i in orbits:
        q = qv[i]
        lin = pos @ q
        for ax_name in axes:
            a = _axis(ax_name, q, p)
            ref = np.array([0.0, 0.0, 1.0]) if abs(a[2]) < 0.9 else np.array([q[0], q[1], 0.0])
            e1 = ref - (ref @ a) * a
            e1 /= np.linalg.norm(e1)
            e2 = np.cross(a, e1)
            for s in solitons:
                phi = lin + s * np.sin(lin)
                c, sn = np.cos(phi), np.sin(phi)
                for chi in (1.0, -1.0):
                    rot = c[:, None] * e1[None, :] + chi * sn[:, None] * e2[None, :]
                    for off in offsets:
                        v = normalize(off * a[None, :] + rot)
                        detail = (f"({qn[i][0]},{qn[i][1]}),axis={ax_name},chi={chi:+.0f},"
                                  f"c={off:g},s={s:g}")
                        yield detail, v
