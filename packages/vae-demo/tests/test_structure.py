"""The package's modules import each other in one direction only (no import circle), and its public
names load from the package."""

from __future__ import annotations

import ast
from pathlib import Path

import vae_demo

SRC = Path(vae_demo.__file__).parent


def imports_of(path: Path) -> set[str]:
    """vae_demo modules imported anywhere in a file (also inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("vae_demo."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("vae_demo.")}
    return found


def test_no_import_circle() -> None:
    graph = {p.stem: imports_of(p) for p in SRC.glob("*.py") if p.stem != "__init__"}
    assert {"train", "evaluate", "model"} <= set(graph)

    def reach(start: str) -> set[str]:
        seen, todo = set(), list(graph.get(start, ()))
        while todo:
            mod = todo.pop()
            if mod not in seen:
                seen.add(mod)
                todo.extend(graph.get(mod, ()))
        return seen

    assert sorted(mod for mod in graph if mod in reach(mod)) == []


def test_public_names_load() -> None:
    for name in vae_demo.__all__:
        assert getattr(vae_demo, name) is not None
