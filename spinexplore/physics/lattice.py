"""Periodic Bravais lattices: site positions, neighbour shells, reciprocal grid, triangles.

Sites of an ``L x L`` torus are indexed ``i = x + L * y`` with position
``r_i = x * a1 + y * a2`` (lattice constant 1).

* square:     a1 = (1, 0), a2 = (0, 1)
* triangular: a1 = (1, 0), a2 = (1/2, sqrt(3)/2)

Each shell lists its *forward* bond vectors (every bond counted once, oriented i -> j) as
integer offsets ``(dx, dy)`` in the (a1, a2) basis. Shell 1 follows ``physics.md`` 1.1:
square {x, y}; triangular {a1, a2, a2 - a1}.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

__all__ = ["Lattice", "make_lattice", "lattice_for_spins", "rotations", "orbit_key", "LATTICE_KINDS"]

LATTICE_KINDS = ("triangular", "square")

_A = {
    "square": np.array([[1.0, 0.0], [0.0, 1.0]]),
    "triangular": np.array([[1.0, 0.0], [0.5, np.sqrt(3.0) / 2.0]]),
}
# forward bond offsets (in units of a1, a2) for shells 1, 2, 3
_SHELLS = {
    "square": (
        ((1, 0), (0, 1)),
        ((1, 1), (-1, 1)),
        ((2, 0), (0, 2)),
    ),
    "triangular": (
        ((1, 0), (0, 1), (-1, 1)),
        ((1, 1), (-1, 2), (-2, 1)),
        ((2, 0), (0, 2), (-2, 2)),
    ),
}
_MIN_L = 6


@dataclass(frozen=True, eq=False)
class Lattice:
    """An ``L x L`` periodic lattice of kind ``"triangular"`` or ``"square"``.

    Use :func:`make_lattice` to build one with validation.

    Attributes
    ----------
    kind : str
    L : int
    N : int
        Number of sites, ``L * L``.
    a : ndarray of shape (2, 2)
        Primitive vectors as rows.
    b : ndarray of shape (2, 2)
        Reciprocal vectors as rows, ``a_i . b_j = 2 pi delta_ij``.
    positions : ndarray of shape (N, 2)
    """

    kind: str
    L: int
    a: np.ndarray = field(repr=False)

    @property
    def N(self) -> int:
        return self.L * self.L

    @cached_property
    def b(self) -> np.ndarray:
        return 2.0 * np.pi * np.linalg.inv(self.a).T

    @cached_property
    def coords(self) -> np.ndarray:
        """Integer coordinates (x, y) of each site, shape (N, 2)."""
        idx = np.arange(self.N)
        return np.stack([idx % self.L, idx // self.L], axis=1)

    @cached_property
    def positions(self) -> np.ndarray:
        return self.coords @ self.a

    def index(self, x: np.ndarray | int, y: np.ndarray | int) -> np.ndarray | int:
        """Site index of integer coordinates (wrapped periodically)."""
        return (np.asarray(x) % self.L) + self.L * (np.asarray(y) % self.L)

    def shell_offsets(self, shell: int) -> tuple[tuple[int, int], ...]:
        """Forward bond offsets (integer, in the a1/a2 basis) of shell 1, 2 or 3."""
        if shell not in (1, 2, 3):
            raise ValueError(f"shell must be 1, 2 or 3; got {shell!r}")
        return _SHELLS[self.kind][shell - 1]

    def bond_vectors(self, shell: int = 1) -> np.ndarray:
        """Forward bond vectors of a shell in Cartesian coordinates, shape (z_b, 2)."""
        return np.array(self.shell_offsets(shell), dtype=float) @ self.a

    def neighbors(self, shell: int = 1) -> np.ndarray:
        """Forward neighbour table of a shell, shape (N, z_b): ``j = i + delta_b``."""
        x, y = self.coords[:, 0], self.coords[:, 1]
        return np.stack(
            [self.index(x + dx, y + dy) for dx, dy in self.shell_offsets(shell)], axis=1
        ).astype(np.int64)

    def all_neighbors(self, shell: int = 1) -> np.ndarray:
        """Full neighbour table (forward then backward bonds), shape (N, 2 z_b)."""
        x, y = self.coords[:, 0], self.coords[:, 1]
        offs = self.shell_offsets(shell)
        fwd = [self.index(x + dx, y + dy) for dx, dy in offs]
        bwd = [self.index(x - dx, y - dy) for dx, dy in offs]
        return np.stack(fwd + bwd, axis=1).astype(np.int64)

    @cached_property
    def triangles(self) -> np.ndarray:
        """Counter-clockwise elementary triangles (i, j, k) covering the torus, shape (2N, 3).

        Triangular: up (i, i+a1, i+a2) then down (i+a1, i+a1+a2, i+a2).
        Square: each plaquette split into (i, i+x, i+x+y) and (i, i+x+y, i+y).
        """
        x, y = self.coords[:, 0], self.coords[:, 1]
        i = np.arange(self.N)
        if self.kind == "triangular":
            up = np.stack([i, self.index(x + 1, y), self.index(x, y + 1)], axis=1)
            down = np.stack(
                [self.index(x + 1, y), self.index(x + 1, y + 1), self.index(x, y + 1)], axis=1
            )
        else:
            up = np.stack([i, self.index(x + 1, y), self.index(x + 1, y + 1)], axis=1)
            down = np.stack([i, self.index(x + 1, y + 1), self.index(x, y + 1)], axis=1)
        return np.concatenate([up, down]).astype(np.int64)

    @cached_property
    def triangle_centers(self) -> np.ndarray:
        """Centroids of :attr:`triangles` (unwrapped from the first vertex), shape (2N, 2)."""
        x, y = self.coords[:, 0].astype(float), self.coords[:, 1].astype(float)
        if self.kind == "triangular":
            up = np.stack([x + 1 / 3, y + 1 / 3], axis=1)
            down = np.stack([x + 2 / 3, y + 2 / 3], axis=1)
        else:
            up = np.stack([x + 2 / 3, y + 1 / 3], axis=1)
            down = np.stack([x + 1 / 3, y + 2 / 3], axis=1)
        return np.concatenate([up, down]) @ self.a

    @cached_property
    def plaquettes(self) -> np.ndarray:
        """Counter-clockwise minimal loops for the in-plane winding.

        Square: (i, i+x, i+x+y, i+y), shape (N, 4). Triangular: the triangles, shape (2N, 3).
        """
        if self.kind == "triangular":
            return self.triangles
        x, y = self.coords[:, 0], self.coords[:, 1]
        i = np.arange(self.N)
        return np.stack(
            [i, self.index(x + 1, y), self.index(x + 1, y + 1), self.index(x, y + 1)], axis=1
        ).astype(np.int64)

    @cached_property
    def q_integers(self) -> np.ndarray:
        """Integer labels (n1, n2) of the allowed wavevectors in FFT order, shape (N, 2).

        ``q = (n1 b1 + n2 b2) / L``; the row order matches ``np.fft.fft2`` of a field reshaped
        as ``(L_y, L_x)`` = ``field.reshape(L, L)`` (axis 0 = y = n2, axis 1 = x = n1).
        """
        n = np.fft.fftfreq(self.L, d=1.0 / self.L).astype(int)
        n2, n1 = np.meshgrid(n, n, indexing="ij")
        return np.stack([n1.ravel(), n2.ravel()], axis=1)

    @cached_property
    def q_vectors(self) -> np.ndarray:
        """Allowed wavevectors in Cartesian coordinates (first Brillouin-zone-like), (N, 2)."""
        return self.q_integers @ self.b / self.L


def make_lattice(kind: str, L: int) -> Lattice:
    """Build a validated periodic lattice.

    Parameters
    ----------
    kind : {"triangular", "square"}
    L : int
        Linear size, ``L >= 6`` and even (so that the commensurate textures of the presets fit).

    Raises
    ------
    ValueError
        For an unknown kind or an invalid ``L``.
    """
    if kind not in LATTICE_KINDS:
        raise ValueError(f"lattice kind must be one of {list(LATTICE_KINDS)}; got {kind!r}")
    if isinstance(L, bool) or not isinstance(L, (int, np.integer)):
        raise TypeError(f"lattice_size must be an integer; got {L!r}")
    if L < _MIN_L or L % 2:
        raise ValueError(f"lattice_size must be an even integer >= {_MIN_L}; got {L!r}")
    return Lattice(kind=kind, L=int(L), a=_A[kind].copy())


def lattice_for_spins(spins: Any, lattice: Lattice | str) -> Lattice:
    """The lattice that a spin array of shape (N, 3) lives on.

    Parameters
    ----------
    spins : array_like of shape (N, 3)
    lattice : Lattice or {"triangular", "square"}
        A lattice (it must have N sites) or a kind (then ``L = sqrt(N)``).

    Returns
    -------
    Lattice

    Raises
    ------
    ValueError
        When ``spins`` is not (N, 3), when N is not a square for a kind, or when a lattice
        has another number of sites.
    """
    shape = np.shape(spins)
    if len(shape) != 2 or shape[1] != 3:
        raise ValueError(f"spins must have shape (N, 3); got {shape}")
    n = shape[0]
    if isinstance(lattice, str):
        size = math.isqrt(n)
        if size * size != n:
            raise ValueError(f"spins of an L x L lattice must have L*L rows; got {n} rows")
        return make_lattice(lattice, size)
    if not isinstance(lattice, Lattice) or lattice.N != n:
        raise ValueError(
            f"lattice must be a Lattice with N={n} sites matching the spins, or a kind "
            f"{list(LATTICE_KINDS)}; got {lattice!r}"
        )
    return lattice


def rotations(kind: str) -> list[np.ndarray]:
    """The rotation matrices (2, 2) of the lattice's point group: C6 triangular, C4 square."""
    n = 6 if kind == "triangular" else 4
    out = []
    for k in range(n):
        t = 2 * math.pi * k / n
        out.append(np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]]))
    return out


def orbit_key(kind: str, qs: np.ndarray) -> tuple:
    """Canonical key of a set of wavevectors (rows of ``qs``, each up to sign) under
    :func:`rotations`: two sets have equal keys when a lattice rotation maps one onto the other."""
    keys = []
    for R in rotations(kind):
        rows = []
        for q in qs @ R.T:
            t = tuple(np.round(q, 6) + 0.0)
            tm = tuple(np.round(-q, 6) + 0.0)
            rows.append(max(t, tm))
        keys.append(tuple(sorted(rows)))
    return min(keys)
