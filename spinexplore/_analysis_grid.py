"""Forwarder: ``spinexplore._analysis_grid`` is :mod:`spinexplore.analysis._grid` (one module),
for plotting's imports until they name the new path."""

import sys

from spinexplore.analysis import _grid

sys.modules[__name__] = _grid
