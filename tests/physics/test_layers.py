"""The physics package is layered: its import graph (module- and function-level imports alike)
has no cycle, and the ansatz, sampling and texture-fingerprint helpers never reach up to the
solver that uses them."""

from __future__ import annotations

import ast
from pathlib import Path

import spinexplore.physics

PACKAGE = "spinexplore.physics"
ROOT = Path(spinexplore.physics.__file__).parent
MODULES = {p.stem: p for p in ROOT.glob("*.py") if p.stem != "__init__"}


def _imports(path: Path) -> set[str]:
    """Sibling modules of the physics package that ``path`` imports anywhere in its body."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            if node.level:  # relative: .x or from . import x
                names = [f"{PACKAGE}.{node.module}"]
            elif node.module == PACKAGE:
                names = [f"{PACKAGE}.{a.name}" for a in node.names]
            else:
                names = [node.module]
        elif isinstance(node, ast.ImportFrom) and node.level:
            names = [f"{PACKAGE}.{a.name}" for a in node.names]
        for name in names:
            if name.startswith(PACKAGE + "."):
                stem = name[len(PACKAGE) + 1:].split(".")[0]
                if stem in MODULES and MODULES[stem] != path:
                    out.add(stem)
    return out


GRAPH = {name: _imports(path) for name, path in MODULES.items()}


def _cycle() -> list[str] | None:
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(v: str) -> list[str] | None:
        state[v] = 1
        stack.append(v)
        for w in sorted(GRAPH[v]):
            if state.get(w) == 1:
                return stack[stack.index(w):] + [w]
            if w not in state:
                found = visit(w)
                if found:
                    return found
        stack.pop()
        state[v] = 2
        return None

    for v in sorted(GRAPH):
        if v not in state:
            found = visit(v)
            if found:
                return found
    return None


def test_the_graph_sees_the_known_edges():
    # guards the parser: an empty graph would pass every check below
    assert "energy" in GRAPH["solver"] and "_ansatz" in GRAPH["solver"]
    assert {"textures", "energy", "_ansatz_single"} <= GRAPH["_ansatz"]
    assert "observables" in GRAPH["_texture_id"] and "_peaks" in GRAPH["observables"]


def test_no_import_cycle_in_physics():
    assert _cycle() is None, f"import cycle: {' -> '.join(_cycle())}"


def test_helpers_of_the_solver_do_not_import_it():
    for name in ("energy", "_ansatz", "_ansatz_single", "_sampling", "_texture_id", "textures",
                 "observables", "classify", "lattice", "model", "_spins", "_peaks"):
        assert "solver" not in GRAPH[name], name
        assert "thermal" not in GRAPH[name], name


def test_bottom_layer_imports_nothing_of_the_solver_stack():
    assert GRAPH["_spins"] == set()
    assert GRAPH["lattice"] == set()
    assert GRAPH["energy"] <= {"_kernels", "_spins", "lattice", "model"}
    assert GRAPH["textures"] <= {"_spins", "lattice"}
