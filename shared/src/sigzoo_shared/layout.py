"""The shape every package promises (docs/architecture.md), as a check each package's tests run.

Know one package, know all: the same modules, the same public names, a shipped default config, and no
import circle (a circle means two modules each need the other's internals: one concept is split
wrongly, and importing either half-initialises the other). The check reads source with `ast`, so
it imports nothing heavy and runs in milliseconds.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

from sigzoo_shared.errors import ConfigError

MODULES = (
    "config",
    "data",
    "generator",
    "model",
    "train",
    "evaluate",
    "bench",
    "demo",
    "cli",
)
PUBLIC_NAMES = ("__version__", "Config")


def package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"{package}: not an importable package")
    return Path(next(iter(spec.submodule_search_locations)))


def _public_names(init: Path) -> set[str]:
    """Names an `__init__` binds or lists in `__all__` / the lazy `_WHERE` table."""
    tree = ast.parse(init.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
            if any(isinstance(t, ast.Name) and t.id in ("__all__", "_WHERE") for t in node.targets):
                if isinstance(node.value, ast.Dict):
                    names.update(k.value for k in node.value.keys if isinstance(k, ast.Constant))
                elif isinstance(node.value, (ast.List, ast.Tuple)):
                    names.update(e.value for e in node.value.elts if isinstance(e, ast.Constant))
        elif isinstance(node, (ast.ImportFrom, ast.Import)):
            names.update(a.asname or a.name for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names


def import_graph(package: str, nested: bool = False) -> dict[str, set[str]]:
    """`module -> modules of the same package it imports` at import time (top level only).

    Imports inside functions are how the CLI keeps `--help` fast; they run after both modules are
    initialised, so they cannot break an import. `nested=True` counts them too: the stricter reading
    in which two modules needing each other at all is a concept split wrongly.
    """
    root = package_dir(package)
    modules = {p.stem: p for p in root.glob("*.py") if p.stem != "__init__"}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found: set[str] = set()
        for node in ast.walk(tree) if nested else tree.body:
            if isinstance(node, ast.ImportFrom):
                target = node.module or ""
                if node.level:  # relative import: `from .x import y` or `from . import x`
                    target = f"{package}.{node.module}" if node.module else package
                if target == package:
                    found.update(a.name for a in node.names if a.name in modules)
                elif target.startswith(f"{package}."):
                    found.add(target.split(".")[1])
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith(f"{package}."):
                        found.add(alias.name.split(".")[1])
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every elementary import circle, each once, as `[a, b, ..., a]`."""
    cycles: list[list[str]] = []
    seen: set[frozenset[str]] = set()

    def visit(start: str, node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                key = frozenset(path)
                if key not in seen:
                    seen.add(key)
                    cycles.append([*path, start])
            elif nxt not in path and nxt > start:  # each circle found from its smallest module
                visit(start, nxt, [*path, nxt])

    for start in sorted(graph):
        visit(start, start, [start])
    return cycles


def layout_problems(package: str, nested_imports: bool = True) -> list[str]:
    """Everything in which `package` departs from the promised shape (empty when it conforms).

    Import circles are looked for among all imports, also those inside functions (see `import_graph`).
    """
    root = package_dir(package)
    problems = [
        f"{root}/{m}.py: missing (every package has {', '.join(MODULES)})"
        for m in MODULES
        if not (root / f"{m}.py").is_file()
    ]
    if not (root / "configs" / "default.yaml").is_file():
        problems.append(f"{root}/configs/default.yaml: missing")
    missing = [n for n in PUBLIC_NAMES if n not in _public_names(root / "__init__.py")]
    if missing:
        problems.append(f"{root}/__init__.py: public name(s) {missing} missing")
    if (root / "cli.py").is_file() and "main" not in _public_names(root / "cli.py"):
        problems.append(f"{root}/cli.py: no main() for the console script")
    problems += [
        f"{package}: import circle {' -> '.join(c)}"
        for c in find_cycles(import_graph(package, nested=nested_imports))
    ]
    return problems
