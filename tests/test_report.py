"""The README's benchmark figures are generated from benchmarks/results/*.json and kept in step."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "benchmarks" / "report.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPORT), *args], capture_output=True, text=True, timeout=120)


def test_readme_figures_match_their_json():
    res = _run("--check")
    assert res.returncode == 0, res.stderr


def test_every_benchmark_section_is_listed_and_has_its_json():
    res = _run("--list")
    assert res.returncode == 0, res.stderr
    names = {line.split("report:")[1] for line in res.stdout.splitlines()}
    assert {"parallel", "end_to_end:efficiency", "active_learning", "store", "scale"} <= names, names


def _fake_root(tmp_path: Path) -> Path:
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    (tmp_path / "docs").mkdir()
    shutil.copy(REPORT, tmp_path / "benchmarks" / "report.py")
    (tmp_path / "benchmarks" / "demo.py").write_text(
        "import json\nimport numpy  # a heavy import the report does not run\n"
        "REPORT_DATA = {'other': 'demo_other.json'}\n"
        "def render_readme(data):\n    return f\"speed {data['speed']:.1f} x\"\n"
        "def render_readme_other(data):\n    return _fmt(data['n'])\n"
        "def _fmt(n):\n    return f'{n} seeds'\n"
        "main()  # module body: never executed by the report\n")
    (tmp_path / "benchmarks" / "results" / "demo.json").write_text(json.dumps({"speed": 2.25}))
    (tmp_path / "benchmarks" / "results" / "demo_other.json").write_text(json.dumps({"n": 5}))
    (tmp_path / "README.md").write_text("intro\n<!-- BEGIN report:demo -->\nspeed 9.9 x\n<!-- END report:demo -->\n")
    (tmp_path / "docs" / "x.md").write_text("<!-- BEGIN report:demo:other -->\n5 seeds\n<!-- END report:demo:other -->\n")
    return tmp_path


def test_check_names_a_stale_section_and_write_fixes_it(tmp_path):
    root = _fake_root(tmp_path)
    res = _run("--check", "--root", str(root))
    assert res.returncode == 1
    assert "README.md: report:demo differs" in res.stderr and "demo:other" not in res.stderr
    assert _run("--write", "--root", str(root)).returncode == 0
    assert (root / "README.md").read_text() == (
        "intro\n<!-- BEGIN report:demo -->\nspeed 2.2 x\n<!-- END report:demo -->\n")
    assert _run("--check", "--root", str(root)).returncode == 0
