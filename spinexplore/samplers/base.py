"""What a sampler is: a :class:`Design`, ``design(n_dims, n, rng, *, scramble)`` in the unit
cube, and how a ``seed`` becomes its ``rng``."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from spinexplore.space import ParameterSpace

__all__ = ["Design", "Seed", "check_space", "rng_of"]


@runtime_checkable
class Design(Protocol):
    """What :data:`~spinexplore.samplers.SAMPLERS` maps a name to: ``design(n_dims, n, rng, *,
    scramble)`` returns ``n`` points of the unit cube, an array of shape ``(n, n_dims)`` with
    values in ``[0, 1]``, drawing all its randomness from the numpy Generator ``rng``;
    ``scramble`` is a bool the design may ignore."""

    def __call__(self, n_dims: int, n: int, rng: np.random.Generator, *, scramble: bool) -> np.ndarray:
        ...


#: What a ``seed`` may be: an int, a numpy Generator (used as it is) or None (fresh entropy).
Seed = int | np.random.Generator | None


def check_space(space: Any) -> ParameterSpace:
    """``space`` if it is a ParameterSpace, else a TypeError."""
    if not isinstance(space, ParameterSpace):
        raise TypeError(f"space must be a spinexplore.ParameterSpace; got {space!r}")
    if space.n_dims < 1:  # pragma: no cover - ParameterSpace already forbids it
        raise ValueError(f"space must have at least one free dimension; got {space!r}")
    return space


def rng_of(seed: Seed) -> np.random.Generator:
    """The Generator of a design: a new one from an int, None or a SeedSequence; a Generator as it is."""
    if seed is None or isinstance(seed, np.random.Generator):
        return np.random.default_rng(seed)
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(int(seed))
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    raise TypeError(f"seed must be an int, a numpy Generator or None; got {seed!r}")
