"""Imports only point down: the package's import graph (module- and function-level imports,
read with ast) has no cycle."""

from __future__ import annotations

from helpers.import_graph import find_cycle, import_graph, parents_run_by


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


def test_the_checker_sees_the_package_an_import_runs():
    """Issue 25: a lazy ``from spinexplore.plotting._texture import ...`` in analysis also runs
    ``spinexplore/plotting/__init__`` (which imports the rest of plotting, and that imports
    analysis): the reader missed that edge, and with it the analysis <-> plotting circle."""
    assert parents_run_by("spinexplore.plotting._texture", "spinexplore.analysis") == {"spinexplore.plotting"}
    assert parents_run_by("spinexplore.physics.lattice", "spinexplore.physics.solver") == set()
    assert parents_run_by("spinexplore.store.hdf5", "spinexplore.store") == set()


def test_only_the_command_line_imports_plotting():
    """docs/architecture.md: plotting is a leaf; analysis and everything below never import it
    (a Texture is drawn by the plotting function that plotting installs, Texture.plotter)."""
    importers = sorted(m for m, targets in import_graph().items()
                       if not m.startswith(("spinexplore.plotting", "spinexplore._cli", "spinexplore.cli"))
                       and any(t == "spinexplore.plotting" or t.startswith("spinexplore.plotting.") for t in targets))
    assert importers == []
