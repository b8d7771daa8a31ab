"""The package has the shape docs/architecture.md promises, and the CLI keeps the promises every package makes."""

from __future__ import annotations

import yaml
from sigzoo_shared.layout import cli_problems, layout_problems
from vae_demo.cli import main
from vae_demo.config import Config


def test_the_package_has_the_promised_layout() -> None:
    assert layout_problems("vae_demo") == []


def test_one_source_of_defaults_every_key_shown_and_help_without_torch() -> None:
    """`Config()` trains what `vae-demo train` does; `config` shows every key, overrides applied."""
    assert cli_problems("vae_demo", Config, main, ["model.beta=0.001", "train.epochs=7"]) == []


def test_config_verb_prints_a_runs_stored_config(tmp_path, capsys) -> None:
    assert main(["config", "train.epochs=7"]) == 0
    (tmp_path / "config.yaml").write_text(capsys.readouterr().out)
    assert main(["config", "--run-dir", str(tmp_path)]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["train"]["epochs"] == 7
