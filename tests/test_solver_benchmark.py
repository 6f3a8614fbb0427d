"""benchmarks/solver.py: its persistent per-revision workers, their protocol and clean-up, and the
interleaved schedule's figures. The workers run a small stand-in ``spinexplore`` tree."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))
import _solver_worker as sw  # noqa: E402
import solver  # noqa: E402

CONFIG = {"presets": ["p"], "modes": ["fast"], "L": 24}
SOLVER = """
import os, time
from types import SimpleNamespace

def simulate(model, L, mode, seed=0):
    print("a stray print")
    os.write(1, b"a stray write to file descriptor 1\\n")
    if model.h > 5.0:
        time.sleep(600)  # stands for a long simulation, interrupted by the test
    if model.h > 1.0:
        raise ValueError(f"no ground state at h = {model.h}")
    return SimpleNamespace(energy=-model.h - L, label=mode + "-label", best="fm", gap=0.5,
                           stats=None)
"""
MODEL = """
class SpinModel:
    natural_unit = 2.0

    def __init__(self, name, h=0.0, K=0.0):
        self.name, self.h, self.K = name, h, K

    @classmethod
    def preset(cls, name, h=0.0):
        return cls(name, h)

    def with_params(self, p):
        return SpinModel(self.name, p["h"], p["K"])
"""


def _tree(root: Path, model: str = MODEL) -> Path:
    pkg = root / "spinexplore" / "physics"
    pkg.mkdir(parents=True)
    (root / "spinexplore" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "model.py").write_text(model)
    (pkg / "solver.py").write_text(SOLVER)
    return root


def test_workers_answer_each_call_despite_stray_output(tmp_path):
    trees = {"a": _tree(tmp_path / "a"), "b": _tree(tmp_path / "b")}
    with sw.pool(trees, CONFIG) as workers:
        for name in ("b", "a", "b"):
            reply = workers[name].call(preset="p", h_over_u=0.25, K_over_u=0.0, mode="fast")
            assert reply["energy"] == -0.5 - 24 and reply["label"] == "fast-label"
            assert reply["cpu_s"] >= 0.0 and reply["label_gap"] is None
        assert workers["a"].spinexplore.startswith(str(trees["a"].resolve()))
    assert all(w.proc.returncode == 0 for w in workers.values())


def test_an_exception_in_a_worker_names_the_revision_and_ends_every_worker(tmp_path):
    trees = {"a": _tree(tmp_path / "a"), "b": _tree(tmp_path / "b")}
    with pytest.raises(sw.WorkerError, match=r"revision 'b' .* failed on (.|\n)*"
                                             r"ValueError: no ground state at h = 4.0"):
        with sw.pool(trees, CONFIG) as workers:
            workers["a"].call(preset="p", h_over_u=0.1, K_over_u=0.0, mode="fast")
            workers["b"].call(preset="p", h_over_u=2.0, K_over_u=0.0, mode="fast")
    assert all(w.proc.returncode is not None for w in workers.values())


def test_a_worker_that_cannot_start_is_reported_and_the_others_end(tmp_path):
    started = []
    real = sw.Worker.__init__

    def spy(self, *args):
        real(self, *args)
        started.append(self)

    trees = {"good": _tree(tmp_path / "good"),
             "broken": _tree(tmp_path / "broken", model="raise ImportError('half a checkout')")}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sw.Worker, "__init__", spy)
        with pytest.raises(sw.WorkerError, match="'broken' .* failed while importing spinexplore"
                                                 "(.|\n)*ImportError: half a checkout"):
            with sw.pool(trees, CONFIG):
                pass
    assert len(started) == 2 and all(w.proc.returncode is not None for w in started)


def test_a_tree_without_spinexplore_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    # either an installed spinexplore shadows the empty tree, or none is found: both refused
    with pytest.raises(sw.WorkerError, match="imported spinexplore from|No module named 'spinexplore'"):
        with sw.pool({"empty": tmp_path / "empty"}, {"presets": [], "modes": [], "L": 24}):
            pass


def test_sigint_to_the_parent_leaves_no_worker_behind(tmp_path):
    tree = _tree(tmp_path / "a")
    script = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(BENCH)!r})
        import _solver_worker as sw
        with sw.pool({{"a": {str(tree)!r}, "b": {str(tree)!r}}}, {CONFIG!r}) as ws:
            print(json.dumps([w.proc.pid for w in ws.values()]), flush=True)
            ws["a"].call(preset="p", h_over_u=3.0, K_over_u=0.0, mode="fast")
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              stderr=subprocess.PIPE)
    pids = json.loads(parent.stdout.readline())
    parent.send_signal(signal.SIGINT)
    _, err = parent.communicate(timeout=30)
    assert parent.returncode != 0 and "KeyboardInterrupt" in err
    for pid in pids:  # the parent ended and reaped its workers before it exited
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_rounds_rotate_the_revisions_and_each_round_gives_a_ratio():
    assert [solver.rotation(["now", "x", "y"], r)[0] for r in range(4)] == ["now", "x", "y", "now"]

    def rows(times):
        return [{"preset": p, "mode": m, "h_over_u": h, "K_over_u": 0.0, "cpu_s": min(t),
                 "cpu_all_s": t, "label": "FM", "energy": -1.0, "stats": None}
                for p in solver.PRESETS for m in solver.MODES for h, t in zip((0.1, 0.2), times)]

    new, old = rows([[1.0, 3.0], [1.0, 3.0]]), rows([[2.0, 4.0], [2.0, 4.0]])
    by_round = solver.round_ratios(new, old)
    assert by_round["square-chiral|fast"] == [0.5, 0.75]
    rev = {"commit": "abcdef1234", "dirty": False, "rows": old, "summary": solver.summarize(old),
           "agreement_with_accurate": solver.agreement(old), "repeatable": True}
    now = {**rev, "rows": new, "summary": solver.summarize(new),
           "agreement_with_accurate": solver.agreement(new)}
    data = {"conditions": {"quick": True, "repeats": 2, "cpus": 2, "load_avg_before": [1.0],
                           "load_avg_after": [1.0], "interleaved": True},
            "commit": "1234567", "dirty": False, "points": [("p", 0.1, 0.0)] * 4,
            "revisions": {"this tree": now, "old": rev},
            "ratio_to": {"old": {k: 0.5 for k in by_round}}, "ratio_by_round": {"old": by_round},
            "nothing_lost": {"old": solver.lost(new, old)},
            "metropolis_updates_per_s": {"cpu_median": 1e7}}
    text = solver.render_readme(data)
    assert "| 0.50x (0.50-0.75) |" in text and "ratio range over rounds" in text
    assert "revisions take turns call by call" in text and "changed from round to round" not in text
    del data["ratio_by_round"], data["conditions"]["interleaved"]  # a JSON from before
    assert "0.50x |" in solver.render_readme(data) and "range" not in solver.render_readme(data)


def test_a_row_keeps_the_best_round_and_flags_results_that_change_between_rounds():
    call = {"label": "FM", "family": "fm", "gap": 0.1, "label_gap": None}
    same = [{**call, "cpu_s": t, "energy": -1.0, "stats": {"t": t}} for t in (0.3, 0.1, 0.2)]
    row = solver._row(("square-chiral", 0.2, 0.6), "fast", same)
    assert row["cpu_s"] == 0.1 and row["cpu_all_s"] == [0.3, 0.1, 0.2] and row["stats"] == {"t": 0.1}
    assert row["repeatable"] and "energy_all" not in row
    drift = same[:2] + [{**same[2], "energy": -1.0 + 1e-12}]
    row = solver._row(("square-chiral", 0.2, 0.6), "fast", drift)
    assert not row["repeatable"] and row["energy_all"] == [-1.0, -1.0, -1.0 + 1e-12]
