"""The house rules of the layout: imports run one way, no cycles, no module too large to read."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("supervisor", "assistants", "escalation")
MAX_LINES = 420


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _imports(name: str, path: Path) -> set[str]:
    """Steward modules that `name` imports at run time (not under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                found.add(base)
                found.update(f"{base}.{a.name}" for a in child.names)
            visit(child)

    visit(tree)
    modules = _modules()
    return {m for m in found if m in modules and m != name}


GRAPH = {name: _imports(name, path) for name, path in _modules().items()}


def _layer(name: str) -> str:
    parts = name.split(".")
    if parts[0] == "escalation" and len(parts) > 1 and parts[1] in ("core", "rules"):
        return f"escalation.{parts[1]}"
    return parts[0]


ALLOWED = {
    "escalation.core": {"escalation.core"},
    "escalation.rules": {"escalation.core", "escalation.rules"},
    "escalation": {"escalation.core", "escalation.rules", "escalation"},
    "assistants": {"escalation.core", "escalation.rules", "escalation", "assistants"},
    "supervisor": {"escalation.core", "escalation.rules", "escalation", "supervisor"},
}


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_imports_run_one_way(name: str) -> None:
    layer = _layer(name)
    wrong = sorted(m for m in GRAPH[name] if _layer(m) not in ALLOWED[layer])
    assert not wrong, f"{name} ({layer}) imports {wrong}"


def test_no_import_cycle() -> None:
    # Package __init__ files that only re-export are edges from a package to its parts.
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(GRAPH[node]):
            if node.startswith(dep + "."):
                continue  # a module importing its own package's names
            if state.get(dep) == 1:
                cycle = [*stack[stack.index(dep) :], dep]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                walk(dep)
        stack.pop()
        state[node] = 2

    for name in sorted(GRAPH):
        if name not in state:
            walk(name)


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_module_size(name: str) -> None:
    lines = len(_modules()[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines; split it by what it holds"


def test_every_module_says_why_it_exists() -> None:
    modules = _modules().items()
    missing = [n for n, p in modules if ast.get_docstring(ast.parse(p.read_text())) is None]
    assert not missing, f"modules without a docstring: {missing}"
