"""The shape of the code: imports flow one way, files and functions stay small enough to read.

rag/ is the library: no module of it imports ui/ or eval/ (rag/cli.py, the shell, may dispatch to them), and no
chain of rag/ modules imports back into itself. Lazy imports inside functions count too.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MAX_FILE_LINES = 300            # in rag/
MAX_FUNCTION_LINES = 60         # everywhere in rag/, ui/ and eval/
DECLARATIVE = {("rag/cli.py", "make_parser"), ("ui/app.py", "build_app")}   # an argument parser, a layout


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def python_files(*roots: str) -> list[Path]:
    return sorted(p for root in roots for p in (REPO / root).rglob("*.py"))


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function; `from a import b` counts as a.b if that is
    a module of ours."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def rag_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in python_files("rag")}
    return {name: {m for m in imported_modules(path) if m in modules and m != name and not name.startswith(m + ".")
                   and m != "rag"}
            for name, path in modules.items()}


def test_the_library_never_imports_the_ui_or_the_evaluation():
    offenders = {module_name(p): sorted(m for m in imported_modules(p) if m.split(".")[0] in ("ui", "eval"))
                 for p in python_files("rag") if p.relative_to(REPO).as_posix() != "rag/cli.py"}
    assert {k: v for k, v in offenders.items() if v} == {}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Import cycles found by a depth-first walk, each as the chain of modules that closes it."""
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    return cycles


def test_no_import_cycle_inside_the_library():
    assert find_cycles(rag_graph()) == []


def test_the_cycle_check_can_fail(tmp_path):
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    (tmp_path / "m.py").write_text("def f():\n    from rag.b import x\n")      # a lazy import counts
    assert imported_modules(tmp_path / "m.py") >= {"rag.b", "rag.b.x"}


@pytest.mark.parametrize("path", python_files("rag"), ids=lambda p: p.relative_to(REPO).as_posix())
def test_library_files_stay_short(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_FILE_LINES


def test_functions_stay_short():
    long = []
    for path in python_files("rag", "ui", "eval"):
        rel = path.relative_to(REPO).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and (rel, node.name) not in DECLARATIVE:
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{rel}:{node.name} ({n} lines)")
    assert long == []
