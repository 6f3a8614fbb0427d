"""``spinexplore.goals`` is :mod:`spinexplore.runner.goals` (the stopping goals of a run): this
forwarder keeps the public import path; both names are one module."""

import sys

from spinexplore.runner import goals as _goals

sys.modules[__name__] = _goals
