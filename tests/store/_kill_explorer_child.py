"""Runs a real exploration for the explorer-level kill -9 test.

Usage: ``python _kill_explorer_child.py PATH LOG_DIR``

The simulation is analytic (``phase_of``: a diagonal boundary), takes 30 ms, and
appends the parameters of every call to ``LOG_DIR/calls-<pid>.log`` before returning, so the
test can check that no finished point is ever simulated again.
"""

from __future__ import annotations

import os
import sys
import time

from spinexplore import ParameterSpace, PhaseType
from spinexplore.explorer import ActiveLearningExplorer

SPACE = ParameterSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)})
N_INITIAL, N_PER_ITERATION, N_ITERATIONS = 20, 10, 10


def phase_of(x: float, y: float) -> PhaseType:
    return PhaseType.FERROMAGNET if x + 0.5 * y > 0.7 else PhaseType.SINGLE_Q


class Simulation:
    def __init__(self, log: str) -> None:
        self.log = log

    def __call__(self, p: dict) -> dict:
        time.sleep(0.03)
        line = f"{p['x']!r} {p['y']!r}\n".encode()
        fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
        return {"phase": phase_of(p["x"], p["y"]), "confidence": 1.0, "m": p["x"] - p["y"]}


def main() -> None:
    path, log_dir = sys.argv[1], sys.argv[2]
    if os.path.exists(path):
        ex = ActiveLearningExplorer.load(path, verbose=False)
    else:
        ex = ActiveLearningExplorer(SPACE, seed=5, store=path, verbose=False)
    print("ready", flush=True)
    sim = Simulation(os.path.join(log_dir, f"calls-{os.getpid()}.log"))
    ex.run(N_ITERATIONS, N_PER_ITERATION, sim, n_initial=N_INITIAL, n_jobs=1,
           checkpoint_interval=3, progress=False)
    ex.close()
    print("finished", flush=True)


if __name__ == "__main__":
    main()
