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


#: The layers of docs/architecture.md, top first: a module imports only its own layer and the
#: layers below it. Each entry is a package (a folder and everything in it) or a module; the
#: longest matching entry decides. The plugin kinds share a layer but do not import each other.
LAYERS = [
    ("spinexplore.__main__", "spinexplore.cli", "spinexplore.plotting"),
    ("spinexplore.explorer",),
    ("spinexplore.analysis",),
    ("spinexplore.runner", "spinexplore.goals", "spinexplore.settings", "spinexplore._setting_checks"),
    ("spinexplore.learner",),
    ("spinexplore.fidelity", "spinexplore.promotion"),
    ("spinexplore.simulation",),
    ("spinexplore.samplers", "spinexplore.surrogates", "spinexplore.strategies", "spinexplore.execution",
     "spinexplore.store"),
    ("spinexplore.physics",),
    ("spinexplore", "spinexplore.results", "spinexplore.labels", "spinexplore.space", "spinexplore.errors",
     "spinexplore._validation", "spinexplore._constraints", "spinexplore._rungs", "spinexplore._text",
     "spinexplore._log", "spinexplore._registry"),
]
PLUGINS = 7  # the index of the plugin layer in LAYERS
#: Known upward edges, each with the issue that removes it (none may be added).
KNOWN_UPWARD: set[tuple[str, str]] = set()


def _layer_of(module: str) -> tuple[int, str]:
    found = [(len(entry), i, entry) for i, layer in enumerate(LAYERS) for entry in layer
             if module == entry or module.startswith(entry + ".")]
    assert found, f"{module} is in no layer of LAYERS"
    _, i, entry = max(found)
    return i, entry


def upward_edges(edges: dict[str, set[str]]) -> set[tuple[str, str]]:
    out = set()
    for m, targets in edges.items():
        lm, em = _layer_of(m)
        for t in targets:
            lt, et = _layer_of(t)
            if lt < lm or (lt == lm == PLUGINS and et != em):
                out.add((m, t))
    return out


def test_every_module_imports_only_its_layer_and_the_layers_below():
    edges = import_graph()
    assert upward_edges(edges) <= KNOWN_UPWARD


def test_the_layer_check_sees_an_upward_import_and_a_plugin_kind_importing_another():
    edges = {"spinexplore.runner._background": {"spinexplore.cli._run", "spinexplore.learner._points"},
             "spinexplore.store.hdf5": {"spinexplore.strategies.registry", "spinexplore.results"},
             "spinexplore.cli._run": set(), "spinexplore.learner._points": set(),
             "spinexplore.strategies.registry": set(), "spinexplore.results": set()}
    assert upward_edges(edges) == {("spinexplore.runner._background", "spinexplore.cli._run"),
                                   ("spinexplore.store.hdf5", "spinexplore.strategies.registry")}


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
