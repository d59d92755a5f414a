"""The library's import graph: no module of ``chorus_pro`` imports in a circle, none imports Odoo.

The graph is read from the source with :mod:`ast` (nothing is imported), counting every import,
including the ones inside functions: a lazy import hides a circle from the interpreter, not from
the reader.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "chorus_pro"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def library_modules() -> dict:
    """``{dotted name: path}`` of every module of the package."""
    return {module_name(path): path for path in sorted(PACKAGE_DIR.rglob("*.py"))}


def imported_names(path: Path, name: str) -> set:
    """Dotted names imported by the module ``name`` (absolute, relative imports resolved)."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module
            found.add(origin)
            # "from package import submodule" imports the submodule.
            found.update(f"{origin}.{alias.name}" for alias in node.names)
    return found


def import_graph() -> dict:
    """``{module: set of library modules it imports}`` (the implicit import of a module's own
    parent packages is not an edge: Python runs them first, they cannot close a circle)."""
    modules = library_modules()
    graph = {}
    for name, path in modules.items():
        targets = {target for target in imported_names(path, name) if target in modules}
        graph[name] = {target for target in targets
                       if target != name and not name.startswith(target + ".")}
    return graph


def circles(graph: dict) -> list:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, result = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return result


def test_graph_reads_the_simulator_modules():
    graph = import_graph()
    # The reader resolves relative and "from package import module" imports.
    assert "chorus_pro.simulator.core" in graph["chorus_pro.simulator.http_server"]
    assert "chorus_pro.simulator.documents" in graph["chorus_pro.simulator.operations"]
    assert "chorus_pro.statuses" in graph["chorus_pro.simulator.operations"]
    assert "chorus_pro.simulator.admin_client" in graph["chorus_pro.simulator.testing"]


def test_circle_finder_finds_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_module_of_the_library_imports_in_a_circle():
    assert circles(import_graph()) == []


def test_the_library_imports_no_odoo():
    offenders = {name for name, path in library_modules().items()
                 if any(target.split(".")[0] == "odoo" for target in imported_names(path, name))}
    assert offenders == set()
