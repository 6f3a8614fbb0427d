"""The whole-run benchmarks stay runnable: their quick modes, end to end (slow)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def _run(script: str, out: Path, *args: str) -> dict:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--quick", "--out", str(out), *args],
                          capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


def test_end_to_end_quick(tmp_path):
    result = _run("end_to_end.py", tmp_path / "e2e.json", "--parts", "a", "c")
    rows = result["orchestration"]
    assert {r["schedule"] for r in rows} == {"batch", "async"}
    for r in rows:  # efficiency is a fraction of the machine: never above 1 (plus timer noise)
        assert 0.05 < r["efficiency"] <= 1.02, r
    summary = result["quality_summary"]["four_phases_2d"]
    assert summary["async"]["accuracy_at_n"] and summary["batch"]["accuracy_at_n"]


def test_scale_quick(tmp_path):
    rows = _run("scale.py", tmp_path / "scale.json")["rows"]
    assert [r["n_points"] for r in rows] == [1000, 3000]
    assert rows[-1]["accuracy"] > 0.85  # the synthetic 4-D diagram is learned
    assert all(r["checkpoint_ms_median_last50"] > 0 and r["store_mb"] > 0 for r in rows)
