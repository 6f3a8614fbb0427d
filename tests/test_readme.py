"""The README's code must work as written: every ```python block runs, and its CLI lines parse."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from spinexplore.cli import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_the_two_commands():
    shell = "\n".join(_blocks("bash"))
    assert "pip install . && spinexplore run --output-dir demo" in shell
    assert 'pip install -e ".[test]" && python -m pytest' in shell


def test_every_spinexplore_command_line_in_the_readme_parses():
    parser = build_parser()
    lines = [ln.strip() for block in _blocks("bash") for ln in block.splitlines()]
    commands = []
    for ln in lines:
        for part in ln.split("&&"):
            part = part.strip()
            if part.startswith("spinexplore "):
                commands.append(part)
    assert len(commands) >= 4
    for cmd in commands:
        argv = shlex.split(cmd.split("#")[0])[1:]
        parser.parse_args(argv)  # SystemExit(2) would fail the test


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_python_blocks_run(index, tmp_path):
    code = _blocks("python")[index]
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=900,
        env={**__import__("os").environ, "MPLBACKEND": "Agg"},
    )
    assert res.returncode == 0, f"README python block {index} failed:\n{code}\n{res.stderr[-3000:]}"
