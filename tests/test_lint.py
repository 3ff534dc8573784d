"""Code and notebooks are linted like code (ruff, configured in pyproject.toml), and the
house rules of docs/DEVELOPING.md hold: no import circles, no underscore name used across
modules, no module over 500 lines."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("autograder", "course_utils")
#: Where the line limit applies: the code a maintainer reads (tests are tables and cases).
MAX_LINES, SIZED = 500, (*PACKAGES, "benchmarks")


def test_ruff_is_clean():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def module_files(*roots: str) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under ``roots``."""
    found = {}
    for root in roots:
        for path in sorted((ROOT / root).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(tree: ast.Module, modules: dict[str, Path]) -> set[str]:
    """The course's modules that ``tree`` imports, at any depth (function-level imports
    included). ``from package import submodule`` counts as an import of the submodule only,
    as Python's import system sees it."""
    targets = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = {f"{node.module}.{a.name}" for a in node.names} & modules.keys()
            targets |= subs
            if node.module in modules and len(subs) < len(node.names):
                targets.add(node.module)
    return targets


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_circles():
    modules = module_files(*PACKAGES)
    graph = {name: imported(ast.parse(path.read_text()), modules) - {name}
             for name, path in modules.items()}
    assert circles(graph) == []


def private(name: str) -> bool:
    return name.startswith("_") and not name.endswith("__")


def test_no_underscore_name_crosses_a_module():
    """``from m import _x`` and ``m._x`` for a course module ``m``, in code and tests."""
    modules = module_files(*PACKAGES)
    offences = []
    for path in sorted([*modules.values(), *(ROOT / "tests").rglob("*.py"),
                        *(ROOT / "benchmarks").rglob("*.py")]):
        tree = ast.parse(path.read_text())
        aliases = set()  # local names bound to a course module
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                    and node.module.split(".")[0] in PACKAGES:
                for a in node.names:
                    if private(a.name):
                        offences.append(f"{path.relative_to(ROOT)}: from {node.module} "
                                        f"import {a.name}")
                    if f"{node.module}.{a.name}" in modules:
                        aliases.add(a.asname or a.name)
            elif isinstance(node, ast.Import):
                aliases.update(a.asname for a in node.names if a.asname and a.name in modules)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id in aliases and private(node.attr):
                offences.append(f"{path.relative_to(ROOT)}:{node.lineno}: "
                                f"{node.value.id}.{node.attr}")
    assert offences == []


def test_no_module_over_500_lines():
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines())
             for root in SIZED for p in (ROOT / root).rglob("*.py")}
    assert {p: n for p, n in sizes.items() if n > MAX_LINES} == {}
