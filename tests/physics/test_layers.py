"""The physics package is layered: its import graph (module- and function-level imports alike)
has no cycle, and the ansatz, sampling and texture-fingerprint helpers never reach up to the
solver that uses them."""

from __future__ import annotations

from helpers.import_graph import find_cycle, subgraph

GRAPH = {name: edges - {"__init__"} for name, edges in subgraph("spinexplore.physics").items() if name != "__init__"}


def _cycle() -> list[str] | None:
    return find_cycle(GRAPH)


def test_the_graph_sees_the_known_edges():
    # guards the parser: an empty graph would pass every check below
    assert "energy" in GRAPH["solver"] and "_ansatz" in GRAPH["solver"]
    assert {"textures", "energy", "_ansatz_single"} <= GRAPH["_ansatz"]
    assert "observables" in GRAPH["_texture_id"] and "_peaks" in GRAPH["observables"]


def test_no_import_cycle_in_physics():
    assert _cycle() is None, f"import cycle: {' -> '.join(_cycle())}"


def test_helpers_of_the_solver_do_not_import_it():
    for name in ("energy", "_ansatz", "_ansatz_single", "_sampling", "_search", "_texture_id", "textures",
                 "observables", "classify", "lattice", "model", "_spins", "_peaks"):
        assert "solver" not in GRAPH[name], name
        assert "thermal" not in GRAPH[name], name


def test_bottom_layer_imports_nothing_of_the_solver_stack():
    assert GRAPH["_spins"] == set()
    assert GRAPH["lattice"] == set()
    assert GRAPH["energy"] <= {"_kernels", "_lbfgs", "_spins", "lattice", "model"}
    assert GRAPH["_lbfgs"] == {"_kernels"} and GRAPH["_lbfgs_pairs"] == {"_lbfgs"} and GRAPH["_kernels"] == set()
    assert GRAPH["textures"] <= {"_spins", "lattice"}
