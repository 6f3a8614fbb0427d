"""Progress output: the rule that picks bar, plain lines or silence, and what each prints."""

from __future__ import annotations

import io

import pytest

from spinexplore.execution import make_progress
from spinexplore.execution.progress import format_point


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def _feed(p):
    p.record(23, "SKYRMION", ok=True, confidence=0.95, energy=-3.26171)
    p.record(45, "SINGLE_Q", ok=True, confidence=0.88, energy=-0.7123)
    p.record(46, "TIMEOUT", ok=False)
    p.message("Checkpoint saved (3/4 completed)")
    p.close()


def test_plain_lines_when_the_output_is_not_a_terminal():
    out = io.StringIO()
    p = make_progress(4, file=out)
    assert p.mode == "plain"
    _feed(p)
    assert out.getvalue().splitlines() == [
        "Point 23: SKYRMION (conf=0.95, E=-3.2617)",
        "Point 45: SINGLE_Q (conf=0.88, E=-0.7123)",
        "Point 46: TIMEOUT",
        "Checkpoint saved (3/4 completed)",
    ]
    assert (p.completed, p.failed) == (2, 1)
    assert p.success_rate == pytest.approx(2 / 3)


def test_bar_with_postfix_on_a_terminal():
    out = FakeTerminal()
    p = make_progress(4, file=out, desc="Classifying")
    assert p.mode == "bar"
    _feed(p)
    text = out.getvalue()
    assert "Classifying" in text and "3/4" in text
    assert "completed=2" in text and "failed=1" in text and "success_rate=66.7%" in text
    assert "Checkpoint saved (3/4 completed)" in text
    assert "Point 23" not in text  # per-point lines only in plain mode


def test_disabled_is_silent_even_on_a_terminal():
    out = FakeTerminal()
    p = make_progress(4, enabled=False, file=out)
    assert p.mode == "off"
    _feed(p)
    assert out.getvalue() == ""
    assert (p.completed, p.failed) == (2, 1)


def test_jupyter_kernel_gets_a_bar(monkeypatch):
    import sys
    import types

    class ZMQInteractiveShell:
        pass

    fake = types.SimpleNamespace(get_ipython=lambda: ZMQInteractiveShell())
    monkeypatch.setitem(sys.modules, "IPython", fake)
    assert make_progress(2, file=io.StringIO()).mode == "bar"


def test_format_point_without_values_and_bad_total():
    assert format_point(7, "FAILED") == "Point 7: FAILED"
    assert format_point(7, "FERROMAGNET", confidence=1.0) == "Point 7: FERROMAGNET (conf=1.00)"
    with pytest.raises(ValueError, match="total must be >= 0; got -1"):
        make_progress(-1)
