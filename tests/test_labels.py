"""Issue 22: an open phase vocabulary, and UNKNOWN that is not a phase."""

from __future__ import annotations

import enum
import importlib.util
import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spinexplore import ActiveLearningExplorer, ParameterSpace, PhaseType, PointRecord, PointStatus, SimulationResult
from spinexplore.errors import InputError
from spinexplore.labels import FIRST_USER_ID, UNKNOWN_ID, Vocabulary
from spinexplore.results import Label, coerce_result, parse_label
from spinexplore.store import ExplorationStore, MemoryStore

ROOT = Path(__file__).resolve().parents[1]
SCHEMA2 = ROOT / "tests" / "store" / "data" / "schema2.h5"


def _example():
    spec = importlib.util.spec_from_file_location("j1j2_square", ROOT / "examples" / "j1j2_square.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


J1J2 = _example()
SQUARE = ParameterSpace({"J1": (-1.0, 1.0), "J2": (-1.0, 1.0)})


# ---------------------------------------------------------------------- labels and the vocabulary
def test_labels_parse_as_before_and_open_up():
    assert parse_label(PhaseType.SKYRMION) is PhaseType.SKYRMION
    assert parse_label("skyrmion") is PhaseType.SKYRMION and parse_label(3) is PhaseType.TRIPLE_Q
    q0 = parse_label("  sqrt3 x sqrt3 ")
    assert isinstance(q0, Label) and q0 == "sqrt3 x sqrt3" and q0.name == "sqrt3 x sqrt3" and q0.is_physical
    assert pickle.loads(pickle.dumps(q0)) == q0 and type(pickle.loads(pickle.dumps(q0))) is Label

    class Kagome(enum.Enum):
        Q0 = "q=0"
        CUBOC = "cuboc"

    assert parse_label(Kagome.CUBOC) == "CUBOC"
    with pytest.raises(ValueError, match="non-empty"):
        parse_label("   ")
    r = SimulationResult(phase="q0", confidence=0.5)
    assert r.label == "q0" and r.ok and r.status is PointStatus.DONE and repr(r).startswith("SimulationResult(phase=q0")
    assert pickle.loads(pickle.dumps(r)).phase == "q0"
    assert SimulationResult(phase=PhaseType.TIMEOUT).status is PointStatus.TIMEOUT


def test_vocabulary_ids_names_and_declarations():
    v = Vocabulary({"q0": r"$q=0$", "sqrt3 x sqrt3": {"display": r"$\sqrt3\times\sqrt3$", "color": "#123456"}})
    assert v.names() == ["q0", "sqrt3 x sqrt3"]
    assert v.id_of("q0") == FIRST_USER_ID and v.id_of("sqrt3 x sqrt3") == FIRST_USER_ID + 1
    assert v.id_of(PhaseType.SKYRMION) == int(PhaseType.SKYRMION)  # built-in ids never move
    assert v.id_of("cuboc") == FIRST_USER_ID + 2  # grown as labels arrive
    assert v.names() == ["q0", "sqrt3 x sqrt3", "SKYRMION", "cuboc"]  # declared first, then by id
    assert v.entry(FIRST_USER_ID + 1).color == "#123456" and v.entry(FIRST_USER_ID).display == "$q=0$"
    assert Vocabulary.from_json(json.loads(json.dumps(v.to_json()))) == v
    codes = Vocabulary({0: "q0", 1: "cuboc"})
    assert codes.resolve(1) == "cuboc" and codes.resolve(np.int64(0)) == "q0"
    assert codes.resolve(4) is PhaseType.SKYRMION  # an undeclared code is a PhaseType value, as before

    class Kagome(enum.IntEnum):
        Q0 = 5
        CUBOC = 6

    ek = Vocabulary(Kagome)
    assert ek.resolve(5) == "Q0" and ek.resolve(Kagome.CUBOC) == "CUBOC"
    with pytest.raises(ValueError, match="outcome"):
        Vocabulary(["q0", "FAILED"])
    with pytest.raises(ValueError, match="outcome"):
        Vocabulary().id_of(PhaseType.TIMEOUT)
    with pytest.raises(ValueError, match="colour"):
        Vocabulary({"q0": {"color": "not a colour!"}})
    with pytest.raises(ValueError, match="unknown keys"):
        Vocabulary({"q0": {"colour": "red"}})
    with pytest.raises(ValueError, match="code 0"):
        Vocabulary({"a": {"code": 0}, "b": {"code": 0}})
    full = Vocabulary([f"p{i}" for i in range(118)])
    with pytest.raises(ValueError, match="at most 118"):
        full.id_of("one more")


def test_coerce_result_reads_strings_enums_and_codes():
    assert coerce_result("q0").phase == "q0"
    assert coerce_result({"phase": "sqrt3 x sqrt3", "confidence": 0.4}).phase == "sqrt3 x sqrt3"
    assert coerce_result(2, vocabulary=Vocabulary({2: "fan"})).phase == "fan"
    assert coerce_result(2).phase is PhaseType.DOUBLE_Q
    with pytest.raises(TypeError):
        coerce_result(True)


# ---------------------------------------------------------------------- round trips of any vocabulary
names = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=1, max_size=12).filter(
    lambda s: s.strip() == s and not isinstance(parse_label(s), PhaseType))
labels = st.one_of(names, st.sampled_from([p for p in PhaseType if p.is_physical]))
colors = st.none() | st.sampled_from(["#4477AA", "tab:red", "C3", "black"])
displays = st.none() | st.text(max_size=20)


@st.composite
def explorations(draw):
    declared = draw(st.lists(names, unique=True, max_size=4))
    phases = {n: {"display": draw(displays), "color": draw(colors)} for n in declared}
    phases = {n: {k: v for k, v in f.items() if v is not None} for n, f in phases.items()}
    results = draw(st.lists(st.one_of(labels, st.sampled_from(declared) if declared else labels,
                                      st.sampled_from([None, "FAILED", "UNKNOWN"])), min_size=1, max_size=12))
    return phases, results


def _tell_all(ex, results):
    for k, value in enumerate(results):
        ex.tell({"J1": (k % 7) / 7 - 0.9, "J2": (k // 7) / 3 - 0.9}, value)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=explorations())
def test_any_vocabulary_round_trips_through_the_store_and_resume(tmp_path_factory, data):
    phases, results = data
    path = tmp_path_factory.mktemp("vocab") / "exploration.h5"
    ex = ActiveLearningExplorer(SQUARE, seed=1, store=path, phases=phases, verbose=False)
    _tell_all(ex, results)
    want = [(r.status, None if r.result is None else r.result.phase) for r in ex.records]
    ids, vocab = ex.phases.copy(), ex.vocabulary.copy()
    ex.close()
    for store in (ExplorationStore.open(path), ):
        with store:
            recs, state = store.read()
            assert [(r.status, None if r.result is None else r.result.phase) for r in recs] == want
            assert store.vocabulary == vocab
            counts = store.counts()["phase"]
            for name, n in counts.items():
                assert n == sum(1 for r in recs if r.result is not None and r.result.ok and r.result.label == name)
    back = ActiveLearningExplorer.load(path)
    try:
        assert back.vocabulary == vocab and back.vocabulary.names() == vocab.names()
        np.testing.assert_array_equal(back.phases, ids)
        assert [(r.status, None if r.result is None else r.result.phase) for r in back.records] == want
        for name, spec in phases.items():  # declared display names and colours survive
            e = back.vocabulary.entry(back.vocabulary.id_of(name))
            assert e.declared and e.display == spec.get("display") and e.color == spec.get("color")
        before = [e.id for e in vocab.entries() if e.id >= FIRST_USER_ID]
        _tell_all(back, ["late label"])  # a class that appears late gets the next id
        if "late label" not in vocab:
            assert back.vocabulary.id_of("late label") == max(before, default=FIRST_USER_ID - 1) + 1
    finally:
        back.close()
    # the memory store encodes the same way
    mem = MemoryStore(SQUARE, {})
    mem.write(recs, {"vocabulary": vocab.to_json()})
    assert [(r.status, None if r.result is None else r.result.phase) for r in mem.read()[0]] == want


def test_labels_written_straight_to_a_store_are_named_by_the_file(tmp_path):
    recs = [PointRecord(index=0, params=[0.1, 0.2], status=PointStatus.DONE, result=SimulationResult(phase="fan")),
            PointRecord(index=1, params=[0.3, 0.2], status=PointStatus.FAILED,
                        result=SimulationResult(phase=PhaseType.FAILED, error="boom"))]
    with ExplorationStore.create(tmp_path / "s.h5", space=SQUARE, config={}) as store:
        store.write(recs, {"iteration": 0})
    import h5py

    with h5py.File(tmp_path / "s.h5", "r") as f:  # plain h5py: the ids are named in the file
        ph = f["points/phase"]
        assert list(ph[()]) == [FIRST_USER_ID, -1]  # FAILED lives in the status column only
        assert dict(zip(ph.attrs["enum_values"].tolist(), ph.attrs["enum_names"]))[FIRST_USER_ID] == "fan"
        assert f.attrs["schema_version"] == 3
    with ExplorationStore.open(tmp_path / "s.h5") as store:
        back, state = store.read()
    assert back[0].result.phase == "fan" and back[1].result.phase is PhaseType.FAILED
    assert back[1].result.error == "boom" and state["vocabulary"][0]["name"] == "fan"


def test_old_store_loads_with_the_builtin_vocabulary(tmp_path):
    path = tmp_path / "exploration.h5"
    shutil.copy(SCHEMA2, path)
    ex = ActiveLearningExplorer.load(path, read_only=True)
    try:
        assert ex.vocabulary.is_builtin
        assert ex.phases.tolist()[0] == int(PhaseType.SKYRMION)
        assert ex.records[1].result.phase is PhaseType.FAILED and ex.records[1].status is PointStatus.FAILED
        assert ex.store.counts()["phase"] == {"SKYRMION": 1}
    finally:
        ex.close()


def test_phasetype_runs_keep_their_ids_and_predict_output():
    ex = ActiveLearningExplorer(SQUARE, seed=0, verbose=False)
    ex.add_initial_samples(16)
    ex.classify_pending_points(lambda p: PhaseType.FERROMAGNET if p["J1"] < 0 else PhaseType.SINGLE_Q,
                               progress=False)
    assert set(ex.phases.tolist()) == {int(PhaseType.FERROMAGNET), int(PhaseType.SINGLE_Q)}
    ids, proba = ex.predict([[-0.8, 0.0], [0.8, 0.0]])
    assert ids.tolist() == [int(PhaseType.FERROMAGNET), int(PhaseType.SINGLE_Q)] and proba.shape == (2, 2)
    names, per_label = ex.predict([[-0.8, 0.0]], names=True)
    assert names.tolist() == ["FERROMAGNET"] and set(per_label) == {"FERROMAGNET", "SINGLE_Q"}
    assert ex.class_names == ["FERROMAGNET", "SINGLE_Q"]


# ---------------------------------------------------------------------- UNKNOWN is not a phase
def _with_unknown(p):
    if abs(p["J1"]) < 0.15:
        return "UNKNOWN"
    return "left" if p["J1"] < 0 else "right"


def _label_pending(ex, sim):
    """Run ``sim`` at every pending point in this process (``tell``: no worker to start)."""
    for i in ex.learner.pending_indices():
        ex.tell(ex.records[i].params, sim(ex.space.to_dicts(ex.records[i].params[None, :])[0]))


def test_unknown_is_not_learned_and_proposals_go_next_to_it():
    ex = ActiveLearningExplorer(SQUARE, seed=3, verbose=False)
    ex.add_points([[-0.8, -0.5], [-0.6, 0.5], [0.7, -0.4], [0.8, 0.6], [0.02, 0.0]])
    _label_pending(ex, _with_unknown)
    assert ex.phase_counts() == {"UNKNOWN": 1, "left": 2, "right": 2}
    assert UNKNOWN_ID not in ex.classes_.tolist() and ex.class_names == ["left", "right"]
    assert ex.learner.unknown_indices() == [4] and ex.learner.n_labeled == 4
    new = ex.propose(8)
    near = np.linalg.norm((new - [0.02, 0.0]) / 2.0, axis=1)  # unit-cube distances
    assert near.min() < 0.3  # a follow-up sits next to the undecided point
    as_class = ActiveLearningExplorer(SQUARE, seed=3, verbose=False, unknown_as_phase=True)
    as_class.add_points([[-0.8, -0.5], [0.7, -0.4], [0.02, 0.0]])
    _label_pending(as_class, _with_unknown)
    assert UNKNOWN_ID in as_class.classes_.tolist() and as_class.learner.unknown_indices() == []
    with pytest.raises(TypeError, match="unknown_as_phase"):
        ActiveLearningExplorer(SQUARE, unknown_as_phase="yes", verbose=False)


def test_unknown_as_phase_is_kept_on_resume(tmp_path):
    ex = ActiveLearningExplorer(SQUARE, seed=0, store=tmp_path / "e.h5", unknown_as_phase=True, verbose=False)
    ex.tell({"J1": 0.0, "J2": 0.0}, "UNKNOWN")
    ex.close()
    back = ActiveLearningExplorer.load(tmp_path / "e.h5")
    try:
        assert back.learner.unknown_as_phase and back.learner.n_labeled == 1
    finally:
        back.close()


def test_figures_mark_unknown_and_rare_phases_as_points():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from spinexplore.plotting import plot_phase_diagram

    def sim(p):
        if abs(p["J1"] - 0.5) < 0.06 and abs(p["J2"]) < 0.06:
            return "stray"  # one stray label
        return _with_unknown(p)

    for declared, has_patch in ((None, False), (["left", "right", "stray"], True)):
        ex = ActiveLearningExplorer(SQUARE, seed=0, verbose=False, phases=declared)
        ex.add_initial_samples(24, method="grid")
        ex.add_points([[0.5, 0.0]])
        _label_pending(ex, sim)
        assert ex.phase_counts()["stray"] == 1 and ex.phase_counts()["UNKNOWN"] > 0
        ax = plot_phase_diagram(ex, resolution=30)
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert "left" in legend and "right" in legend
        assert any(t.startswith("undecided (UNKNOWN) (") for t in legend)
        assert not any(t == "unclassified" for t in legend)  # no UNKNOWN region
        # a phase entry only when declared: its region, or (issue 23: a phase with no grid cell is
        # drawn, not only listed) its one point hatched
        assert any(t == "stray" or t.startswith(("stray:", "stray, thin")) for t in legend) is has_patch
        assert any(t == "stray (1)" for t in legend) is not has_patch  # otherwise a point entry
        matplotlib.pyplot.close("all")


# ---------------------------------------------------------------------- the example, end to end
def test_user_function_with_string_labels_maps_the_j1j2_diagram(tmp_path):
    ex = ActiveLearningExplorer(SQUARE, seed=0, phases=J1J2.PHASES, store=tmp_path / "e.h5", verbose=False)
    from spinexplore.execution import SequentialExecutor

    with SequentialExecutor(isolate=False) as executor:  # in this process: no worker to start
        ex.run(n_iterations=3, n_per_iteration=10, simulation=J1J2.j1j2_square, n_initial=20, progress=False,
               executor=executor)
    assert set(ex.phase_counts()) <= {"FM", "Neel", "stripe", "UNKNOWN"}
    assert ex.class_names == ["FM", "Neel", "stripe"]
    # against the exact classical phase diagram, away from the boundaries
    P = np.random.default_rng(1).uniform(-1, 1, (400, 2))
    far = (np.abs(P[:, 1] - np.abs(P[:, 0]) / 2) > 0.15) & ((P[:, 1] > np.abs(P[:, 0]) / 2) | (np.abs(P[:, 0]) > 0.15))
    names, proba = ex.predict(P[far], names=True)
    exact = np.array([J1J2.exact_phase(*p) for p in P[far]])
    assert np.mean(names == exact) > 0.95 and set(proba) == {"FM", "Neel", "stripe"}
    assert {b.label for b in ex.boundaries(resolution=40)} <= {"FM|Neel", "FM|stripe", "Neel|stripe"}
    assert "phases: FM=" in ex.summary()
    assert set(ex.to_dataframe()["phase"].dropna()) <= {"FM", "Neel", "stripe", "UNKNOWN"}
    ex.close()
    with ExplorationStore.open(tmp_path / "e.h5") as store:
        assert set(store.counts()["phase"]) <= {"FM", "Neel", "stripe", "UNKNOWN"} and "Neel" in store.summary()


def _cli_config(tmp_path, n_initial, n_iterations, n_per_iteration):
    out = tmp_path / "out"
    cfg = tmp_path / "j1j2.toml"
    cfg.write_text(
        f'solver = ["python", "{ROOT / "examples" / "j1j2_square.py"}", "{{params_file}}"]\n'
        f"n_initial = {n_initial}\nn_iterations = {n_iterations}\nn_per_iteration = {n_per_iteration}\n"
        f'output_dir = "{out}"\n'
        '[axes]\nJ1 = "-1:1"\nJ2 = "-1:1"\n'
        '[phases]\nFM = "ferro"\nNeel = { display = "Néel", color = "#EE6677" }\nstripe = {}\n',
        encoding="utf-8")
    return cfg, out


def test_the_cli_runs_an_external_solver_with_its_own_phases(tmp_path, capsys):
    from spinexplore.cli import main

    cfg, out = _cli_config(tmp_path, 4, 0, 1)
    assert main(["run", "--config", str(cfg), "--no-progress"]) == 0
    assert "with the command" in capsys.readouterr().out
    with ExplorationStore.open(out / "exploration.h5") as store:
        assert store.vocabulary.names()[:3] == ["FM", "Neel", "stripe"]
        assert set(store.counts()["phase"]) <= {"FM", "Neel", "stripe", "UNKNOWN"}
        assert store.read_state()["settings"]["phases"]["Neel"] == {"display": "Néel", "color": "#EE6677"}


@pytest.mark.slow
def test_the_cli_maps_an_external_solver_with_its_own_phases(tmp_path, capsys):
    from spinexplore.cli import main

    cfg, out = _cli_config(tmp_path, 10, 1, 4)
    assert main(["run", "--config", str(cfg), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "with the command" in text and "phases: " in text and "Neel=" in text
    assert main(["status", str(out)]) == 0
    status = capsys.readouterr().out
    assert "by phase:" in status and "stripe=" in status and "solver=" in status and "model=" not in status
    assert (out / "phase_diagram.png").is_file()
    ex = ActiveLearningExplorer.load(out, read_only=True)
    try:
        assert ex.vocabulary.entry(ex.vocabulary.id_of("Neel")).display == "Néel"
        assert ex.vocabulary.names()[:3] == ["FM", "Neel", "stripe"]
    finally:
        ex.close()
    assert main(["resume", str(out), "--override", "n_iterations=2", "--no-progress"]) == 0
    assert "the command" in capsys.readouterr().out
    with ExplorationStore.open(out / "exploration.h5") as store:
        assert store.n_points == 18


@pytest.mark.parametrize("table, message", [
    ('[phases]\nq0 = 3\n', "display name"),
    ('[phases]\nq0 = { colour = "red" }\n', "unknown keys"),
    ('phases = "q0"\n', "phases must be a table"),
    ('solver = 3\n', "solver must be a command line"),
    ('unknown_as_phase = "yes"\n', "unknown_as_phase must be true or false"),
])
def test_bad_phase_settings_are_refused_before_any_work(tmp_path, capsys, table, message):
    from spinexplore.cli import main

    cfg = tmp_path / "c.toml"
    cfg.write_text(table, encoding="utf-8")
    assert main(["run", "--config", str(cfg), "--output-dir", str(tmp_path / "o")]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_an_external_solver_needs_axes(tmp_path, capsys):
    from spinexplore.cli import main

    cfg = tmp_path / "c.toml"
    cfg.write_text('solver = "python solver.py"\n', encoding="utf-8")
    assert main(["run", "--config", str(cfg), "--output-dir", str(tmp_path / "o")]) == 2
    assert "needs its axes" in capsys.readouterr().err


def test_errors_name_the_phases_parameter():
    with pytest.raises((ValueError, InputError), match="phases"):
        ActiveLearningExplorer(SQUARE, phases=[""], verbose=False)
