"""Initial designs over a :class:`~spinexplore.space.ParameterSpace` (see :mod:`.registry`).

Examples
--------
>>> from spinexplore.space import ParameterSpace
>>> space = ParameterSpace({"h": (0.0, 1.0), "K": (-1.0, 1.0)})
>>> sample(space, 8, method="sobol", seed=0).shape
(8, 2)
"""

from spinexplore.samplers.registry import (
    SAMPLERS,
    grid,
    lhs,
    random_uniform,
    register_sampler,
    sample,
    sobol,
    unit_sample,
)

__all__ = ["SAMPLERS", "register_sampler", "sample", "lhs", "sobol", "grid", "random_uniform",
           "unit_sample"]
