"""Settings shared by the whole suite.

The fast selection runs with a per-test timeout of 60 s (``timeout`` in ``pyproject.toml``), so
one hang costs a minute, not ten; a test marked ``slow`` (end-to-end physics, fault injection,
benchmarks' quick modes) gets 600 s unless it names its own ``@pytest.mark.timeout``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# tests/helpers/ is imported as ``helpers`` by the test modules (--import-mode=importlib puts no
# test directory on the path by itself)
sys.path.insert(0, str(Path(__file__).parent))

SLOW_TIMEOUT_S = 600


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("slow") is not None and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT_S))
