"""Write the benchmark figures of README.md and docs/*.md from benchmarks/results/*.json.

    python benchmarks/report.py --write   # rewrite every generated section in place
    python benchmarks/report.py --check   # exit 1, naming each section whose text differs from its JSON
    python benchmarks/report.py --list    # the sections found and where their data comes from

Convention. A generated section in a Markdown file is the text between two marker lines::

    <!-- BEGIN report:NAME -->
    ...generated, never typed...
    <!-- END report:NAME -->

* ``NAME`` is rendered by ``render_readme(data) -> str`` defined in ``benchmarks/NAME.py``, where
  ``data`` is the parsed ``benchmarks/results/NAME.json``.
* ``NAME:SUB`` (several pieces of text from one script) is rendered by ``render_readme_SUB(data)``
  in ``benchmarks/NAME.py`` (``SUB`` with ``-`` read as ``_``). Its data is
  ``benchmarks/results/NAME.json`` unless the script maps the sub-section to another file of
  ``benchmarks/results/`` in a module-level dict literal ``REPORT_DATA = {"SUB": "other.json"}``
  (a value may also be a list of file names: the function then gets a dict ``{file stem: data}``).
* The returned text replaces what lies between the markers (the markers stay). It must be a pure
  function of the data: the same JSON always gives the same text, so ``--check`` is exact.
* Every results JSON records the commit, the machine and the load it was measured with (see
  ``benchmarks/_provenance.py``); a render function states them with the figures.

To stay fast (a fast test runs ``--check``), the script's module body is not executed: only its
standard-library imports (and of the ``benchmarks/_*.py`` helpers), its literal module-level constants and its undecorated top-level
functions are. A render function therefore uses the standard library and other functions of its
script only; when it needs more (a ``NameError``), the whole script is imported as a fallback.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
MARKER = re.compile(r"(<!-- BEGIN report:(?P<name>[A-Za-z0-9_:\-]+) -->\n)(?P<body>.*?)(<!-- END report:(?P=name) -->)",
                    re.S)


def documents(root: Path = ROOT) -> list[Path]:
    """The Markdown files that may hold generated sections: README.md and docs/*.md."""
    docs = [root / "README.md"] + sorted((root / "docs").glob("*.md"))
    return [p for p in docs if p.exists()]


def _light_module(path: Path) -> ModuleType:
    """The script's stdlib imports, literal constants and plain functions, without its module body."""
    tree = ast.parse(path.read_text(), filename=str(path))
    keep = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            light = [m.split(".")[0] in sys.stdlib_module_names or m == "__future__"
                     or (m.startswith("_") and (path.parent / f"{m}.py").exists()) for m in mods]
            if all(light) and not (isinstance(node, ast.ImportFrom) and node.level):
                keep.append(node)
        elif isinstance(node, ast.FunctionDef) and not node.decorator_list:
            keep.append(node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            try:
                ast.literal_eval(node.value)
            except ValueError:
                continue
            keep.append(node)
    module = ModuleType(f"_report_{path.stem}")
    module.__file__ = str(path)
    sys.path.insert(0, str(path.parent))
    try:
        exec(compile(ast.Module(body=keep, type_ignores=[]), str(path), "exec"), module.__dict__)
    finally:
        sys.path.remove(str(path.parent))
    return module


def _full_module(path: Path) -> ModuleType:
    name = f"_report_full_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def _section_source(section: str, bench_dir: Path) -> tuple[Path, str, str | None]:
    name, _, sub = section.partition(":")
    script = bench_dir / f"{name}.py"
    func = "render_readme" + (f"_{sub.replace('-', '_')}" if sub else "")
    return script, func, sub or None


def _data_for(module: ModuleType, name: str, sub: str | None, results: Path):
    mapping = getattr(module, "REPORT_DATA", {}) or {}
    files = mapping.get(sub, f"{name}.json") if sub else mapping.get(None, f"{name}.json")
    if isinstance(files, (list, tuple)):
        return {Path(f).stem: json.loads((results / f).read_text()) for f in files}
    return json.loads((results / files).read_text())


def render(section: str, bench_dir: Path = HERE, results: Path = RESULTS) -> str:
    """The text of one section, from its script's render function and its JSON."""
    script, func, sub = _section_source(section, bench_dir)
    if not script.exists():
        raise SystemExit(f"report: section {section!r}: no script {script}")
    name = section.partition(":")[0]
    module = _light_module(script)
    try:
        fn = getattr(module, func)
    except AttributeError:
        raise SystemExit(f"report: section {section!r}: {script.name} defines no function {func}(data)") from None
    data = _data_for(module, name, sub, results)
    try:
        text = fn(data)
    except NameError:
        module = _full_module(script)
        text = getattr(module, func)(_data_for(module, name, sub, results))
    return text.rstrip("\n") + "\n"


def sections(text: str) -> list[tuple[str, str]]:
    """(name, current body) of every generated section in a Markdown text."""
    return [(m.group("name"), m.group("body")) for m in MARKER.finditer(text)]


def rewrite(text: str, bench_dir: Path = HERE, results: Path = RESULTS) -> str:
    def sub(m: re.Match) -> str:
        return m.group(1) + render(m.group("name"), bench_dir, results) + m.group(4)

    return MARKER.sub(sub, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the generated sections in place")
    mode.add_argument("--check", action="store_true", help="exit 1 when a section differs from its JSON")
    mode.add_argument("--list", action="store_true", help="list the generated sections")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root (default: this checkout)")
    args = parser.parse_args(argv)
    bench_dir, results = args.root / "benchmarks", args.root / "benchmarks" / "results"
    stale = []
    for doc in documents(args.root):
        text = doc.read_text()
        found = sections(text)
        if args.list:
            for name, _ in found:
                print(f"{doc.relative_to(args.root)}: report:{name}")
            continue
        if args.check:
            for name, body in found:
                if body != render(name, bench_dir, results):
                    stale.append(f"{doc.relative_to(args.root)}: report:{name}")
        else:
            new = rewrite(text, bench_dir, results)
            if new != text:
                doc.write_text(new)
                print(f"rewrote {doc.relative_to(args.root)} ({len(found)} sections)")
    if stale:
        for s in stale:
            print(f"report: {s} differs from its JSON; run python benchmarks/report.py --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
