"""Checkpoints and imports survive refactoring: state_dict keys and shapes of every model as they were
before model.py was split, and the public names where users import them (the import-circle check is
the core's layout check, in test_cli.py)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import event_lstm
import pytest
from event_lstm.builders import build_model, build_pretrain_model
from event_lstm.config import Config
from sigzoo_shared.config import replace

KEYS = json.loads((Path(__file__).parent / "state_dict_keys.json").read_text())

# the model sizes the stored key list was written with (the original's widths)
WIDTHS = {
    "hidden_size": 128,
    "num_layers": 2,
    "frontend_channels": 64,
    "cnn_channels": 8,
    "timing_head_dim": 32,
}


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
    not_models = {"__version__", "Config", "visualize_learned_templates"}
    not_models |= {"Event", "EventDetector", "load_pretrained", "load_run"}  # the Python API
    for name in set(event_lstm.__all__) - not_models:
        assert getattr(model, name) is getattr(event_lstm, name)
    for name in ("fractional_shift", "gaussian_timing_target", "refractory_penalty", "vae_loss"):
        assert callable(getattr(model, name))
