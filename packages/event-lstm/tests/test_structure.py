"""Checkpoints and imports survive refactoring: state_dict keys and shapes of every model as they were
before model.py was split, the public names where users import them, and no import circle."""

from __future__ import annotations

import ast
import importlib
import json
from pathlib import Path

import event_lstm
import pytest
from event_lstm.builders import build_model, build_pretrain_model
from event_lstm.config import Config
from sigzoo_shared.config import replace

KEYS = json.loads((Path(__file__).parent / "state_dict_keys.json").read_text())
SRC = Path(event_lstm.__file__).parent

# the model sizes the stored key list was written with (the original's widths)
WIDTHS = {"hidden_size": 128, "frontend_channels": 64, "cnn_channels": 8, "timing_head_dim": 32}


def shapes(model) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("arch", ["lstm", "event_specific"])
def test_classifier_state_dict_keys_are_unchanged(arch: str) -> None:
    cfg = Config()
    model = build_model(replace(cfg.model, arch=arch, **WIDTHS))
    assert shapes(model) == KEYS[arch]


@pytest.mark.parametrize("method", ["ae", "vae", "contrastive"])
def test_pretraining_state_dict_keys_are_unchanged(method: str) -> None:
    cfg = Config()
    cfg = replace(cfg, model=replace(cfg.model, **WIDTHS))
    assert shapes(build_pretrain_model(cfg, method)) == KEYS[method]


def test_public_names_import_from_the_package_and_from_model() -> None:
    model = importlib.import_module("event_lstm.model")
    for name in event_lstm.__all__:
        assert getattr(event_lstm, name) is not None
    for name in set(event_lstm.__all__) - {"__version__", "Config", "visualize_learned_templates"}:
        assert getattr(model, name) is getattr(event_lstm, name)
    for name in ("fractional_shift", "gaussian_timing_target", "refractory_penalty", "vae_loss"):
        assert callable(getattr(model, name))


def imports_of(path: Path) -> set[str]:
    """event_lstm modules imported anywhere in a file (also inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("event_lstm."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("event_lstm.")}
    return found


def test_no_import_circle() -> None:
    graph = {p.stem: imports_of(p) for p in SRC.glob("*.py") if p.stem != "__init__"}

    def reach(start: str) -> set[str]:
        seen, todo = set(), list(graph.get(start, ()))
        while todo:
            mod = todo.pop()
            if mod not in seen:
                seen.add(mod)
                todo.extend(graph.get(mod, ()))
        return seen

    circles = sorted(mod for mod in graph if mod in reach(mod))
    assert circles == []
