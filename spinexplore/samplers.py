"""Initial designs over a :class:`~spinexplore.space.ParameterSpace`.

Every sampler returns points in *physical* units, shape ``(n, space.n_dims)``, inside the
box. Log-scaled axes are sampled uniformly in ``log(value)`` because the designs are built
in the unit cube and mapped with :meth:`ParameterSpace.from_unit`.

Examples
--------
>>> from spinexplore.space import ParameterSpace
>>> space = ParameterSpace({"h": (0.0, 1.0), "K": (-1.0, 1.0)})
>>> sample(space, 8, method="sobol", seed=0).shape
(8, 2)
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from scipy.stats import qmc

from spinexplore._validation import check_choice, check_int
from spinexplore.space import ParameterSpace

__all__ = ["SAMPLERS", "sample", "lhs", "sobol", "grid", "random_uniform", "unit_sample"]

SAMPLERS = ("lhs", "sobol", "grid", "random")


def _check_space(space: Any) -> ParameterSpace:
    if not isinstance(space, ParameterSpace):
        raise TypeError(f"space must be a spinexplore.ParameterSpace; got {space!r}")
    if space.n_dims < 1:  # pragma: no cover - ParameterSpace already forbids it
        raise ValueError(f"space must have at least one free dimension; got {space!r}")
    return space


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    if seed is None or isinstance(seed, np.random.Generator):
        return np.random.default_rng(seed)
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(int(seed))
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    raise TypeError(f"seed must be an int, a numpy Generator or None; got {seed!r}")


def unit_sample(
    n_dims: int,
    n: int,
    method: str = "lhs",
    seed: int | np.random.Generator | None = None,
    *,
    scramble: bool = True,
) -> np.ndarray:
    """A design of ``n`` points in the unit cube ``[0, 1]^n_dims``.

    Parameters
    ----------
    n_dims : int
        Number of dimensions, 1 to 6 (more are accepted).
    n : int
        Number of points, ``n >= 1``.
    method : {"lhs", "sobol", "grid", "random"}
        The design; see :func:`lhs`, :func:`sobol`, :func:`grid`, :func:`random_uniform`.
    seed : int, numpy Generator or None
        Seed of the design (``grid`` ignores it).
    scramble : bool, default=True
        ``lhs``: random positions inside the strata (False: stratum centres).
        ``sobol``: Owen scrambling (False: the plain Sobol sequence, deterministic).

    Returns
    -------
    ndarray of shape (n, n_dims)
    """
    n_dims = check_int("n_dims", n_dims, minimum=1)
    n = check_int("n", n, minimum=1)
    check_choice("method", method, SAMPLERS)
    if method == "grid":
        return _unit_grid(n_dims, n)
    rng = _rng(seed)
    if method == "random":
        return rng.random((n, n_dims))
    if method == "lhs":
        return qmc.LatinHypercube(d=n_dims, scramble=bool(scramble), rng=rng).random(n)
    # sobol: draw the next power of two and keep the first n points (a prefix of a Sobol
    # sequence is still low-discrepancy; scipy only warns about the balance property).
    engine = qmc.Sobol(d=n_dims, scramble=bool(scramble), rng=rng)
    m = max(0, math.ceil(math.log2(n)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        pts = engine.random_base2(m)[:n]
    return np.clip(pts, 0.0, 1.0)


def _grid_shape(n_dims: int, n: int) -> list[int]:
    """Per-axis counts, as equal as possible, whose product is the smallest one >= n."""
    k = max(1, math.floor(n ** (1.0 / n_dims) + 1e-9))
    counts = [k] * n_dims
    axis = 0
    while math.prod(counts) < n:
        counts[axis] += 1
        axis = (axis + 1) % n_dims
    return counts


def _unit_grid(n_dims: int, n: int) -> np.ndarray:
    counts = _grid_shape(n_dims, n)
    axes = [(np.arange(c) + 0.5) / c for c in counts]
    full = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, n_dims)
    if full.shape[0] == n:
        return full
    keep = np.unique(np.round(np.linspace(0, full.shape[0] - 1, n)).astype(int))
    return full[keep]


def sample(
    space: ParameterSpace,
    n: int,
    method: str = "lhs",
    seed: int | np.random.Generator | None = None,
    *,
    scramble: bool = True,
) -> np.ndarray:
    """``n`` points of an initial design over ``space``, in physical units.

    Parameters
    ----------
    space : ParameterSpace
        The box to sample.
    n : int
        Number of points, ``n >= 1``.
    method : {"lhs", "sobol", "grid", "random"}, default="lhs"
        The design (names listed in :data:`SAMPLERS`).
    seed : int, numpy Generator or None
        Same seed, same points. ``grid`` is deterministic and ignores it.
    scramble : bool, default=True
        Randomise the ``lhs`` / ``sobol`` design (see :func:`unit_sample`).

    Returns
    -------
    ndarray of shape (n, space.n_dims)
        Points inside the bounds of ``space``.

    Raises
    ------
    ValueError
        For an unknown ``method`` (the message lists :data:`SAMPLERS`) or ``n < 1``.
    """
    space = _check_space(space)
    check_choice("method", method, SAMPLERS)
    n = check_int("n", n, minimum=1)
    return space.from_unit(unit_sample(space.n_dims, n, method, seed, scramble=scramble))


def lhs(space: ParameterSpace, n: int, seed: int | np.random.Generator | None = None, *,
        scramble: bool = True) -> np.ndarray:
    """Latin hypercube design: each axis split in ``n`` strata, one point per stratum.

    See :func:`sample` for the parameters; ``scramble=False`` puts points at stratum centres.
    """
    return sample(space, n, "lhs", seed, scramble=scramble)


def sobol(space: ParameterSpace, n: int, seed: int | np.random.Generator | None = None, *,
          scramble: bool = True) -> np.ndarray:
    """Sobol low-discrepancy design (Owen-scrambled by default).

    Any ``n`` is allowed: the first ``n`` points of a ``2**ceil(log2 n)`` sequence are
    returned. See :func:`sample` for the parameters.
    """
    return sample(space, n, "sobol", seed, scramble=scramble)


def grid(space: ParameterSpace, n: int) -> np.ndarray:
    """A regular grid of cell centres with ``n`` points.

    The per-axis counts are as equal as possible and their product is the smallest one
    ``>= n`` (``n = k**n_dims`` gives the full ``k x ... x k`` grid). When the product exceeds
    ``n``, ``n`` points evenly spaced in the grid's C order are kept (deterministic).
    Points sit at cell centres ``(i + 0.5) / k`` of the unit cube, so no point lies on the
    boundary of the box.
    """
    return sample(space, n, "grid")


def random_uniform(space: ParameterSpace, n: int,
                   seed: int | np.random.Generator | None = None) -> np.ndarray:
    """``n`` independent uniform points (uniform in ``log`` on log-scaled axes)."""
    return sample(space, n, "random", seed)
