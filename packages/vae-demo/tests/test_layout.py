"""The package has the shape docs/architecture.md promises, and `vae-demo config` shows every key."""

from __future__ import annotations

import yaml
from sigzoo_shared.config import load_config
from sigzoo_shared.layout import layout_problems
from sigzoo_shared.runs import config_dict
from vae_demo.cli import main
from vae_demo.config import Config


def test_the_package_has_the_promised_layout() -> None:
    assert layout_problems("vae_demo") == []


def test_config_verb_prints_every_key(capsys) -> None:
    assert main(["config", "model.beta=0.001"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    printed = {f"{section}.{key}": v for section, keys in shown.items() for key, v in keys.items()}
    expected = config_dict(load_config(Config, None, ["model.beta=0.001"]))
    assert set(printed) == set(expected) and printed["model.beta"] == 0.001


def test_config_verb_prints_a_runs_stored_config(tmp_path, capsys) -> None:
    assert main(["config", "train.epochs=7"]) == 0
    (tmp_path / "config.yaml").write_text(capsys.readouterr().out)
    assert main(["config", "--run-dir", str(tmp_path)]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["train"]["epochs"] == 7
