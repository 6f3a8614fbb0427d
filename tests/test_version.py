"""One version number: pyproject.toml, spinexplore.__version__ and CITATION.cff agree (issue 23, 11)."""

from __future__ import annotations

import re
from pathlib import Path

import spinexplore

ROOT = Path(__file__).resolve().parents[1]


def test_the_version_is_one_number_everywhere():
    pyproject = re.search(r'^version = "([^"]+)"$', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    citation = (ROOT / "CITATION.cff").read_text()
    cff = re.search(r"^version: (\S+)$", citation, re.M).group(1)
    assert spinexplore.__version__ == pyproject == cff == "0.3.0"
    assert re.search(r"^cff-version: 1\.2\.0$", citation, re.M) and "title:" in citation and "authors:" in citation


def test_the_changelog_has_an_unreleased_section_above_the_releases():
    text = (ROOT / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## \[([^\]]+)\]", text, re.M)
    assert headings[0] == "Unreleased" and "0.1.0" in headings
