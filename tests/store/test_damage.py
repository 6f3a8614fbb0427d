"""Damaged stores (hypothesis): flipped, overwritten or truncated bytes in the main file or the journal.

Whatever the damage, opening gives either a one-line ``StoreError`` naming the file, or a
correct read of a checkpoint the writer completed: the last one, or (when the damage sits
in the journal's last frame, like a torn append) the one before, or (truncated journal) the
last one whose frame is whole. No other exception escapes, and a failed open changes no byte.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spinexplore import ParameterSpace, PhaseType, PointRecord, PointStatus, SimulationResult
from spinexplore.store import ExplorationStore, StoreError

SPACE = ParameterSpace({"h": (0.0, 1.0), "K": (-1.0, 1.0)})
N_MAIN, N_JOURNAL = 3, 3  # checkpoints folded into the main file, then left in the journal


def _record(i: int, done: bool) -> PointRecord:
    if not done:
        return PointRecord(index=i, params=[i / 20, -i / 20], status=PointStatus.PENDING, iteration=i // 4)
    return PointRecord(index=i, params=[i / 20, -i / 20], status=PointStatus.DONE, iteration=i // 4,
                       worker=f"w{i % 2}", result=SimulationResult(
                           phase=PhaseType(i % 5), confidence=0.25, energy=-i / 3, duration=0.5,
                           observables={"m": i / 9}, error="late" if i % 3 == 0 else None))


def _key(read) -> tuple:
    records, state = read
    return tuple((r.index, r.status, r.worker, tuple(r.params), r.result and (
        r.result.phase, r.result.energy, r.result.error, tuple(sorted(r.result.observables.items())))) for r in records
    ), repr(state)


@pytest.fixture(scope="module")
def pristine():
    """A store killed after N_MAIN + N_JOURNAL checkpoints: main file, journal, expected reads."""
    root = Path(tempfile.mkdtemp(prefix="damage-"))
    path = root / "exploration.h5"
    store = ExplorationStore.create(path, space=SPACE, config={"seed": 9})
    store.compact_frames = N_MAIN
    reads, ends = [_key(store.read())], []
    for c in range(N_MAIN + N_JOURNAL):
        store.write([_record(i, True) for i in range(4 * c - 4, 4 * c) if i >= 0]
                    + [_record(i, False) for i in range(4 * c, 4 * c + 4)], {"c": c + 1, "rng": [2**100 + c]})
        reads.append(_key(store.read()))
        if c == N_MAIN - 1:  # folded into the main file now; the rest stays in the journal
            store.compact_frames = 10**6
        journal = path.with_name("exploration.h5.journal")
        ends.append(journal.stat().st_size if journal.exists() else 0)
    store._journal.close()  # dies here: no fold on close
    store._lock.release()
    files = {"main": path.read_bytes(), "journal": journal.read_bytes()}
    yield files, reads, ends[N_MAIN:]
    shutil.rmtree(root, ignore_errors=True)


damage = st.fixed_dictionaries({
    "target": st.sampled_from(["main", "journal"]),
    "kind": st.sampled_from(["flip", "overwrite", "truncate"]),
    "where": st.floats(0.0, 1.0, exclude_max=True),
    "xor": st.integers(1, 255),
    "length": st.integers(1, 64),
})


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(d=damage)
def test_damaged_store_gives_a_clear_error_or_a_completed_checkpoint(pristine, d):
    files, reads, ends = pristine
    data = bytearray(files[d["target"]])
    at = int(d["where"] * len(data))
    if d["kind"] == "flip":
        data[at] ^= d["xor"]
    elif d["kind"] == "overwrite":
        data[at:at + d["length"]] = bytes((b ^ d["xor"]) for b in data[at:at + d["length"]])
    else:
        del data[at:]
    last = N_MAIN + N_JOURNAL
    if d["target"] == "main":
        allowed = {last}
    elif d["kind"] == "truncate":
        allowed = {N_MAIN + sum(end <= at for end in ends)}
    else:  # damage inside the last frame reads like a torn append
        allowed = {last, last - 1} if at + d["length"] > ends[-2] else {last}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "exploration.h5"
        path.write_bytes(files["main"] if d["target"] == "journal" else bytes(data))
        path.with_name("exploration.h5.journal").write_bytes(files["journal"] if d["target"] == "main" else bytes(data))
        before = {p.name: p.read_bytes() for p in Path(tmp).iterdir()}
        for mode in ("r", "a"):
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    with ExplorationStore.open(path, mode) as store:
                        got = _key(store.read())
                        assert store.counts()["n_points"] == len(got[0])
                if any("kept aside" in str(w.message) for w in caught):  # reported, file kept: any intact one
                    allowed = set(range(N_MAIN, last + 1))
            except StoreError as exc:
                text = str(exc)
                assert "\n" not in text and "exploration.h5" in text, text
                assert {p.name: p.read_bytes() for p in Path(tmp).iterdir()} == before
                continue
            matches = [k for k in allowed if reads[k] == got]
            assert matches, f"read a state that is not checkpoint {sorted(allowed)}"
            if mode == "a":  # the writer folded what it read into a sound main file
                with ExplorationStore.open(path) as again:
                    assert _key(again.read()) == got


@pytest.mark.parametrize("stride", [pytest.param(1, marks=pytest.mark.slow), 29])
def test_every_byte_of_the_journal_is_covered(pristine, stride):
    """Exhaustive over the journal (every byte in the slow selection, every 29th, spread
    over every frame, in the fast one): each flipped byte is refused by a reader; in the
    last frame a writer keeps the journal aside, says so, and continues from the checkpoint
    before (issue 24)."""
    files, reads, ends = pristine
    journal = files["journal"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "exploration.h5"
        kept = 0
        for at in range(0, len(journal), stride):
            for p in Path(tmp).iterdir():
                p.unlink()
            path.write_bytes(files["main"])
            data = bytearray(journal)
            data[at] ^= 0x40
            path.with_name("exploration.h5.journal").write_bytes(bytes(data))
            with pytest.raises(StoreError, match="is damaged"):
                ExplorationStore.open(path)
            if at < ends[-2]:  # checkpoints after the damage would be lost: the writer refuses too
                with pytest.raises(StoreError, match="is damaged"):
                    ExplorationStore.open(path, "a")
                continue
            with pytest.warns(RuntimeWarning, match=r"is damaged .*kept aside as .*exploration.h5.journal.damaged-"):
                with ExplorationStore.open(path, "a") as store:
                    assert _key(store.read()) == reads[-2]
            aside = [p for p in Path(tmp).iterdir() if p.name.startswith("exploration.h5.journal.damaged-")]
            assert [p.read_bytes() for p in aside] == [bytes(data)]  # kept byte for byte
            kept += 1
    assert kept
    np.testing.assert_equal(len(reads), N_MAIN + N_JOURNAL + 1)
