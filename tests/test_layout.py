"""The package's shape, checked: SQL only in the data layer, no import cycle, modules of a
readable size (or a reason at their top), pages that hold no logic of their own."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from .fixtures import ROOT

PACKAGE = ROOT / "enrollment"
SQL_CALL = re.compile(r"execute\(|\.sql\(")
LONG = 500


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _outside_the_data_layer() -> list[Path]:
    places = [*PACKAGE.rglob("*.py"), *(ROOT / "pages").glob("*.py"), ROOT / "dashboard.py"]
    return [p for p in places if p.relative_to(ROOT).parts[:2] != ("enrollment", "db")]


def test_no_sql_outside_the_data_layer():
    """Every connection and every statement lives in enrollment/db/ (the issue's grep)."""
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in _outside_the_data_layer()
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if SQL_CALL.search(line)]
    assert offenders == []


def test_only_the_data_layer_imports_a_database_driver():
    driver = re.compile(r"^\s*(import|from) (duckdb|psycopg)", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in _outside_the_data_layer()
                 if driver.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Modules of the package that `name` imports (at any depth of its code)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for block in [n for n in ast.walk(tree) if isinstance(n, ast.If)
                  and isinstance(n.test, ast.Name) and n.test.id == "TYPE_CHECKING"]:
        block.body = []     # imports for type hints only never load at run time
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = ".".join(base[: len(base) - node.level + 1])
                target = base + ("." + node.module if node.module else "")
            else:
                target = node.module or ""
            if target in modules:
                found.add(target)
            found.update(f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in modules)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in modules)
    # A submodule always loads its packages first: that is not an import cycle.
    return {m for m in found if m != name and not name.startswith(m + ".")}


def test_no_import_cycle_in_the_package():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(trail[trail.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert cycles == []


def test_long_modules_say_why_at_their_top():
    """A module over 500 lines is hard to hold in one's head; one that must be long says why
    (a paragraph beginning "Size:" in its docstring)."""
    offenders = []
    for path in [*PACKAGE.rglob("*.py"), *(ROOT / "pages").glob("*.py")]:
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > LONG and "Size:" not in (ast.get_docstring(ast.parse(text)) or ""):
            offenders.append(f"{path.relative_to(ROOT)} ({text.count(chr(10))} lines)")
    assert offenders == []


def test_the_export_model_imports_none_of_its_renderers():
    modules = _modules()
    model = "enrollment.export.model"
    renderers = {f"enrollment.export.{m}" for m in ("boards", "bulletin", "workbook", "render",
                                                    "bundles")}
    assert _imports(model, modules[model], modules).isdisjoint(renderers)
