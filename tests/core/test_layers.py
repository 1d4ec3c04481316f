"""Layers call one way (ARCHITECTURE.md), read from the source, not from what one import
happened to load: no module under memx/ imports ray, jobs or cluster anywhere (function
bodies and `if TYPE_CHECKING:` blocks included), the modules of memx/ import one another
without a circle (a type-only import is a dependency of the design too, so it counts), and
nothing in jobs/ or cluster/ calls back into the command line (jobs/cli.py sits on top)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("ray", "jobs", "cluster")


def _module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST, type_checking: bool = True):
    """Every Import / ImportFrom in the file, at any depth; those under `if TYPE_CHECKING:`
    only with `type_checking` (they make no circle at run time, but still one in the design)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if not type_checking and isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def imported_modules(path: Path, known: set[str], root: Path = ROOT,
                     type_checking: bool = True) -> list[tuple[str, int]]:
    """(module, line) for each module the file imports; `from a import b` names a.b when
    that is a module of ours, else a. Relative imports are resolved against the file."""
    name = _module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in _import_nodes(ast.parse(path.read_text(), str(path)), type_checking):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join(anchor + ([node.module] if node.module else []))
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            found.append((sub if sub in known else base, node.lineno))
    return found


def _library() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted((ROOT / "memx").rglob("*.py"))}


def test_the_library_never_imports_ray_jobs_or_cluster():
    modules = _library()
    assert "memx.verify.candidates" in modules and "memx.gpt2_cpu" in modules
    offenders = [f"{path.relative_to(ROOT)}:{line} imports {name}"
                 for module, path in modules.items()
                 for name, line in imported_modules(path, set(modules))
                 if name.split(".")[0] in FORBIDDEN]
    assert offenders == [], "\n".join(offenders)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of the graph as [a, b, ..., a], or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    for start in sorted(graph):
        if state.get(start):
            continue
        path, iterators = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while path:
            step = next(iterators[-1], None)
            if step is None:
                state[path.pop()] = 2
                iterators.pop()
            elif state.get(step) == 1:
                return path[path.index(step):] + [step]
            elif not state.get(step):
                state[step] = 1
                path.append(step)
                iterators.append(iter(sorted(graph.get(step, ()))))
    return None


def test_imports_inside_functions_and_under_type_checking_count(tmp_path):
    source = tmp_path / "probe.py"
    source.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import ray\n"
                      "def work():\n    from jobs.entry import job_main\n    import cluster.pool as pool\n")
    names = sorted(name for name, _ in imported_modules(source, set(), root=tmp_path))
    assert names == ["cluster.pool", "jobs.entry", "ray", "typing"]
    at_run_time = sorted(name for name, _ in imported_modules(source, set(), root=tmp_path, type_checking=False))
    assert at_run_time == ["cluster.pool", "jobs.entry", "typing"]


def test_a_type_only_circle_is_a_circle(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("from pkg.b import B\n")
    (tmp_path / "pkg" / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import A\n")
    known = {"pkg.a", "pkg.b"}
    graph = {name: {n for n, _ in imported_modules(tmp_path / "pkg" / f"{name[-1]}.py", known, root=tmp_path)
                    if n in known} for name in known}
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.a"]


def test_the_cycle_finder_names_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_library_has_no_import_circles():
    modules = _library()
    graph = {module: {name for name, _ in imported_modules(path, set(modules)) if name in modules and name != module}
             for module, path in modules.items()}
    assert sum(map(len, graph.values())) > 100  # the graph was really read
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_jobs_and_cluster_do_not_call_back_into_the_command_line():
    sources = [p for folder in ("jobs", "cluster") for p in sorted((ROOT / folder).glob("*.py"))
               if p.name != "cli.py"]
    assert any(p.name == "run.py" for p in sources)
    known = {_module_name(p) for p in sources} | {"jobs.cli"}
    offenders = [f"{p.relative_to(ROOT)}:{line}" for p in sources
                 for name, line in imported_modules(p, known) if name == "jobs.cli"]
    assert offenders == []
