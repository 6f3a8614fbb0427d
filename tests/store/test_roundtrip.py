"""Exact round trips through both stores (hypothesis): records, upserts, state with big ints."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spinexplore import ParameterSpace, PhaseType, PointRecord, PointStatus, SimulationResult
from spinexplore.store import CheckpointStore, ExplorationStore, MemoryStore

SPACE = ParameterSpace({"h": (0.0, 1.0), "K": (-1.0, 1.0), "T": (0.01, 10.0, "log")})
CONFIG = {"model": {"J1": 1.0, "D": 0.5625}, "solver": "screening", "seed": 2**70 + 3}
SETTINGS = settings(max_examples=20, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

finite = st.floats(allow_nan=False, allow_infinity=False)
json_leaf = (st.none() | st.booleans() | st.integers(-(2**130), 2**130)
             | st.floats(allow_nan=False) | st.text(max_size=12))
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
# "vocabulary" is the one key of the state the store reads (schema 3: the phase labels)
states = st.dictionaries(st.text(max_size=10).filter(lambda k: k != "vocabulary"), json_value, max_size=5)
obs_names = st.sampled_from(["m_z", "Q_total", "chi", "a/b c", "ü", "late"])


@st.composite
def results(draw, with_spins: bool):
    obs = draw(st.dictionaries(obs_names, finite | st.integers(-5, 5) | st.booleans(), max_size=4))
    if draw(st.booleans()):
        obs["profile"] = np.arange(3.0)  # not a scalar: never stored
    spins = None
    if with_spins and draw(st.booleans()):
        spins = np.asarray(draw(st.lists(st.tuples(finite, finite, finite), min_size=1, max_size=5)))
        spins = np.clip(spins, -1e30, 1e30)  # float32 range
    return SimulationResult(
        phase=draw(st.sampled_from(list(PhaseType))),
        confidence=draw(st.floats(0.0, 1.0)),
        energy=draw(st.floats(allow_infinity=False)),  # NaN allowed: "unknown"
        observables=obs,
        duration=draw(st.floats(0.0, 1e6)),
        error=draw(st.none() | st.text(min_size=1, max_size=40)),
        spins=spins,
    )


@st.composite
def records(draw, index: int, with_spins: bool):
    return PointRecord(
        index=index,
        params=[draw(st.floats(0, 1)), draw(st.floats(-1, 1)), draw(st.floats(0.01, 10.0))],
        status=draw(st.sampled_from(list(PointStatus))),
        iteration=draw(st.integers(0, 2**40)),
        result=draw(st.none() | results(with_spins)),
        worker=draw(st.sampled_from(["", "pid:12", "tcp://10.0.0.1:8786", "wörker"])),
    )


def _same_float(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def _check(got: list[PointRecord], model: dict[int, PointRecord], with_spins: bool) -> None:
    """``got`` equals the last record written per index, under the documented rules."""
    assert [r.index for r in got] == list(range(len(model)))
    for r in got:
        want = model[r.index]
        np.testing.assert_array_equal(r.params, want.params)
        assert (r.status, r.iteration, r.worker) == (want.status, want.iteration, want.worker)
        assert type(r.status) is PointStatus
        if want.result is None:
            assert r.result is None
            continue
        a, b = r.result, want.result
        assert a.phase is b.phase
        assert a.confidence == b.confidence and a.duration == b.duration
        assert _same_float(a.energy, b.energy)
        assert a.error == (None if b.error is None else b.error.replace("\x00", "\ufffd"))  # HDF5: no NUL
        # scalar observables only, as floats; arrays are dropped
        expected = {k: float(v) for k, v in b.observables.items() if not isinstance(v, np.ndarray)}
        assert dict(a.observables) == expected
        if with_spins and b.spins is not None:
            np.testing.assert_array_equal(a.spins, b.spins.astype(np.float32).astype(float))
        else:
            assert a.spins is None


def _run(store, data, with_spins: bool):
    model: dict[int, PointRecord] = {}
    state: dict = {}
    for _ in range(data.draw(st.integers(1, 4), label="n_writes")):
        n = len(model)
        new = list(range(n, n + data.draw(st.integers(0, 4), label="n_new")))
        upd = data.draw(st.lists(st.integers(0, n - 1), unique=True, max_size=3), label="updates") if n else []
        batch = [data.draw(records(i, with_spins)) for i in new + upd]
        batch = data.draw(st.permutations(batch), label="order")
        state = data.draw(states, label="state")
        store.write(batch, state)
        model.update({r.index: r for r in batch})
        got, got_state = store.read()
        _check(got, model, with_spins)
        assert got_state == state
        assert store.n_points == len(model)
    return model, state


@SETTINGS
@given(data=st.data())
def test_hdf5_round_trip_and_reopen(tmp_path_factory, data):
    with_spins = data.draw(st.booleans(), label="save_spins")
    path = tmp_path_factory.mktemp("rt") / "exploration.h5"
    with ExplorationStore.create(path, space=SPACE, config=CONFIG, save_spins=with_spins) as store:
        model, state = _run(store, data, with_spins)
    with ExplorationStore.open(path) as store:
        got, got_state = store.read()
        assert store.space == SPACE and store.config == CONFIG and store.save_spins == with_spins
    _check(got, model, with_spins)
    assert got_state == state


@SETTINGS
@given(data=st.data())
def test_memory_store_round_trip(data):
    with_spins = data.draw(st.booleans(), label="save_spins")
    store = MemoryStore(SPACE, CONFIG, save_spins=with_spins)
    _run(store, data, with_spins)
    assert store.config == CONFIG


def test_rng_state_round_trip_continues_the_stream(tmp_path):
    rng = np.random.Generator(np.random.PCG64(2**100 + 7))
    rng.random(1001)
    state = {"rng": rng.bit_generator.state, "history": [{"n": np.int64(3), "acc": np.float64(0.5)}]}
    assert state["rng"]["state"]["state"] > 2**64  # really a 128-bit integer
    for store in (MemoryStore(SPACE, CONFIG), ExplorationStore.create(tmp_path / "e.h5", space=SPACE, config=CONFIG)):
        store.write([], state)
        store.close()
    _, back = ExplorationStore.open(tmp_path / "e.h5").read()
    assert back["rng"] == rng.bit_generator.state
    assert back["history"] == [{"n": 3, "acc": 0.5}]
    resumed = np.random.Generator(np.random.PCG64())
    resumed.bit_generator.state = back["rng"]
    np.testing.assert_array_equal(resumed.random(50), rng.random(50))


def test_state_special_values(tmp_path):
    state = {"nan": float("nan"), "inf": float("-inf"), "tuple": (1, 2), "zero": -0.0}
    with ExplorationStore.create(tmp_path / "e.h5", space=SPACE, config={}) as store:
        store.write([], state)
        _, back = store.read()
    assert math.isnan(back["nan"]) and back["inf"] == float("-inf")
    assert back["tuple"] == [1, 2]  # JSON has no tuples (documented)
    assert math.copysign(1.0, back["zero"]) == -1.0


def test_new_observable_names_later(tmp_path):
    def rec(i, obs):
        return PointRecord(index=i, params=[0.5, 0.0, 1.0], status=PointStatus.DONE,
                           result=SimulationResult(phase=PhaseType.SKYRMION, observables=obs))

    with ExplorationStore.create(tmp_path / "e.h5", space=SPACE, config={}) as store:
        store.write([rec(0, {"a": 1.0})], {})
        store.write([rec(1, {"b": 2.0})], {})
        got, _ = store.read()
    assert dict(got[0].result.observables) == {"a": 1.0}
    assert dict(got[1].result.observables) == {"b": 2.0}


@pytest.mark.parametrize("make", ["memory", "hdf5"])
def test_stores_satisfy_the_protocol(tmp_path, make):
    store = MemoryStore(SPACE, {}) if make == "memory" else ExplorationStore.create(
        tmp_path / "e.h5", space=SPACE, config={})
    assert isinstance(store, CheckpointStore)
    store.close()
    store.close()  # twice is harmless


@pytest.mark.parametrize("make", ["memory", "hdf5"])
def test_text_hdf5_cannot_hold_is_replaced_the_same_way(tmp_path, make):
    """HDF5 strings cannot contain NUL or lone surrogates (e.g. a solver's raw stderr)."""
    store = MemoryStore(SPACE, {}) if make == "memory" else ExplorationStore.create(
        tmp_path / "e.h5", space=SPACE, config={})
    result = SimulationResult(phase=PhaseType.FAILED, error="core\x00dump \udcff", observables={"a\x00": 1.0})
    store.write([PointRecord(index=0, params=[0.5, 0.0, 1.0], status=PointStatus.FAILED, result=result,
                             worker="w\x00")], {"raw": "\x00\udcff"})
    records, state = store.read()
    assert records[0].result.error == "core\ufffddump ?" and records[0].worker == "w\ufffd"
    assert dict(records[0].result.observables) == {"a\ufffd": 1.0}
    assert state == {"raw": "\x00\udcff"}  # JSON escapes both: the state stays exact
    store.close()
