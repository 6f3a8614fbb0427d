"""The cluster example for dask runs as documented, on a LocalCluster (slow)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_dask_example_on_a_local_cluster():
    pytest.importorskip("distributed")
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "cluster_dask.py"), "--n-points", "6"],
                          capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r"dask: 6/6 simulations ok on 2 workers", proc.stdout), proc.stdout[-3000:]
    assert len(re.findall(r"^Point \d+: [A-Z_]+ \(conf=", proc.stderr, re.M)) == 6
