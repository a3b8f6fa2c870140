"""The core's imports run one way: no module of ``zoo`` imports, even lazily inside a function,
a module that imports it back (imports under ``TYPE_CHECKING`` are for annotations only)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ZOO = Path(__file__).resolve().parents[1] / "zoo"


def module_name(path: Path) -> str:
    parts = path.relative_to(ZOO.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(ZOO.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The ``zoo`` modules that module ``name`` imports at run time."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in _runtime_imports(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
            base = ".".join([*anchor, base] if base else anchor)
        for alias in node.names:
            candidate = f"{base}.{alias.name}"
            targets.add(candidate if candidate in known else base)
    return {target for target in targets if target in known and target != name}


def import_cycles() -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm)."""
    found = modules()
    graph = {name: imported_modules(name, path, set(found)) for name, path in found.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return cycles


def test_the_core_has_no_import_cycle() -> None:
    assert import_cycles() == []


def test_the_cycle_check_finds_a_lazy_and_a_relative_import_but_not_a_typing_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "zoo"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from zoo.sub import b\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "b.py").write_text("from .. import a\n")
    (package / "c.py").write_text("from typing import TYPE_CHECKING\n"
                                  "if TYPE_CHECKING:\n    from zoo import a\n")
    monkeypatch.setitem(globals(), "ZOO", package)
    assert import_cycles() == [["zoo.a", "zoo.sub.b"]]


# -- packages: each __init__ docstring says what it may import, and the code keeps to it --------

def package_of(module: str) -> str:
    """``zoo.runs.store`` -> ``zoo.runs``; a top-level module (``zoo.errors``) is its own."""
    return ".".join(module.split(".")[:2])


def allowed_imports(package: str) -> set[str] | None:
    """The packages a package's ``__init__`` docstring says it may import (None: no rule)."""
    init = ZOO / package.removeprefix("zoo.").replace(".", "/") / "__init__.py"
    if not init.exists():
        return None
    docstring = ast.get_docstring(ast.parse(init.read_text())) or ""
    match = re.search(r"May import:\s*(.*?)\s*\(", " ".join(docstring.split()))
    assert match, f"{init}: the docstring must say what the package owns and may import"
    return {name.strip() for name in match.group(1).split(",")}


def test_every_package_imports_only_what_its_docstring_allows() -> None:
    found = modules()
    known = set(found)
    violations = []
    for name, path in found.items():
        package = package_of(name)
        allowed = allowed_imports(package) if package != name else None
        if allowed is None:
            continue
        for target in imported_modules(name, path, known):
            if package_of(target) not in {package, *allowed}:
                violations.append(f"{name} imports {target}")
    assert violations == []


def test_every_package_says_what_it_owns() -> None:
    for init in sorted(ZOO.glob("*/__init__.py")):
        docstring = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert "Owns:" in docstring, f"{init}: the docstring must say what the package owns"
        assert allowed_imports(f"zoo.{init.parent.name}") is not None


def test_the_concepts_page_draws_every_package() -> None:
    page = (ZOO.parent / "docs" / "concepts.md").read_text()
    drawn = set(re.findall(r"^(zoo\.[a-z_]+) ", page, re.M))
    packages = {f"zoo.{init.parent.name}" for init in ZOO.glob("*/__init__.py")}
    assert drawn == packages - {"zoo._builtin", "zoo.testing"} | {"zoo.errors"}
