"""Observables of a classical spin configuration on a periodic lattice.

Magnetization, the spin structure factor split into in-plane and out-of-plane parts, the
Berg-Luscher lattice topological charge (total, per triangle, positive and negative parts),
the in-plane winding per plaquette, and the Bragg peaks of ``S(q)`` folded over ``+-q``.

Conventions follow ``physics.md`` section 3.1:

* ``S^a(q) = |(1/N) sum_i S_i^a exp(-i q.r_i)|^2`` on the ``L x L`` allowed grid
  ``q = (n1 b1 + n2 b2) / L`` (the row order of :attr:`Lattice.q_integers`), so that
  ``sum_q S(q) = 1`` for unit spins and ``S(0) = |m|^2``.
* Each counter-clockwise triangle ``(a, b, c)`` carries the solid angle
  ``Omega = 2 atan2(a.(b x c), 1 + a.b + b.c + c.a)`` and the charge ``Omega / 4 pi``.
  A skyrmion whose core points down in an up background has ``Q = -1``.

References
----------
B. Berg and M. Luscher, Nucl. Phys. B 190, 412 (1981).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spinexplore.physics._peaks import find_peaks, reduce_q
from spinexplore.physics.lattice import Lattice

_PI_TIE = 1e-6
_MAX_LISTED_PEAKS = 12

__all__ = [
    "magnetization",
    "structure_factor",
    "topological_charge_density",
    "ambiguous_triangles",
    "topological_charge",
    "inplane_winding",
    "find_peaks",
    "reduce_q",
    "measure",
]


def _check_spins(spins: Any, lattice: Lattice, name: str = "spins") -> np.ndarray:
    arr = np.asarray(spins, dtype=float)
    if arr.shape != (lattice.N, 3):
        raise ValueError(
            f"{name} must have shape (N, 3) = ({lattice.N}, 3) for this {lattice.kind} "
            f"lattice of L={lattice.L}; got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got NaN or inf entries")
    return arr


def _check_samples(samples: Any, lattice: Lattice) -> np.ndarray:
    arr = np.asarray(samples, dtype=float)
    if arr.ndim != 3 or arr.shape[1:] != (lattice.N, 3) or arr.shape[0] < 1:
        raise ValueError(
            f"samples must have shape (n_samples, N, 3) with N={lattice.N} and n_samples >= 1; "
            f"got shape {arr.shape}"
        )
    return arr


def magnetization(spins: np.ndarray) -> np.ndarray:
    """Mean spin ``m = (1/N) sum_i S_i``.

    Parameters
    ----------
    spins : ndarray of shape (N, 3)

    Returns
    -------
    ndarray of shape (3,)
    """
    return np.asarray(spins, dtype=float).mean(axis=0)


def structure_factor(
    spins: np.ndarray, lattice: Lattice, samples: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """In-plane and out-of-plane spin structure factor on the allowed wavevector grid.

    Parameters
    ----------
    spins : ndarray of shape (N, 3)
        Used when ``samples`` is None.
    lattice : Lattice
    samples : ndarray of shape (n_samples, N, 3), optional
        Finite-temperature snapshots; ``S(q)`` is then averaged over them.

    Returns
    -------
    sq_inplane : ndarray of shape (N,)
        ``S^x(q) + S^y(q)`` in the order of ``lattice.q_integers``.
    sq_z : ndarray of shape (N,)
        ``S^z(q)``.
    """
    if samples is None:
        stack = _check_spins(spins, lattice)[None]
    else:
        stack = _check_samples(samples, lattice)
    L = lattice.L
    field = stack.reshape(stack.shape[0], L, L, 3)  # (n, y, x, component)
    amp = np.fft.fft2(field, axes=(1, 2)) / lattice.N
    power = (amp.real**2 + amp.imag**2).mean(axis=0).reshape(lattice.N, 3)
    return power[:, 0] + power[:, 1], power[:, 2].copy()


def topological_charge_density(spins: np.ndarray, lattice: Lattice) -> np.ndarray:
    """Berg-Luscher charge of every elementary triangle, ``Omega / 4 pi``.

    Parameters
    ----------
    spins : ndarray of shape (N, 3)
        Unit spins.
    lattice : Lattice

    Returns
    -------
    ndarray of shape (2N,)
        In the order of ``lattice.triangles``; each value lies in ``(-1/2, 1/2]``.
    """
    num, den = _solid_angle_terms(_check_spins(spins, lattice), lattice)
    return 2.0 * np.arctan2(num, den) / (4.0 * np.pi)


def ambiguous_triangles(spins: np.ndarray, lattice: Lattice, tol: float = _PI_TIE) -> np.ndarray:
    """Triangles on which the Berg-Luscher solid angle is not defined.

    Coplanar spins (``|a.(b x c)| < tol``) with ``1 + a.b + b.c + c.a < tol`` enclose a solid
    angle of ``+-2 pi`` (or ``0/0``), e.g. the 120 degree state of an antiferromagnet: the sign,
    and so the total charge, is then fixed by rounding alone.

    Returns
    -------
    ndarray of bool, shape (2N,)
        In the order of ``lattice.triangles``.
    """
    num, den = _solid_angle_terms(_check_spins(spins, lattice), lattice)
    return (np.abs(num) < tol) & (den < tol)


def _solid_angle_terms(s: np.ndarray, lattice: Lattice) -> tuple[np.ndarray, np.ndarray]:
    """``a.(b x c)`` and ``1 + a.b + b.c + c.a`` of every triangle: ``Omega = 2 atan2(num, den)``."""
    tri = lattice.triangles
    a, b, c = s[tri[:, 0]], s[tri[:, 1]], s[tri[:, 2]]
    num = np.einsum("ij,ij->i", a, np.cross(b, c))
    den = 1.0 + np.einsum("ij,ij->i", a, b) + np.einsum("ij,ij->i", b, c) + np.einsum("ij,ij->i", c, a)
    return num, den


def topological_charge(spins: np.ndarray, lattice: Lattice) -> float:
    """Total Berg-Luscher topological charge (an integer up to rounding for unit spins)."""
    return float(topological_charge_density(spins, lattice).sum())


def inplane_winding(spins: np.ndarray, lattice: Lattice) -> np.ndarray:
    """Winding number of ``arg(S_x + i S_y)`` around each plaquette.

    Parameters
    ----------
    spins : ndarray of shape (N, 3)
    lattice : Lattice

    Returns
    -------
    ndarray of int, shape (n_plaquettes,)
        +1 for a vortex, -1 for an antivortex, 0 elsewhere, in the order of
        ``lattice.plaquettes`` (square: N plaquettes; triangular: the 2N triangles).
        Each edge's angle step lies in ``(-pi, pi]`` and is shared by the two plaquettes of
        the edge, so the windings always sum to zero on the torus; a step of exactly ``pi``
        (within 1e-6; a nodal line of a cycloid, a core centred on an edge) is a tie: the
        plaquettes it joins are pooled and their total winding is put on the first of them.
    """
    s = _check_spins(spins, lattice)
    phi = np.arctan2(s[:, 1], s[:, 0])
    loops = lattice.plaquettes
    a = loops
    b = np.roll(loops, -1, axis=1)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    # each edge's angle step is taken once, along its canonical direction (lower to higher
    # index), so that neighbouring plaquettes agree and the windings sum to zero on the torus;
    # a step of exactly pi (a nodal line, a symmetric core on an edge) becomes +pi
    dc = np.pi - (np.pi - (phi[hi] - phi[lo])) % (2.0 * np.pi)  # in (-pi, pi]
    tie = np.abs(dc) >= np.pi - _PI_TIE
    dc = np.where(tie, np.pi, dc)
    d = np.where(a == lo, dc, -dc)
    wind = np.rint(d.sum(axis=1) / (2.0 * np.pi)).astype(np.int64)
    if np.any(tie):
        wind = _merge_ties(wind, lo, hi, tie, lattice.N)
    return wind


def _merge_ties(wind: np.ndarray, lo: np.ndarray, hi: np.ndarray, tie: np.ndarray, n_sites: int) -> np.ndarray:
    """Pool the windings of plaquettes joined by a step of exactly pi.

    Which side of such an edge gets a vortex is a tie; the winding around the union of the
    plaquettes is not. Each cluster's total goes to its lowest-index plaquette.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    plaq, corner = np.nonzero(tie)
    key = lo[plaq, corner] * n_sites + hi[plaq, corner]
    order = np.argsort(key, kind="stable")
    key, plaq = key[order], plaq[order]
    same = key[1:] == key[:-1]
    rows, cols = plaq[1:][same], plaq[:-1][same]
    n = wind.size
    graph = coo_matrix((np.ones(rows.size), (rows, cols)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    total = np.bincount(label, weights=wind, minlength=label.max() + 1)
    first = np.full(label.max() + 1, n)
    np.minimum.at(first, label, np.arange(n))
    out = np.zeros_like(wind)
    out[first] = np.rint(total).astype(np.int64)
    return out


def measure(
    spins: np.ndarray, lattice: Lattice, samples: np.ndarray | None = None
) -> dict[str, Any]:
    """All observables the classifier uses, as one dictionary.

    Parameters
    ----------
    spins : ndarray of shape (N, 3)
        The (relaxed or last) configuration: the in-plane winding is measured on it, and
        everything else too when ``samples`` is None.
    lattice : Lattice
    samples : ndarray of shape (n_samples, N, 3), optional
        Finite-temperature snapshots: ``S(q)``, ``|m|``, the magnetization components and the
        charge density are then averaged over them; ``Q_plus`` and ``Q_minus`` are the positive
        and negative parts of the averaged density (thermal +- fluctuations cancel in it).

    Returns
    -------
    dict
        Scalars: ``m_x, m_y, m_z, m_xy, m_abs`` (with ``samples``: their averages over the
        snapshots, and their standard errors ``m_x_err`` ... ``m_abs_err`` by
        :func:`~spinexplore.physics.thermal.binned_error`), ``sq_max`` (largest ``S(q)`` including
        ``q = 0``), ``sq_modulated`` (sum over ``q != 0``), ``Q_total``, ``Q_plus`` (sum of
        the positive triangle charges), ``Q_minus`` (sum of the negative ones, <= 0),
        ``n_vortices``, ``n_antivortices``, ``n_peaks`` (at most 16). Lists: ``peaks`` (the strongest 12
        of :func:`find_peaks`, with ``q`` as a list). Arrays: ``sq_inplane`` (N,), ``sq_z``
        (N,), ``charge_density`` (2N,), ``winding`` (n_plaquettes,).
    """
    s = _check_spins(spins, lattice)
    errors: dict[str, float] = {}
    if samples is not None:
        from spinexplore.physics._stats import binned_error

        smp = _check_samples(samples, lattice)
        mags = smp.mean(axis=1)
        m = mags.mean(axis=0)
        m_abs = float(np.linalg.norm(mags, axis=1).mean())
        m_xy = float(np.linalg.norm(mags[:, :2], axis=1).mean())
        series = {"m_x": mags[:, 0], "m_y": mags[:, 1], "m_z": mags[:, 2],
                  "m_xy": np.linalg.norm(mags[:, :2], axis=1), "m_abs": np.linalg.norm(mags, axis=1)}
        errors = {f"{k}_err": binned_error(v) for k, v in series.items()}
    else:
        smp = None
        m = magnetization(s)
        m_abs = float(np.linalg.norm(m))
        m_xy = float(np.hypot(m[0], m[1]))
    sq_in, sq_z = structure_factor(s, lattice, smp)
    sq = sq_in + sq_z
    if smp is None:
        rho = topological_charge_density(s, lattice)
        q_plus, q_minus = float(rho[rho > 0].sum()), float(rho[rho < 0].sum())
    else:
        # thermal average of the density first: uncorrelated +- fluctuations cancel, the
        # texture's own charges of both signs (merons, antivortices) stay
        rho = np.mean([topological_charge_density(x, lattice) for x in smp], axis=0)
        q_plus, q_minus = float(rho[rho > 0].sum()), float(rho[rho < 0].sum())
    wind = inplane_winding(s, lattice)
    peaks = find_peaks(sq_in, sq_z, lattice)
    return {
        "m_x": float(m[0]),
        "m_y": float(m[1]),
        "m_z": float(m[2]),
        "m_xy": m_xy,
        "m_abs": m_abs,
        "sq_max": float(sq.max()),
        "sq_modulated": float(sq.sum() - sq[0]),
        "Q_total": float(rho.sum()),
        "Q_plus": q_plus,
        "Q_minus": q_minus,
        "n_vortices": int(np.count_nonzero(wind > 0)),
        "n_antivortices": int(np.count_nonzero(wind < 0)),
        "n_peaks": len(peaks),
        "peaks": [{**p, "q": [float(x) for x in p["q"]]} for p in peaks[:_MAX_LISTED_PEAKS]],
        "sq_inplane": sq_in,
        "sq_z": sq_z,
        "charge_density": rho,
        "winding": wind,
        **errors,
    }
