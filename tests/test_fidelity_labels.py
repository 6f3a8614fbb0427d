"""Fidelity ladders with the open vocabulary (issues 21 + 22): UNKNOWN does not overrule a
decided label, a failed promotion is counted and logged, a Ladder's external rungs read the
declared codes, and the run ends with a surrogate that saw every promoted label."""

from __future__ import annotations

import sys

import pytest

from spinexplore import ActiveLearningExplorer, ParameterSpace, PhaseType, SimulationResult
from spinexplore.execution import SequentialExecutor
from spinexplore.fidelity import Ladder, merge_result, rung_results

SPACE = ParameterSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)})


def _label(p) -> str:
    return "q0" if p["x"] > 0.5 else "cuboc"


def cheap(p):
    wrong = abs(p["x"] - 0.5) < 0.15
    label = _label(p) if not wrong else ("cuboc" if _label(p) == "q0" else "q0")
    return SimulationResult(phase=label, confidence=0.7, energy=-1.0, duration=0.01)


def costly_undecided(p):
    return SimulationResult(phase="UNKNOWN", confidence=0.0, energy=-1.0, duration=0.3)


def costly_failing(p):
    raise RuntimeError("the costly solver crashed")


def _inline() -> dict:
    return {"executor": SequentialExecutor(isolate=False), "progress": False}


def test_a_rung_that_could_not_decide_does_not_overrule_a_decided_label():
    from spinexplore.labels import Vocabulary

    vocab = Vocabulary(["q0"])
    first = merge_result(None, 0, SimulationResult(phase="q0", confidence=0.7, duration=0.01), vocab)
    both = merge_result(first, 1, SimulationResult(phase="UNKNOWN", confidence=0.0, duration=0.3), vocab)
    assert both.phase == "q0"  # the cheap label stays; UNKNOWN is recorded at rung 1
    assert rung_results(both, vocab)[1].phase is PhaseType.UNKNOWN and rung_results(both, vocab)[0].phase == "q0"
    learned = merge_result(first, 1, SimulationResult(phase="UNKNOWN", duration=0.3), vocab, unknown_as_phase=True)
    assert learned.phase is PhaseType.UNKNOWN  # where UNKNOWN is a phase, the costly rung says it
    only = merge_result(merge_result(None, 0, SimulationResult(phase="UNKNOWN", duration=0.01)), 1,
                        SimulationResult(phase="UNKNOWN", duration=0.3))
    assert only.phase is PhaseType.UNKNOWN and rung_results(only)[1].phase is PhaseType.UNKNOWN


def test_promotions_to_an_undecided_rung_keep_every_point_learned():
    ex = ActiveLearningExplorer(SPACE, seed=1, verbose=False)
    ex.run(6, 10, simulation=Ladder([cheap, costly_undecided]),
           n_initial=20, **_inline())
    promoted = [r for r in ex.records if len(rung_results(r.result, ex.vocabulary)) > 1]
    assert promoted
    assert all(r.result.phase in ("q0", "cuboc") for r in ex.records)
    assert ex._learner.n_labeled == ex.n_points  # no point left the training set


def test_a_failed_promotion_is_counted_and_logged_and_keeps_its_cheap_label(caplog):
    ex = ActiveLearningExplorer(SPACE, seed=1, verbose=False)
    with caplog.at_level("WARNING", logger="spinexplore"):
        ex.run(6, 10, simulation=Ladder([cheap, costly_failing]),
               n_initial=20, **_inline())
    stats = ex.run_stats
    tried = [r for r in ex.records if len(rung_results(r.result, ex.vocabulary)) > 1]
    assert tried and all(r.result.phase in ("q0", "cuboc") for r in tried)  # nothing lost
    assert stats["n_failed"] == len(tried) and stats["n_ok"] == ex.n_points
    assert "the costly solver crashed" in caplog.text


def test_the_external_rungs_of_a_ladder_object_read_the_declared_codes(tmp_path):
    from spinexplore import ExternalSimulation

    script = tmp_path / "codes.py"
    script.write_text("import json, sys\np = json.load(open(sys.argv[1]))\n"
                      "print(json.dumps({'phase': 0 if p['x'] < 0.5 else 1}))\n")
    ext = ExternalSimulation([sys.executable, str(script), "{params_file}"], result_file=None)
    ex = ActiveLearningExplorer(SPACE, seed=0, verbose=False, phases={0: "FM", 1: "Neel"})
    ex.add_points([[0.2, 0.5], [0.8, 0.5]])
    ex.classify_pending_points(Ladder([ext, ext], names=["short", "long"]), n_jobs=2, progress=False)
    assert [r.result.phase.name for r in ex.records] == ["FM", "Neel"]


def test_an_async_ladder_run_ends_with_a_fit_that_saw_every_promoted_label():
    ex = ActiveLearningExplorer(SPACE, seed=3, verbose=False)
    ex.run(6, 10, simulation=Ladder([cheap, lambda p: SimulationResult(phase=_label(p), duration=0.3)]),
           n_initial=20, schedule="async", **_inline())
    assert not ex._learner.stale
