"""Compile the numba kernels of the solver once, into numba's on-disk cache, for a test session.

In a fresh checkout or venv no kernel is cached yet, and every process that calls the solver
first compiles it (about 20 s of CPU): both pytest-xdist workers at the same time, and any
simulation worker started before the cache was written. ``tests/conftest.py`` runs this script
in one background process while the workers collect tests; a worker waits for it (a lock
file) before its first test, then loads the kernels from the cache like any later process.
No test's timeout pays for the compile.

Run as ``python tests/helpers/warm_kernels.py``; the parent holds an exclusive ``flock`` on a
lock file through a descriptor that this process inherits, so the lock is released when this
process exits, however it exits. The calls go through the public solver API (every mode's code
path, ``T = 0`` and ``T > 0``, an easy axis for the reflection sweeps), so a change of the
kernels needs no change here; an error only means that the tests compile for themselves.
"""

from __future__ import annotations

import sys


def warm() -> None:
    from spinexplore.physics.model import SpinModel
    from spinexplore.physics.solver import simulate
    from spinexplore.physics.thermal import thermal_run

    model = SpinModel(J1=1.0, D=0.5, h=0.3)
    for mode in ("screening", "fast"):
        simulate(model, lattice_size=6, mode=mode, seed=1)
    easy_axis = SpinModel(J1=1.0, D=0.5, h=0.3, K=-0.2, T=0.4)
    simulate(easy_axis, lattice_size=6, mode="screening", seed=1)
    thermal_run(easy_axis, lattice_size=6, n_measure=2, every=1, n_equilibrate=2, n_anneal=2)


if __name__ == "__main__":
    try:
        warm()
    except Exception as exc:  # noqa: BLE001 - the tests then compile (and report) for themselves
        print(f"warm_kernels: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
