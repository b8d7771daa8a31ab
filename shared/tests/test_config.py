"""Config: layered YAML + overrides into typed dataclasses, every mistake named with its file and key."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest
from sigzoo_shared.config import (
    TrainConfig,
    from_dict,
    load_config,
    parse_overrides,
    save_config,
    to_dict,
)
from sigzoo_shared.errors import ConfigError


@dataclass
class ModelConfig:
    latent_dim: int = 16
    kind: Literal["cae", "dense_ae"] = "cae"
    dropout: float = 0.2
    widths: list[int] = field(default_factory=lambda: [32, 64])


@dataclass
class DataConfig:
    root: Path | None = None
    sample_rate_hz: int = 16000


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_run_without_any_file() -> None:
    cfg = load_config(Config)
    assert cfg.model.latent_dim == 16 and cfg.train.lr == 1e-3 and cfg.data.root is None


def test_layers_defaults_base_file_overrides(tmp_path: Path) -> None:
    base = write(tmp_path, "default.yaml", "model:\n  latent_dim: 40\ntrain:\n  epochs: 100\n")
    user = write(tmp_path, "fan.yaml", "model:\n  latent_dim: 8\ndata:\n  root: /data/fan\n")
    cfg = load_config(Config, user, ["train.lr=3e-4", "model.kind=dense_ae"], base=base)
    assert cfg.model.latent_dim == 8  # user file beats package default
    assert cfg.train.epochs == 100  # package default beats dataclass default
    assert cfg.train.lr == pytest.approx(3e-4) and isinstance(cfg.train.lr, float)
    assert cfg.model.kind == "dense_ae"
    assert cfg.data.root == Path("/data/fan")


def test_unknown_key_names_file_and_suggests(tmp_path: Path) -> None:
    user = write(tmp_path, "fan.yaml", "model:\n  latnet_dim: 8\n")
    with pytest.raises(
        ConfigError,
        match=r"fan\.yaml: unknown key 'model\.latnet_dim' \(did you mean "
        r"'model\.latent_dim'\?\)",
    ):
        load_config(Config, user)


def test_all_errors_reported_at_once() -> None:
    with pytest.raises(ConfigError) as err:
        load_config(
            Config, None, ["model.latent_dim=abc", "train.optimizer=adamm", "model.dropot=0.1"]
        )
    message = str(err.value)
    assert "model.latent_dim: expected an integer, got 'abc'" in message
    assert "'adamm' is not one of" in message and "did you mean 'adam'" in message
    assert "unknown key 'model.dropot'" in message


def test_types_are_checked_and_coerced() -> None:
    cfg = from_dict(
        Config, {"model": {"dropout": 1, "widths": [8, 16, 32]}, "train": {"betas": [0.5, 0.9]}}
    )
    assert cfg.model.dropout == 1.0 and isinstance(cfg.model.dropout, float)
    assert cfg.train.betas == (0.5, 0.9)
    with pytest.raises(ConfigError, match=r"train\.betas: expected 2 values"):
        from_dict(Config, {"train": {"betas": [0.5]}})
    with pytest.raises(ConfigError, match=r"model\.widths\[1\]: expected an integer"):
        from_dict(Config, {"model": {"widths": [8, "x"]}})
    with pytest.raises(ConfigError, match=r"train\.deterministic: expected true or false"):
        from_dict(Config, {"train": {"deterministic": "yes please"}})


def test_value_range_checked_in_post_init() -> None:
    with pytest.raises(ConfigError, match=r"train\.batch_size must be >= 1, got 0"):
        load_config(Config, None, ["train.batch_size=0"])


def test_override_syntax_errors() -> None:
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        parse_overrides(["train.lr"])
    assert parse_overrides(["a.b=3", "a.c=[1, 2]", "d=null"]) == {
        "a": {"b": 3, "c": [1, 2]},
        "d": None,
    }


def test_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(Config, write(tmp_path, "bad.yaml", "model: [unclosed\n"))
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(Config, tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="expected a mapping at the top level"):
        load_config(Config, write(tmp_path, "list.yaml", "- 1\n- 2\n"))


def test_yaml_is_read_safely(tmp_path: Path) -> None:
    evil = write(tmp_path, "evil.yaml", "model: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(Config, evil)


def test_json_config_accepted(tmp_path: Path) -> None:
    cfg = load_config(Config, write(tmp_path, "c.json", '{"model": {"latent_dim": 4}}'))
    assert cfg.model.latent_dim == 4


def test_saved_config_round_trips(tmp_path: Path) -> None:
    cfg = load_config(Config, None, ["model.latent_dim=5", "data.root=/x"])
    path = save_config(cfg, tmp_path / "config.yaml")
    again = load_config(Config, path)
    assert again == cfg
    assert to_dict(again)["data"]["root"] == "/x"


@dataclass
class PackageConfig:
    """A package whose defaults differ from the core's TrainConfig defaults."""

    model: ModelConfig = field(default_factory=lambda: ModelConfig(latent_dim=4, dropout=0.0))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(lr=5e-4, epochs=7))


def test_partial_section_keeps_the_owners_defaults(tmp_path: Path) -> None:
    user = write(tmp_path, "user.yaml", "train:\n  batch_size: 8\nmodel:\n  kind: dense_ae\n")
    cfg = load_config(PackageConfig, user, ["train.seed=3"])
    # keys the user did not give keep the package's defaults, not TrainConfig's bare ones
    assert cfg.train.lr == pytest.approx(5e-4) and cfg.train.epochs == 7
    assert cfg.train.batch_size == 8 and cfg.train.seed == 3
    assert cfg.model.latent_dim == 4 and cfg.model.dropout == 0.0 and cfg.model.kind == "dense_ae"


def test_a_mapping_base_is_named_in_errors() -> None:
    from sigzoo_shared.config import TrainConfig, load_config
    from sigzoo_shared.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^run/best.pt \(stored config\): .*epochs"):
        load_config(
            TrainConfig,
            None,
            [],
            base={"epochs": "many"},
            base_source="run/best.pt (stored config)",
        )
