"""The package has the zoo's shape, and `resp-mhavae config` shows every key a user can set."""

import dataclasses

import yaml
from resp_mhavae.cli import main
from resp_mhavae.config import Config
from sigzoo_shared.layout import cli_problems, layout_problems


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


def test_one_source_of_defaults_every_key_shown_and_help_without_torch() -> None:
    """`Config()` trains what the CLI does; `config` shows every key, overrides applied."""
    assert cli_problems("resp_mhavae", Config, main, ["model.code_size=7", "lstm.epochs=3"]) == []
    assert Config().data.l_win == 96


def test_config_verb_shows_what_an_original_flat_json_becomes(tmp_path, capsys) -> None:
    path = tmp_path / "mha_vae_lstm_config.json"
    path.write_text('{"l_win": 24, "code_size": 6, "threshold_percent": 85}')
    assert main(["config", "--config", str(path)]) == 0
    shown = _flat(yaml.safe_load(capsys.readouterr().out))
    assert (shown["data.l_win"], shown["model.code_size"]) == (24, 6)
    assert shown["detect.threshold_percent"] == 85.0
