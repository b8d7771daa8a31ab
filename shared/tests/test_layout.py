"""The package-shape check: modules, public names, default config, import circles."""

from __future__ import annotations

from pathlib import Path

from sigzoo_shared.layout import (
    MODULES,
    cli_problems,
    find_cycles,
    import_graph,
    layout_problems,
)


def write_package(root: Path, name: str, files: dict[str, str]) -> None:
    pkg = root / name
    (pkg / "configs").mkdir(parents=True)
    (pkg / "configs" / "default.yaml").write_text("{}\n")
    for module in MODULES:
        (pkg / f"{module}.py").write_text(files.get(module, ""))
    (pkg / "__init__.py").write_text(
        files.get("__init__", '__version__ = "0"\n_WHERE = {"Config": "config"}\n')
    )


def test_a_conforming_package_has_no_problems(tmp_path: Path, monkeypatch) -> None:
    write_package(
        tmp_path,
        "good_pkg",
        {"cli": "def main():\n    pass\n", "train": "from good_pkg.model import x\n"},
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert layout_problems("good_pkg") == []


def test_circles_missing_modules_and_names_are_reported(tmp_path: Path, monkeypatch) -> None:
    write_package(
        tmp_path,
        "bad_pkg",
        {
            "__init__": "",
            "train": "from bad_pkg.evaluate import score\n",
            "evaluate": "from bad_pkg import train\n\ndef f():\n    from bad_pkg import cli\n",
            "cli": "from . import evaluate\n",
        },
    )
    (tmp_path / "bad_pkg" / "bench.py").unlink()
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = import_graph("bad_pkg")
    assert graph["evaluate"] == {"train"} and graph["cli"] == {
        "evaluate"
    }  # function-level import ignored
    assert find_cycles(graph) == [["evaluate", "train", "evaluate"]]
    nested = import_graph("bad_pkg", nested=True)  # evaluate's function-level import of cli counts
    assert find_cycles(nested) == [["cli", "evaluate", "cli"], ["evaluate", "train", "evaluate"]]
    problems = layout_problems("bad_pkg")
    assert any("bench.py: missing" in p for p in problems)
    assert any("['__version__', 'Config'] missing" in p for p in problems)
    assert any("no main()" in p for p in problems)
    assert any("import circle evaluate -> train -> evaluate" in p for p in problems)


def test_longer_circles_are_found_once() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]


CLI = """
from dataclasses import dataclass, field

from sigzoo_shared.cli import add_common_verbs, base_parser, dispatch_common, run_main


def dispatch(args):
    from {name}.config import Config

    dispatch_common(args, Config, "{name}")


def main(argv=None):
    parser, sub = base_parser("{name}", "test")
    add_common_verbs(sub)
    {extra}
    return run_main(dispatch, parser, argv)


if __name__ == "__main__":
    main()
"""
CONFIG = """
from dataclasses import dataclass, field


@dataclass
class Model:
    width: int = 4
    depth: int = 2


@dataclass
class Config:
    model: Model = field(default_factory=Model)
"""


def cli_package(root: Path, name: str, default_yaml: str, extra: str = "") -> None:
    write_package(root, name, {"cli": CLI.format(name=name, extra=extra), "config": CONFIG})
    (root / name / "configs" / "default.yaml").write_text(default_yaml)


def test_cli_promises_hold_for_a_package_built_on_the_core(tmp_path: Path, monkeypatch) -> None:
    import importlib

    cli_package(tmp_path, "cli_ok", "model:\n  width: 4\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path), prepend=":")
    main = importlib.import_module("cli_ok.cli").main
    config = importlib.import_module("cli_ok.config").Config
    assert cli_problems("cli_ok", config, main, ["model.depth=5"]) == []


def test_disagreeing_defaults_and_torch_at_help_are_named(tmp_path: Path, monkeypatch) -> None:
    import importlib

    cli_package(tmp_path, "cli_bad", "model:\n  width: 8\n", extra="import torch")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path), prepend=":")
    main = importlib.import_module("cli_bad.cli").main
    config = importlib.import_module("cli_bad.config").Config
    problems = cli_problems("cli_bad", config, main)
    assert problems == [
        "cli_bad: default of model.width is 4 in Config() but 8 in the CLI",
        "cli_bad --help: torch imported",
    ]
