"""The one spin normaliser of :mod:`spinexplore.physics` (the bottom layer, imports only numpy)."""

from __future__ import annotations

import numpy as np

__all__ = ["normalize"]

_ZERO = 1e-12


def normalize(v: np.ndarray) -> np.ndarray:
    """Unit vectors along the rows of ``v`` (shape (N, 3)), as a new C-contiguous array.

    A row shorter than ``1e-12`` (a node of a superposition, where no direction is defined)
    becomes ``+z``. Every builder and relaxation of the package normalises through this
    function, so equal inputs give bit-identical spins everywhere.
    """
    v = np.asarray(v, dtype=float)
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    bad = norm[:, 0] < _ZERO
    if np.any(bad):
        v = v.copy()
        v[bad] = (0.0, 0.0, 1.0)
        norm[bad] = 1.0
    return np.ascontiguousarray(v / norm)
