"""The shape every package promises (docs/architecture.md), as a check each package's tests run.

Know one package, know all: the same modules, the same public names, a shipped default config, and no
import circle (a circle means two modules each need the other's internals: one concept is split
wrongly, and importing either half-initialises the other). The check reads source with `ast`, so
it imports nothing heavy and runs in milliseconds.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

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


def _flat(tree: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(tree, dict):
        return {prefix.rstrip("."): tree}
    out: dict[str, Any] = {}
    for key, value in tree.items():
        out.update(_flat(value, f"{prefix}{key}."))
    return out


def cli_problems(
    package: str, cls: type, main: Callable[[list[str]], int], overrides: Sequence[str] = ()
) -> list[str]:
    """Where `package`'s console script breaks the promises every package's CLI makes (empty: none).

    * one source of defaults: `<pkg> config` prints exactly `Config()` (the dataclasses and the
      shipped default.yaml agree, so Python and the CLI train the same model);
    * `<pkg> config KEY=VALUE ...` prints every key a user can set, with the overrides applied;
    * `<pkg> --help` and `import <pkg>` do not import torch (a help line in seconds, not after
      loading a deep-learning runtime).
    """
    import contextlib
    import io
    import subprocess
    import sys

    import yaml

    from sigzoo_shared.config import parse_overrides
    from sigzoo_shared.runs import config_dict

    def shown(argv: list[str]) -> dict[str, Any]:
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            code = main(argv)
        if code != 0:
            raise ConfigError(f"{package} {' '.join(argv)}: exit code {code}")
        return _flat(yaml.safe_load(buffer.getvalue()))

    problems = []
    default, printed = config_dict(cls()), shown(["config"])
    differ = sorted(k for k in set(default) | set(printed) if default.get(k) != printed.get(k))
    problems += [
        f"{package}: default of {k} is {default.get(k)!r} in Config() but {printed.get(k)!r} in the CLI"
        for k in differ
    ]
    if overrides:
        with_overrides = shown(["config", *overrides])
        wanted = _flat(parse_overrides(list(overrides)))
        if set(with_overrides) != set(default):
            problems.append(f"{package} config: keys shown differ from Config's keys")
        problems += [
            f"{package} config {k}={v!r}: shown as {with_overrides.get(k)!r}"
            for k, v in wanted.items()
            if with_overrides.get(k) != v
        ]
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['{package}', '--help']\n"
        f"try:\n    runpy.run_module('{package}.cli', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        f"import {package}\n{package}.__version__\n"
        "print('torch imported' if 'torch' in sys.modules else 'torch not imported')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    last = (out.stdout.strip().splitlines() or [""])[-1]
    if out.returncode != 0 or last != "torch not imported":
        problems.append(f"{package} --help: {last or out.stderr.strip()[-300:]}")
    return problems
