"""The package's import graph, read with ast (module- and function-level imports alike, and the
parent packages an import runs), and a cycle finder: the one reader the layer tests share
(tests/test_import_graph.py, tests/physics/test_layers.py, tests/execution/test_layers.py)."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import spinexplore

ROOT = Path(spinexplore.__file__).parent


def _modules() -> dict[str, Path]:
    mods = {}
    for p in ROOT.rglob("*.py"):
        parts = ["spinexplore", *p.relative_to(ROOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = p
    return mods


def import_graph() -> dict[str, set[str]]:
    """Edges ``module -> modules it imports`` (a fresh copy; the files are read once per process)."""
    return {m: set(targets) for m, targets in _read_graph().items()}


@functools.cache
def _read_graph() -> dict[str, frozenset[str]]:
    mods = _modules()
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for m, p in mods.items():
        package = m if p.name == "__init__.py" else m.rpartition(".")[0]
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                    base = f"{base}.{node.module}" if node.module else base
                else:
                    base = node.module or ""
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            for t in targets:
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                if t and t != m:
                    edges[m].add(t)
                    edges[m] |= parents_run_by(t, m)
    return {m: frozenset(targets) for m, targets in edges.items()}


def parents_run_by(target: str, importer: str) -> set[str]:
    """The packages whose ``__init__`` importing ``target`` runs first: its parent packages, less
    those that already contain ``importer`` (they are running when it imports). So a lazy
    ``from spinexplore.plotting._texture import f`` in ``spinexplore.analysis`` is an edge to
    ``spinexplore.plotting`` too, whose ``__init__`` imports the rest of plotting."""
    parents = set()
    parent = target.rpartition(".")[0]
    while parent:
        if not (importer == parent or importer.startswith(parent + ".")):
            parents.add(parent)
        parent = parent.rpartition(".")[0]
    return parents


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(v: str) -> list[str] | None:
        state[v] = 1
        stack.append(v)
        for w in sorted(edges[v]):
            if state.get(w) == 1:
                return stack[stack.index(w):] + [w]
            if w not in state:
                found = visit(w)
                if found:
                    return found
        stack.pop()
        state[v] = 2
        return None

    for v in sorted(edges):
        if v not in state:
            found = visit(v)
            if found:
                return found
    return None


def subgraph(package: str) -> dict[str, set[str]]:
    """The graph between the modules of one package (``"spinexplore.physics"``), by their
    short names (``"solver"``; ``"__init__"`` for the package's own module, which appears as a
    node but never as a target: importing the package is not an edge)."""
    graph, prefix = import_graph(), package + "."
    members = {m[len(prefix):]: m for m in graph if m.startswith(prefix) and "." not in m[len(prefix):]}
    out = {short: {t[len(prefix):] for t in graph[m] if t[len(prefix):] in members and t.startswith(prefix)}
           for short, m in members.items()}
    out["__init__"] = {t[len(prefix):] for t in graph[package] if t.startswith(prefix) and t[len(prefix):] in members}
    return out
