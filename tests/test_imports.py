"""Imports run one way: the core (alerts/, geofences/, config/) never reaches into the shells
(stream/), and no two modules import each other at load time, directly or around a circle.

Read from the source with `ast`, not by importing, so a lazy import inside a function counts for the
layering rule (it runs sooner or later) but not for circles (it runs after both modules loaded).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("alerts", "config", "geofences", "stream")
CORE = ("alerts", "config", "geofences")
SHELLS = ("stream",)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {
        module_name(p): p
        for pkg in PACKAGES
        for p in sorted((ROOT / pkg).rglob("*.py"))
        if ".venv" not in p.parts
    }


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _absolute(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    drop = node.level - 1 if is_package else node.level
    base = base[: len(base) - drop]
    return ".".join(base + ([node.module] if node.module else []))


def imported_names(module: str, tree: ast.Module, is_package: bool,
                   load_time_only: bool) -> set[str]:
    """Dotted names a module imports; `from a import b` gives both a and a.b (b may be a module)."""
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(module, node, is_package)
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If) and load_time_only and _is_type_checking(node):
                continue
            elif load_time_only and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            else:
                visit([c for c in ast.iter_child_nodes(node) if isinstance(c, ast.stmt)])

    visit(tree.body)
    return found


def import_graph(load_time_only: bool) -> dict[str, set[str]]:
    modules = project_modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        names = imported_names(name, tree, path.name == "__init__.py", load_time_only)
        # a module's own packages are already loading when it runs: not a circle
        ancestors = {name.rsplit(".", i)[0] for i in range(1, name.count(".") + 1)}
        graph[name] = {n for n in names if n in modules and n != name and n not in ancestors}
    return graph


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module `start` imports, directly or through others."""
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        mod = todo.pop()
        if mod not in seen:
            seen.add(mod)
            todo.extend(graph[mod])
    return seen


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of modules that import each other, directly or around a circle (a few hundred
    modules: reachability from each is cheap enough)."""
    reach = {mod: reachable(graph, mod) for mod in graph}
    circles: list[list[str]] = []
    placed: set[str] = set()
    for mod in sorted(graph):
        if mod in placed or mod not in reach[mod]:
            continue
        group = sorted(m for m in reach[mod] if mod in reach[m])
        placed.update(group)
        circles.append(group)
    return circles


def test_core_never_imports_the_shells():
    graph = import_graph(load_time_only=False)
    wrong = sorted(
        f"{mod} imports {dep}"
        for mod, deps in graph.items() if mod.split(".")[0] in CORE
        for dep in deps if dep.split(".")[0] in SHELLS
    )
    assert wrong == []


def test_no_import_circles():
    assert strongly_connected(import_graph(load_time_only=True)) == []


def test_the_checks_see_what_they_claim_to():
    """The walker finds a lazy import, a relative import and a circle when there is one."""
    tree = ast.parse("from . import b\ndef f():\n    import stream.cli\n")
    assert imported_names("pkg.a", tree, False, load_time_only=True) == {"pkg", "pkg.b"}
    assert "stream.cli" in imported_names("pkg.a", tree, False, load_time_only=False)
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []
    graph = import_graph(load_time_only=True)
    assert "alerts.events" in graph["alerts.engine"]
