"""Analytic spin textures on a periodic lattice: helices, multiple-Q crystals, FM, random.

Every wavevector is given by its integer grid label ``(n1, n2)``, meaning
``Q = (n1 b1 + n2 b2) / L``; only such wavevectors are periodic on the ``L x L`` torus (see
:attr:`Lattice.q_integers`). All builders return unit spins of shape ``(N, 3)``.

A single-Q modulation rotates in a plane spanned by ``e_z`` and a second unit vector ``e``:

* ``plane="neel"``: ``e = Q_hat`` (cycloid; interfacial DMI, Neel skyrmions);
* ``plane="bloch"``: ``e = z x Q_hat`` (proper screw; bulk DMI, Bloch skyrmions);
* ``plane="inplane"``: rotation in the xy plane, ``e_z -> Q_hat`` and ``e -> z x Q_hat``.

The builders superpose such modulations, add a uniform ``offset`` along ``z`` and normalise,
which is also how the solver builds its ansatz states.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from spinexplore.physics._spins import normalize
from spinexplore.physics.lattice import Lattice

__all__ = [
    "PLANES",
    "wavevector",
    "rotation_plane",
    "helix",
    "soliton_lattice",
    "multi_q",
    "hexagonal_triplet",
    "triple_q_skx",
    "meron_antimeron",
    "fm",
    "canted_fm",
    "random_spins",
    "random",
]

PLANES = ("neel", "bloch", "inplane")


def wavevector(lattice: Lattice, n: Sequence[int]) -> np.ndarray:
    """Cartesian wavevector of the grid label ``n = (n1, n2)``.

    Raises
    ------
    ValueError
        When ``n`` is not a pair of integers or is the zero vector modulo ``L``.
    """
    arr = np.asarray(n)
    if arr.shape != (2,) or not np.all(np.equal(np.mod(arr, 1), 0)):
        raise ValueError(f"Q must be a pair of integers (n1, n2) on the {lattice.L}x{lattice.L} grid; got {n!r}")
    arr = arr.astype(np.int64)
    L = lattice.L
    if np.all(arr % L == 0):
        raise ValueError(f"Q must be nonzero modulo L={L}; got {n!r} (use fm() for a uniform state)")
    row = int(arr[0] % L + L * (arr[1] % L))  # the label's row of the grid (FFT order)
    if np.array_equal(lattice.q_integers[row], arr):
        return lattice.q_vectors[row].copy()  # bit-identical to the grid the solver uses
    return arr.astype(float) @ lattice.b / L


def rotation_plane(q: np.ndarray, plane: str) -> tuple[np.ndarray, np.ndarray]:
    """The unit vectors ``(e1, e2)`` that a modulation of Cartesian wavevector ``q`` rotates in.

    ``neel``: ``(e_z, Q_hat)``; ``bloch``: ``(e_z, z x Q_hat)``; ``inplane``:
    ``(Q_hat, z x Q_hat)`` (see the module docstring).

    Raises
    ------
    ValueError
        For an unknown ``plane``.
    """
    if plane not in PLANES:
        raise ValueError(f"plane must be one of {list(PLANES)}; got {plane!r}")
    qhat = np.array([q[0], q[1], 0.0]) / np.linalg.norm(q[:2])
    zxq = np.array([-qhat[1], qhat[0], 0.0])
    ez = np.array([0.0, 0.0, 1.0])
    if plane == "neel":
        return ez, qhat
    if plane == "bloch":
        return ez, zxq
    return qhat, zxq


def _check_chirality(chirality: int) -> int:
    if chirality not in (1, -1):
        raise ValueError(f"chirality must be +1 or -1; got {chirality!r}")
    return int(chirality)


def multi_q(
    lattice: Lattice,
    Qs: Sequence[Sequence[int]],
    *,
    amplitude_z: float | Sequence[float] = 1.0,
    amplitude_e: float | Sequence[float] = 1.0,
    plane: str = "neel",
    chirality: int = 1,
    offset: float = 0.0,
    phases: Sequence[float] | None = None,
    origin: Sequence[float] = (0.0, 0.0),
    normalized: bool = True,
) -> np.ndarray:
    """Normalised superposition ``offset e_z + sum_nu [a_z cos(phi_nu) e1 - chirality a_e sin(phi_nu) e2]``.

    Parameters
    ----------
    lattice : Lattice
    Qs : sequence of (n1, n2)
        Grid labels of the ordering wavevectors.
    amplitude_z, amplitude_e : float or sequence of float
        Amplitudes of the ``cos`` part (along ``e_z``, or along ``Q_hat`` for
        ``plane="inplane"``) and of the ``sin`` part, per wavevector.
    plane : {"neel", "bloch", "inplane"}
    chirality : {+1, -1}
        Sense of rotation: the ``sin`` part is multiplied by ``-chirality``, so that
        ``chirality=+1`` is the sense that ``D > 0`` favours in ``physics.md``'s Hamiltonian
        (checked for interfacial DMI with ``plane="neel"``); ``-1`` is the other one.
    offset : float
        Uniform component along ``+z`` added before normalising.
    phases : sequence of float, optional
        ``phi_nu = Q_nu . (r - origin) + phases[nu]``; zero by default.
    origin : (x, y)
        Cartesian point where every phase is zero (the centre of a texture).
    normalized : bool, default True
        False returns the superposition before normalising (the solver's double-Q ansatz
        rescales its ``z`` part first).

    Returns
    -------
    ndarray of shape (N, 3)
    """
    chir = _check_chirality(chirality)
    if len(Qs) == 0:
        raise ValueError("Qs must hold at least one wavevector label (n1, n2); got an empty sequence")
    n_q = len(Qs)
    a_z = np.broadcast_to(np.asarray(amplitude_z, dtype=float), (n_q,))
    a_e = np.broadcast_to(np.asarray(amplitude_e, dtype=float), (n_q,))
    ph = np.zeros(n_q) if phases is None else np.asarray(phases, dtype=float)
    if ph.shape != (n_q,):
        raise ValueError(f"phases must have one entry per wavevector ({n_q}); got {phases!r}")
    r = lattice.positions - np.asarray(origin, dtype=float)
    v = np.zeros((lattice.N, 3))
    for nu, n in enumerate(Qs):
        q = wavevector(lattice, n)
        e1, e2 = rotation_plane(q, plane)
        phi = r @ q + ph[nu]
        v += a_z[nu] * np.cos(phi)[:, None] * e1 - chir * a_e[nu] * np.sin(phi)[:, None] * e2
    v[:, 2] += offset  # after the modulations: the solver's ansatz states add it last
    return normalize(v) if normalized else v


def helix(
    lattice: Lattice,
    Q: Sequence[int],
    *,
    plane: str = "neel",
    chirality: int = 1,
    offset: float = 0.0,
    phase: float = 0.0,
) -> np.ndarray:
    """Single-Q spiral with wavevector label ``Q``; with ``offset`` a cone-like state in a field.

    ``offset = 0`` gives an ideal helix with ``S(+-Q)`` holding all the weight.
    """
    return multi_q(lattice, [Q], plane=plane, chirality=chirality, offset=offset, phases=[phase])


def soliton_lattice(
    lattice: Lattice,
    Q: Sequence[int],
    modulus: float,
    *,
    plane: str = "neel",
    chirality: int = 1,
) -> np.ndarray:
    """Chiral soliton lattice: the exact anharmonic single-Q solution of the sine-Gordon model.

    The rotation angle solves ``phi'' = kappa^2 sin(phi)`` (a helix in a field or an anisotropy
    favouring ``phi = 0`` along the rotation plane), ``phi(x) = 2 am(2 K(k) x / lambda | k) + pi``
    with ``x`` along ``Q`` and the period ``lambda = 2 pi / |Q|``, so the texture is periodic on
    the torus and its ``S(q)`` weight lies on ``Q`` and its harmonics only. ``modulus = 0`` is the
    ideal helix of :func:`helix`; ``modulus -> 1`` gives narrow ``2 pi`` kinks on a uniform
    background (weight moves from ``Q`` to its harmonics).

    Parameters
    ----------
    lattice : Lattice
    Q : (n1, n2)
        Grid label of the wavevector.
    modulus : float
        Elliptic modulus ``k`` in ``[0, 1)``.
    plane : {"neel", "bloch", "inplane"}
    chirality : {+1, -1}

    Returns
    -------
    ndarray of shape (N, 3)
    """
    from scipy.special import ellipj, ellipk

    chir = _check_chirality(chirality)
    k = float(modulus)
    if not (0.0 <= k < 1.0):
        raise ValueError(f"modulus must be a real number in [0, 1); got {modulus!r}")
    q = wavevector(lattice, Q)
    e1, e2 = rotation_plane(q, plane)
    m = k * k
    x = (lattice.positions @ q) / (2 * np.pi)  # position along Q in periods
    _, _, _, amp = ellipj(2 * ellipk(m) * x, m)
    phi = 2 * amp + (np.pi if k > 0 else 0.0)
    v = np.cos(phi)[:, None] * e1 - chir * np.sin(phi)[:, None] * e2
    return normalize(v)


def hexagonal_triplet(lattice: Lattice, n: int = 1) -> list[tuple[int, int]]:
    """Three grid labels with ``Q1 + Q2 + Q3 = 0`` at 120 degrees on a triangular torus.

    The labels ``(2n, n), (-n, n), (-n, -2n)`` point along the bond directions ``a1``,
    ``a2 - a1`` and ``-a2`` with ``|Q| = 2 pi n / L``; for the default model at ``L = 24``,
    ``n = 1`` gives ``|Q| = pi / 6``. On a square torus, returns the near-hexagonal set
    ``(2n, 2n), (n, -3n), (-3n, n)`` (lengths differ by about 10 %).
    """
    if lattice.kind == "triangular":
        return [(2 * n, n), (-n, n), (-n, -2 * n)]
    return [(2 * n, 2 * n), (n, -3 * n), (-3 * n, n)]


def triple_q_skx(
    lattice: Lattice,
    Qs: Sequence[Sequence[int]] | None = None,
    *,
    polarity: int = 1,
    plane: str = "neel",
    chirality: int = 1,
    offset: float = 0.5,
    phases: Sequence[float] | None = None,
    origin: Sequence[float] = (0.0, 0.0),
) -> np.ndarray:
    """Triple-Q skyrmion crystal: ``normalize(offset e_z - sum_nu [cos(phi_nu) e_z - chirality sin(phi_nu) e_nu])``.

    With ``polarity=+1`` the background points up (``m_z > 0``), the cores point down and
    the charge is ``-1`` per magnetic cell; ``polarity=-1`` mirrors ``S_z`` and gives ``+1``.
    ``Qs`` defaults to :func:`hexagonal_triplet` ``(lattice, 1)``; they should sum to zero.
    """
    if polarity not in (1, -1):
        raise ValueError(f"polarity must be +1 or -1; got {polarity!r}")
    Qs = hexagonal_triplet(lattice, 1) if Qs is None else Qs
    s = multi_q(
        lattice, Qs, amplitude_z=-1.0, amplitude_e=-1.0, plane=plane, chirality=chirality,
        offset=offset, phases=phases, origin=origin,
    )
    if polarity == -1:
        s[:, 2] *= -1.0
    return s


def meron_antimeron(
    lattice: Lattice,
    Q1: Sequence[int] | None = None,
    Q2: Sequence[int] | None = None,
    *,
    inplane: float = 1.0,
    out_of_plane: float = 0.45,
    offset: float = 0.15,
    plane: str = "neel",
    chirality: int = 1,
    phases: Sequence[float] | None = None,
    origin: Sequence[float] = (0.0, 0.0),
) -> np.ndarray:
    """Square meron-antimeron crystal from two orthogonal, equal-length wavevectors.

    ``normalize(offset e_z + sum_nu [out_of_plane cos(phi_nu) e_z + chirality inplane sin(phi_nu) e_nu])``.
    Per magnetic cell the in-plane part has two vortices (at ``phi = (0, 0)`` and
    ``(pi, pi)``) and two antivortices; with ``0 < offset < 2 out_of_plane`` one vortex
    core points down and the other three cores up, so the charges are three ``-1/2`` and
    one ``+1/2``: net ``-1`` per cell on a canted background (physics.md 1.5). ``Q1, Q2``
    default to ``(1, 1), (1, -1)`` on a square torus (the preset's pair at ``L = 24``) and
    must be given on a triangular one.
    """
    if Q1 is None or Q2 is None:
        if lattice.kind != "square":
            raise ValueError(
                "Q1 and Q2 must be given on a triangular lattice (it has no square pair of "
                f"equal-length orthogonal wavevectors in general); got Q1={Q1!r}, Q2={Q2!r}"
            )
        Q1, Q2 = (1, 1), (1, -1)
    return multi_q(
        lattice, [Q1, Q2], amplitude_z=out_of_plane, amplitude_e=-inplane, plane=plane,
        chirality=chirality, offset=offset, phases=phases, origin=origin,
    )


def fm(lattice: Lattice, direction: Sequence[float] = (0.0, 0.0, 1.0)) -> np.ndarray:
    """Uniform state along ``direction`` (normalised)."""
    d = np.asarray(direction, dtype=float)
    if d.shape != (3,) or not np.isfinite(d).all() or np.linalg.norm(d) == 0:
        raise ValueError(f"direction must be a nonzero 3-vector; got {direction!r}")
    return np.tile(d / np.linalg.norm(d), (lattice.N, 1))


def canted_fm(lattice: Lattice, m_z: float = 0.5, azimuth: float = 0.0) -> np.ndarray:
    """Uniform canted state with ``S_z = m_z`` and in-plane angle ``azimuth``.

    For easy-plane ``K > 0`` and ``h < 2K`` the canted FM ground state has ``m_z = h / 2K``.
    """
    if not -1.0 <= m_z <= 1.0:
        raise ValueError(f"m_z must be in [-1, 1]; got {m_z!r}")
    sin_t = np.sqrt(1.0 - m_z**2)
    return fm(lattice, (sin_t * np.cos(azimuth), sin_t * np.sin(azimuth), m_z))


def random_spins(lattice: Lattice, seed: Any = None) -> np.ndarray:
    """Independent spins uniform on the sphere (an infinite-temperature state)."""
    rng = np.random.default_rng(seed)
    return normalize(rng.normal(size=(lattice.N, 3)))


random = random_spins
"""Alias of :func:`random_spins`."""
