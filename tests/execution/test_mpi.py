"""The ``mpi`` backend under a real ``mpiexec`` (slow): examples/cluster_mpi.py with a hang."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _mpiexec():
    pytest.importorskip("mpi4py.futures")
    exe = shutil.which("mpiexec") or shutil.which("mpiexec", path=os.path.dirname(sys.executable))
    if exe is None:
        pytest.skip("mpiexec not found (pip install spinexplore[mpi])")
    return exe


def test_mpi_example_runs_points_and_stops_a_hang():
    cmd = [_mpiexec(), "-n", "3", sys.executable, "-m", "mpi4py.futures",
           str(ROOT / "examples" / "cluster_mpi.py"), "--with-hang", "--timeout", "10"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    match = re.search(r"mpi: (\d+)/(\d+) simulations ok, (\d+) timeout, on (\d+) workers", proc.stdout)
    assert match, proc.stdout[-3000:]
    ok, total, timeouts, workers = map(int, match.groups())
    assert (ok, total, timeouts, workers) == (8, 9, 1, 2)
    assert "Point 8: TIMEOUT" in proc.stderr  # progress lines go to stderr
