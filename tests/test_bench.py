"""``spinexplore bench``'s verdict follows the measured efficiency (issue 23, defect 5)."""

from __future__ import annotations

from spinexplore.cli._bench import verdict


def test_a_speedup_of_1_02x_on_two_workers_is_not_called_working():
    line = verdict(True, 1.02 / 2, 2)  # the run: 51 % efficiency
    assert line.startswith("✗") and "51 % efficiency on 2 workers" in line and "working" not in line


def test_the_verdict_by_efficiency():
    assert verdict(True, 0.95, 2).startswith("✓ Parallel processing works well: 95 %")
    assert verdict(True, 0.7, 8).startswith("~ Parallel processing works, at 70 %")
    assert verdict(False, 0.95, 2).startswith("✗ Some simulations failed")
    assert verdict(True, 1.0, 1).startswith("- One worker")
