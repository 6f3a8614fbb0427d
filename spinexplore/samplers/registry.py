"""The sampler registry: the built-in designs in ``SAMPLERS``, :func:`register_sampler`, and
:func:`unit_sample` / :func:`sample` (a design by name, in the unit cube or in physical units).

Every sampler returns points in *physical* units, shape ``(n, space.n_dims)``, inside the
box. Log-scaled axes are sampled uniformly in ``log(value)`` because the designs are built
in the unit cube and mapped with :meth:`ParameterSpace.from_unit`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.stats import qmc

from spinexplore._registry import Registry
from spinexplore._validation import InputError, check_int
from spinexplore.samplers.base import Design, Seed, check_space, rng_of
from spinexplore.space import ParameterSpace

__all__ = ["SAMPLERS", "register_sampler", "sample", "lhs", "sobol", "grid", "random_uniform",
           "unit_sample"]


def _lhs(n_dims: int, n: int, rng: np.random.Generator, *, scramble: bool) -> np.ndarray:
    return qmc.LatinHypercube(d=n_dims, scramble=scramble, rng=rng).random(n)


def _sobol(n_dims: int, n: int, rng: np.random.Generator, *, scramble: bool) -> np.ndarray:
    # draw the next power of two and keep the first n points (a prefix of a Sobol sequence is
    # still low-discrepancy; scipy only warns about the balance property)
    engine = qmc.Sobol(d=n_dims, scramble=scramble, rng=rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        pts = engine.random_base2(max(0, math.ceil(math.log2(n))))[:n]
    return np.clip(pts, 0.0, 1.0)


def _grid(n_dims: int, n: int, rng: np.random.Generator, *, scramble: bool) -> np.ndarray:
    return _unit_grid(n_dims, n)  # deterministic: no randomness to use


def _random(n_dims: int, n: int, rng: np.random.Generator, *, scramble: bool) -> np.ndarray:
    return rng.random((n, n_dims))


#: Design names and their functions ``design(n_dims, n, rng, *, scramble)`` in the unit cube.
SAMPLERS = Registry("method", {"lhs": _lhs, "sobol": _sobol, "grid": _grid, "random": _random})


def register_sampler(name: str, design: Design | Callable[..., Any]) -> None:
    """Make ``name`` an initial design, as good as a built-in one.

    The name is then accepted by :func:`sample` and :func:`unit_sample`, by the explorer's
    ``initial_method`` and the command line's ``--initial-method``, and listed by
    :data:`SAMPLERS`. Registering an existing name replaces it.

    Parameters
    ----------
    name : str
        The design's name.
    design : callable
        ``design(n_dims, n, rng, *, scramble)`` returns ``n`` points of the unit cube, an
        array of shape ``(n, n_dims)`` with values in ``[0, 1]``; ``rng`` is a numpy
        Generator (the same seed gives the same ``rng``, so the design must draw all its
        randomness from it), ``scramble`` a bool the design may ignore.

    Raises
    ------
    InputError
        For a name that is not a non-empty string, or a design that is not callable.

    Examples
    --------
    >>> def halton(n_dims, n, rng, *, scramble):
    ...     return qmc.Halton(d=n_dims, scramble=scramble, rng=rng).random(n)
    >>> register_sampler("halton", halton)
    >>> unit_sample(2, 4, "halton", seed=0).shape
    (4, 2)
    >>> del SAMPLERS["halton"]
    """
    SAMPLERS.register(name, design)


def unit_sample(n_dims: int, n: int, method: str = "lhs", seed: Seed = None, *,
                scramble: bool = True) -> np.ndarray:
    """A design of ``n`` points in the unit cube ``[0, 1]^n_dims``.

    Parameters
    ----------
    n_dims : int
        Number of dimensions, 1 to 6 (more are accepted).
    n : int
        Number of points, ``n >= 1``.
    method : str, default="lhs"
        A name from :data:`SAMPLERS`: ``"lhs"``, ``"sobol"``, ``"grid"``, ``"random"`` (see
        :func:`lhs`, :func:`sobol`, :func:`grid`, :func:`random_uniform`) or one added with
        :func:`register_sampler`.
    seed : int, numpy Generator or None
        Seed of the design (``grid`` ignores it).
    scramble : bool, default=True
        ``lhs``: random positions inside the strata (False: stratum centres).
        ``sobol``: Owen scrambling (False: the plain Sobol sequence, deterministic).

    Returns
    -------
    ndarray of shape (n, n_dims)

    Raises
    ------
    InputError
        For an unknown ``method`` (a ``ValueError``; the message lists :data:`SAMPLERS`),
        ``n < 1`` or ``n_dims < 1``, or a registered design that returns anything but
        ``(n, n_dims)`` points of the unit cube.
    """
    n_dims = check_int("n_dims", n_dims, minimum=1)
    n = check_int("n", n, minimum=1)
    design = SAMPLERS[SAMPLERS.check(method)]
    pts = np.asarray(design(n_dims, n, rng_of(seed), scramble=bool(scramble)), dtype=float)
    if pts.shape != (n, n_dims):
        raise InputError(f"sampler {method!r} must return an array of shape ({n}, {n_dims}) "
                         f"(n, n_dims); got shape {pts.shape}")
    if not np.all((pts >= 0.0) & (pts <= 1.0)):
        raise InputError(f"sampler {method!r} must return points of the unit cube [0, 1]^{n_dims}; "
                         f"got values from {np.nanmin(pts):g} to {np.nanmax(pts):g}")
    return pts


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


def sample(space: ParameterSpace, n: int, method: str = "lhs", seed: Seed = None, *,
           scramble: bool = True) -> np.ndarray:
    """``n`` points of an initial design over ``space``, in physical units.

    ``n``, ``method``, ``seed`` and ``scramble`` are those of :func:`unit_sample`: the design
    is built in the unit cube and mapped with :meth:`ParameterSpace.from_unit`. The same
    ``seed`` gives the same points; ``grid`` is deterministic and ignores it.

    Parameters
    ----------
    space : ParameterSpace
        The box to sample.

    Returns
    -------
    ndarray of shape (n, space.n_dims)
        Points inside the bounds of ``space``.

    Raises
    ------
    InputError
        For an unknown ``method`` (a ``ValueError``; the message lists :data:`SAMPLERS`) or
        ``n < 1``.
    """
    space = check_space(space)
    SAMPLERS.check(method)
    n = check_int("n", n, minimum=1)
    return space.from_unit(unit_sample(space.n_dims, n, method, seed, scramble=scramble))


def lhs(space: ParameterSpace, n: int, seed: Seed = None, *, scramble: bool = True) -> np.ndarray:
    """Latin hypercube design: each axis split in ``n`` strata, one point per stratum.

    See :func:`sample` for the parameters; ``scramble=False`` puts points at stratum centres.
    """
    return sample(space, n, "lhs", seed, scramble=scramble)


def sobol(space: ParameterSpace, n: int, seed: Seed = None, *, scramble: bool = True) -> np.ndarray:
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


def random_uniform(space: ParameterSpace, n: int, seed: Seed = None) -> np.ndarray:
    """``n`` independent uniform points (uniform in ``log`` on log-scaled axes)."""
    return sample(space, n, "random", seed)
