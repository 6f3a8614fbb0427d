"""Statistics of Monte Carlo series (no other module of the package is imported here)."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["binned_error"]


def binned_error(x: np.ndarray, *, min_blocks: int = 16) -> float:
    """Standard error of the mean of a (possibly correlated) series by binning (Flyvbjerg and
    Petersen, J. Chem. Phys. 91, 461 (1989)).

    Neighbouring values are averaged in pairs, level after level; at each level ``l`` the naive
    error of the block means, ``s_l = std(ddof=1) / sqrt(n_l)``, grows with ``l`` while the blocks
    are shorter than the correlation time and then stays constant (within its own uncertainty
    ``s_l / sqrt(2 (n_l - 1))``). The first level from which the next one is no longer
    significantly larger is returned (the plateau), among the levels with at least
    ``min_blocks`` blocks (the last of them when no plateau is reached: an underestimate, as
    for any series shorter than a few hundred correlation times). A series of fewer than
    ``2 * min_blocks`` values (decorrelated snapshots) gets the naive error; NaN for fewer than
    2 values.
    """
    x = np.asarray(x, dtype=float).ravel()
    if len(x) < 2:
        return math.nan
    levels = [float(x.std(ddof=1) / math.sqrt(len(x)))]
    counts = [len(x)]
    while len(x) >= 2 * min_blocks:
        x = 0.5 * (x[: len(x) // 2 * 2:2] + x[1: len(x) // 2 * 2:2])
        levels.append(float(x.std(ddof=1) / math.sqrt(len(x))))
        counts.append(len(x))
    for k in range(len(levels) - 1):
        if levels[k + 1] <= levels[k] * (1.0 + 1.0 / math.sqrt(2.0 * (counts[k] - 1))):
            return levels[k]
    return levels[-1]
