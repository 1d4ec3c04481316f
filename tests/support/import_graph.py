"""The import graph of memx/, read from the source with the layer test's parser: modules,
edges, function-body imports, type-only imports, and the circles (with and without the
imports under `if TYPE_CHECKING:`). `python -m tests.support.import_graph` prints the figures.
It knows no run and imports nothing of memx."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.core.test_layers import _is_type_checking, _library, find_cycle, imported_modules


def _function_body_imports(path: Path) -> int:
    count = 0
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            count += sum(isinstance(n, (ast.Import, ast.ImportFrom)) and n is not node for n in ast.walk(node))
    return count


def _type_only_imports(path: Path) -> int:
    return sum(len(node.body) for node in ast.walk(ast.parse(path.read_text()))
               if isinstance(node, ast.If) and _is_type_checking(node.test))


def graph(type_checking: bool = True) -> dict[str, set[str]]:
    modules = _library()
    return {module: {name for name, _ in imported_modules(path, set(modules), type_checking=type_checking)
                     if name in modules and name != module}
            for module, path in modules.items()}


def _packages(modules: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph between memx's packages and top-level modules (memx.extraction.* is one node)."""
    def node(name: str) -> str:
        return ".".join(name.split(".")[:2])
    packages: dict[str, set[str]] = {}
    for module, names in modules.items():
        packages.setdefault(node(module), set()).update(node(n) for n in names if node(n) != node(module))
    return packages


def figures() -> dict:
    modules = _library()
    run_time, every = graph(type_checking=False), graph(type_checking=True)
    return {"modules": len(modules), "edges": sum(map(len, every.values())),
            "function_body_imports": sum(_function_body_imports(p) for p in modules.values()),
            "type_checking_imports": sum(_type_only_imports(p) for p in modules.values()),
            "circle_run_time": find_cycle(run_time), "circle_with_type_checking": find_cycle(every),
            "package_circle_run_time": find_cycle(_packages(run_time)),
            "package_circle_with_type_checking": find_cycle(_packages(every)),
            "lines": sum(len(p.read_text().splitlines()) for p in modules.values())}


if __name__ == "__main__":
    for key, value in figures().items():
        print(f"{key}: {value}")
