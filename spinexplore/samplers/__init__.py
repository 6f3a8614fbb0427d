"""Initial designs over a :class:`~spinexplore.space.ParameterSpace`: ``base`` (what a design
is, :class:`Design`) and ``registry`` (``SAMPLERS``, :func:`register_sampler`, :func:`sample`).

Examples
--------
>>> from spinexplore.space import ParameterSpace
>>> space = ParameterSpace({"h": (0.0, 1.0), "K": (-1.0, 1.0)})
>>> sample(space, 8, method="sobol", seed=0).shape
(8, 2)
"""

from spinexplore.samplers.base import Design
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

__all__ = ["Design", "SAMPLERS", "register_sampler", "sample", "lhs", "sobol", "grid", "random_uniform",
           "unit_sample"]
