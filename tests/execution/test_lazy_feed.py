"""Lazy item feeds: a generator is pulled only when a worker is free (what the async runner needs)."""

from __future__ import annotations

import concurrent.futures as cf
import time

import pytest

from spinexplore.execution import get_executor
from spinexplore.execution.base import ItemFeed


def _slow_square(x):
    time.sleep(0.05)
    return x * x


def _make(kind):
    if kind == "in-process":
        return get_executor(1, "sequential", isolate=False)
    if kind == "sequential":
        return get_executor(1, "sequential")
    if kind == "threads":
        return get_executor(2, cf.ThreadPoolExecutor(2))
    return get_executor(2, kind)


@pytest.mark.parametrize("kind", ["in-process", "sequential", "process", "loky", "threads"])
def test_generator_is_pulled_only_as_workers_free_up(kind):
    seen: list[int] = []
    pulled_with_seen: list[int] = []

    def items():
        for i in range(12):
            pulled_with_seen.append(len(seen))
            yield i

    ex = _make(kind)
    try:
        for outcome in ex.map_unordered(_slow_square, items()):
            assert outcome.ok, outcome.error
            assert outcome.value == outcome.index ** 2  # index = order in which the item was produced
            seen.append(outcome.index)
    finally:
        ex.shutdown()
    assert sorted(seen) == list(range(12))
    # item i is produced only when at most n_workers items are in flight (+1 of prefetch)
    for i, n_seen in enumerate(pulled_with_seen):
        assert i - n_seen <= ex.n_workers + 1, (i, n_seen, pulled_with_seen)


def test_generator_sees_results_before_choosing_the_next_item():
    """The next item can depend on the results so far: the point of an asynchronous schedule."""
    ex = get_executor(1, "sequential")
    results: list[int] = []

    def items():
        x = 1
        for _ in range(5):
            yield x
            x = results[-1] + 1  # needs the previous result

    try:
        for outcome in ex.map_unordered(_slow_square, items()):
            results.append(outcome.value)
    finally:
        ex.shutdown()
    assert results == [1, 4, 25, 676, 458329]


def test_a_lazy_map_survives_a_crashing_item():
    def crash(x):
        if x == 2:
            import os

            os._exit(3)
        return x

    ex = get_executor(2, "process")
    try:
        outcomes = {o.index: o for o in ex.map_unordered(crash, (i for i in range(6)))}
    finally:
        ex.shutdown()
    assert sorted(outcomes) == list(range(6))
    assert not outcomes[2].ok and "worker died" in outcomes[2].error
    assert all(outcomes[i].ok for i in (0, 1, 3, 4, 5))


def test_item_feed_requeue_and_exhaustion():
    feed = ItemFeed(iter("abc"))
    assert feed.lazy and not feed.exhausted
    assert feed.take(2) == [0, 1]
    feed.requeue([1])
    assert feed.take(5) == [1, 2]
    assert feed.exhausted and [feed[i] for i in range(3)] == ["a", "b", "c"]
    known = ItemFeed([10, 20])
    assert not known.lazy and known.n_queued == 2 and known.take(3) == [0, 1] and known.exhausted
