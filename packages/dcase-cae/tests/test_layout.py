"""The shape every package promises, and the CLI promises every package keeps (the core's checks)."""

from __future__ import annotations

from dcase_cae.cli import main
from dcase_cae.config import Config
from sigzoo_shared.layout import cli_problems, layout_problems


def test_module_map_public_names_and_no_import_circle() -> None:
    assert layout_problems("dcase_cae") == []


def test_one_source_of_defaults_every_key_shown_and_help_without_torch() -> None:
    """`Config()` is what `dcase-cae train` builds with no arguments; `config` shows every key."""
    assert cli_problems("dcase_cae", Config, main, ["train.lr=0.01", "model.name=cae"]) == []
