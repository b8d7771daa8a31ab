"""The package has the shape docs/architecture.md promises, and `ecg-vqvae config` shows every key."""

from __future__ import annotations

import subprocess
import sys

import yaml
from ecg_vqvae.cli import main
from ecg_vqvae.config import Config
from sigzoo_shared.config import load_config
from sigzoo_shared.layout import cli_problems, layout_problems
from sigzoo_shared.runs import config_dict


def _flat(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_the_package_has_the_promised_layout() -> None:
    assert layout_problems("ecg_vqvae") == []


def test_config_verb_prints_every_key(capsys) -> None:
    assert main(["config", "forecast.train.lr=0.002", "evaluate.n_samples=4"]) == 0
    printed = _flat(yaml.safe_load(capsys.readouterr().out))
    expected = config_dict(
        load_config(Config, None, ["forecast.train.lr=0.002", "evaluate.n_samples=4"])
    )
    assert set(printed) == set(expected)
    assert printed["forecast.train.lr"] == 0.002 and printed["evaluate.n_samples"] == 4


def test_the_cli_keeps_the_promises_every_package_makes() -> None:
    """One source of defaults, every key shown with overrides, --help and import without torch."""
    assert cli_problems("ecg_vqvae", Config, main, ["forecast.train.lr=0.002"]) == []


def test_help_does_not_import_torch() -> None:
    code = (
        "import sys; from ecg_vqvae.cli import build_parser; build_parser(); "
        "import ecg_vqvae; ecg_vqvae.__version__; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
