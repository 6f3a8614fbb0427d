"""Imports only point down: the package's import graph (module- and function-level imports,
read with ast) has no cycle."""

from __future__ import annotations

from helpers.import_graph import find_cycle, import_graph


def test_the_package_has_no_import_cycle():
    edges = import_graph()
    assert len(edges) > 50
    cycle = find_cycle(edges)
    assert cycle is None, " -> ".join(cycle)


def test_the_checker_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    edges = import_graph()
    assert "spinexplore.execution.base" in edges["spinexplore.execution.registry"]
