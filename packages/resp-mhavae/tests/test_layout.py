"""The package has the zoo's shape, and `resp-mhavae config` shows every key a user can set."""

import dataclasses
import subprocess
import sys

import yaml
from resp_mhavae.cli import main
from resp_mhavae.config import Config
from sigzoo_shared.layout import layout_problems


def _keys(cls: type, prefix: str = "") -> set[str]:
    out: set[str] = set()
    for field in dataclasses.fields(cls):
        default = (
            field.default_factory()  # type: ignore[misc]
            if field.default_factory is not dataclasses.MISSING
            else field.default
        )
        if dataclasses.is_dataclass(default):
            out |= _keys(type(default), f"{prefix}{field.name}.")
        else:
            out.add(f"{prefix}{field.name}")
    return out


def _flat(tree: dict, prefix: str = "") -> dict:
    out: dict = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_layout_has_no_problems() -> None:
    assert layout_problems("resp_mhavae") == []


def test_config_verb_prints_every_key_with_overrides_applied(capsys) -> None:
    assert main(["config", "model.code_size=7", "lstm.epochs=3"]) == 0
    shown = _flat(yaml.safe_load(capsys.readouterr().out))
    assert set(shown) == _keys(Config)
    assert shown["model.code_size"] == 7
    assert shown["lstm.epochs"] == 3


def test_help_does_not_import_torch() -> None:
    code = "import sys, resp_mhavae.cli as c, resp_mhavae as p; p.__version__; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_config_verb_shows_what_an_original_flat_json_becomes(tmp_path, capsys) -> None:
    path = tmp_path / "mha_vae_lstm_config.json"
    path.write_text('{"l_win": 24, "code_size": 6, "threshold_percent": 85}')
    assert main(["config", "--config", str(path)]) == 0
    shown = _flat(yaml.safe_load(capsys.readouterr().out))
    assert (shown["data.l_win"], shown["model.code_size"]) == (24, 6)
    assert shown["detect.threshold_percent"] == 85.0
