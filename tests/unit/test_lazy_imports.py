"""No function-level import only dodges an import cycle.

An import inside a function is fine when it defers work (torch, onnxruntime, a command's
implementation behind `etb --help`). It is a dodge when hoisting it to the top of its module would
close a cycle: the imported module already imports the importer at module level. A cycle hidden
that way makes the layers lie, so this test finds them: untangle each by moving the shared piece
down a floor.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "etbuilder"
HEAVY = frozenset(
    {
        "accelerate",
        "fastapi",
        "huggingface_hub",
        "matplotlib",
        "onnx",
        "onnxruntime",
        "onnxscript",
        "optuna",
        "peft",
        "pyarrow",
        "ray",
        "safetensors",
        "sklearn",
        "streamlit",
        "torch",
        "transformers",
        "uvicorn",
    }
)
"""Libraries worth deferring: slow to import, or an optional extra that may be missing."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imported(node: ast.Import | ast.ImportFrom, module: str) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = (
            module.split(".")[: -node.level]
            if not MODULES[module].name.startswith("__init__")
            else module.split(".")[: len(module.split(".")) - node.level + 1]
        )
        base = ".".join([*package, base]) if base else ".".join(package)
    names = [f"{base}.{alias.name}" for alias in node.names]
    return [n if n in MODULES else base for n in names]


@cache
def _split(module: str) -> tuple[list[str], list[tuple[int, str]]]:
    """(modules imported at module level, (line, module) imported inside functions)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    typing_only = {
        id(n)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for n in ast.walk(block)
    }
    top: list[str] = []
    inner: list[tuple[int, str]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                names = _imported(child, module)
                if in_function:
                    inner.extend((child.lineno, n) for n in names)
                elif id(child) not in typing_only:
                    top.extend(names)
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            visit(child, nested)

    visit(tree, False)
    return top, inner


def _owner(name: str) -> str | None:
    """The etbuilder module `name` refers to (a module, or a name inside one)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


@cache
def closure(module: str) -> frozenset[str]:
    """The etbuilder modules importing `module` loads (through module-level imports only)."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        top, _ = _split(current)
        for name in top:
            owner = _owner(name) if name.startswith("etbuilder") else None
            if owner:
                todo.append(owner)
    return frozenset(seen)


@cache
def loads(module: str) -> frozenset[str]:
    """The heavy libraries importing `module` loads (through module-level imports only)."""
    found: set[str] = set()
    seen: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        top, _ = _split(current)
        parents = current.split(".")
        todo += [
            ".".join(parents[:i])
            for i in range(1, len(parents))
            if ".".join(parents[:i]) in MODULES
        ]
        for name in top:
            root = name.split(".")[0]
            if root in HEAVY:
                found.add(root)
            owner = _owner(name) if root == "etbuilder" else None
            if owner:
                todo.append(owner)
    return frozenset(found)


def _edges() -> dict[str, set[str]]:
    """Every import between etbuilder modules, at module level or inside a function."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module in MODULES:
        top, inner = _split(module)
        for name in [*top, *(n for _, n in inner)]:
            owner = _owner(name) if name.startswith("etbuilder") else None
            if owner and owner != module:
                graph[module].add(owner)
    return graph


def _reach(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def cycle_dodges() -> list[str]:
    """`file:line imports X` for each function-level import on an import cycle: hoisting it to
    the top of its module would make the cycle real."""
    graph = _edges()
    offenders = []
    for module in sorted(MODULES):
        _, inner = _split(module)
        for line, name in inner:
            owner = _owner(name) if name.startswith("etbuilder") else None
            if owner is None or owner == module:
                continue
            if module in _reach(graph, owner):
                offenders.append(f"{MODULES[module].relative_to(ROOT)}:{line} imports {owner}")
    return sorted(set(offenders))


def test_no_function_level_import_dodges_a_cycle() -> None:
    offenders = cycle_dodges()
    assert offenders == [], "untangle these cycles:\n" + "\n".join(offenders)


def test_the_check_sees_cycles_and_heavy_imports() -> None:
    assert "etbuilder.plan.records" in closure("etbuilder.compiler.pipeline")
    assert "etbuilder.compiler.pipeline" not in closure("etbuilder.plan.records")
    assert loads("etbuilder.runtime.loop") >= {"torch"}
    assert "torch" not in loads("etbuilder.spec.loader")
