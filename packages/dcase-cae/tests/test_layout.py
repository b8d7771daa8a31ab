"""The shape every package promises, and the common verbs (config, sweep, summarize)."""

from __future__ import annotations

import yaml
from dcase_cae.cli import main
from dcase_cae.config import Config
from sigzoo_shared.config import to_dict
from sigzoo_shared.layout import layout_problems


def test_module_map_public_names_and_no_import_circle() -> None:
    assert layout_problems("dcase_cae") == []


def test_config_verb_prints_every_key(capsys) -> None:
    assert main(["config", "--show", "train.lr=0.01"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    expected = to_dict(Config())
    assert set(shown) == set(expected)
    assert all(set(shown[k]) == set(expected[k]) for k in expected if isinstance(expected[k], dict))
    assert shown["train"]["lr"] == 0.01
