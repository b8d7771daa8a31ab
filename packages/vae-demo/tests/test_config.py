"""Shipped YAMLs load; values out of range are errors that name the field."""

from pathlib import Path

import pytest
from sigzoo_shared import ConfigError
from sigzoo_shared.cli import packaged_config
from sigzoo_shared.config import from_dict, load_config, to_dict
from vae_demo.cli import main
from vae_demo.config import (
    HISTORY_COMMIT,
    LAYER_KEYS,
    Config,
    DataConfig,
    check_stored_config,
)

CONFIGS = Path(str(packaged_config("vae_demo"))).parent


@pytest.mark.parametrize("name", ["default.yaml", "seed.yaml", "demo.yaml", "attention-gru.yaml"])
def test_each_shipped_yaml_loads(name: str) -> None:
    cfg = load_config(Config, CONFIGS / name, base=CONFIGS / "default.yaml")
    assert cfg.data.window <= cfg.data.pattern_len
    assert cfg.model.latent_dim == 2


def test_defaults_reproduce_the_original_globals() -> None:
    cfg = load_config(Config, base=CONFIGS / "default.yaml")
    d = cfg.data
    assert (d.n_patterns, d.n_features, d.pattern_len, d.repeats, d.noise_len, d.seed) == (
        30,
        7,
        128,
        10,
        10_000,
        85,
    )
    assert (cfg.train.batch_size, cfg.train.optimizer, cfg.train.lr) == (256, "adamw", 1e-3)
    m = cfg.model  # our options, on by default (docs/vae-demo.md)
    assert (m.encoder_pool, m.keep_fraction, m.min_posterior_std) == ("stats", 0.75, 0.35)
    assert cfg.train.precise_bn_batches == 32 and m.center_input
    seed = load_config(Config, CONFIGS / "seed.yaml", base=CONFIGS / "default.yaml")
    assert seed.train.epochs == 600 and seed.model.reconstruct_time
    assert (seed.model.kl_warmup_epochs, seed.model.init_log_var, seed.model.free_bits) == (0, 0, 0)
    assert not seed.model.shift_tolerant
    m = seed.model
    assert (m.encoder_pool, m.keep_fraction, m.min_posterior_std) == ("flatten", 1.0, 0.0)
    assert not m.center_input
    assert seed.train.precise_bn_batches == 0
    assert (cfg.model.encoder, cfg.model.decoder) == ("min-spectrum", "dense")
    assert (seed.model.encoder, seed.model.decoder) == ("attention", "gru")
    # the default before issue 33: the original's layers with the floor tuned for them
    old = load_config(Config, CONFIGS / "attention-gru.yaml", base=CONFIGS / "default.yaml")
    assert (old.model.encoder, old.model.decoder, old.model.min_posterior_std) == (
        "attention",
        "gru",
        0.25,
    )
    assert old.data == cfg.data and old.train == cfg.train  # only the model differs
    assert seed.model.beta == pytest.approx(1 / (256 * 128))


@pytest.mark.parametrize(
    "override, field",
    [
        ("data.window=256", "data.window"),  # longer than a pattern block
        ("data.n_patterns=31", "data.n_patterns"),  # more patterns than frequencies 1-30 Hz
        ("model.latent_dim=3", "model.latent_dim"),  # the scatter needs 2-D
        ("data.window=100", "data.window"),  # not a multiple of 16
        ("model.time_bypass=true", "data.time_encoding"),
        ("data.window=64 model.shift_tolerant=true", "model.shift_tolerant"),  # not one period
        ("model.keep_fraction=0", "model.keep_fraction"),
        ("model.shift_tolerant=false", "model.keep_fraction"),  # the default trims (0.75)
        ("model.min_posterior_std=-0.1", "model.min_posterior_std"),
        ("model.min_posterior_std=1.5", "model.min_posterior_std"),
        ("model.spectral_weight=-0.5", "model.spectral_weight"),
    ],
)
def test_out_of_range_values_name_the_field(override: str, field: str) -> None:
    extra = ["data.time_encoding=false"] if "bypass" in override else []
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        load_config(Config, overrides=[*override.split(), *extra], base=CONFIGS / "default.yaml")


def test_a_latent_of_three_is_fine_without_the_scatter() -> None:
    cfg = load_config(Config, overrides=["model.latent_dim=3", "plot.latent_scatter=false"])
    assert cfg.model.latent_dim == 3


def test_cli_reports_a_bad_value_in_one_line(capsys) -> None:
    assert main(["generate", "--run-dir", "unused", "data.n_patterns=40"]) == 2
    err = capsys.readouterr().err
    assert "data.n_patterns=40" in err and "Traceback" not in err


def test_dataclass_checks_directly() -> None:
    with pytest.raises(ConfigError, match="freq_max_hz"):
        DataConfig(freq_max_hz=64)


def test_a_run_made_with_todays_settings_passes_the_stored_config_check() -> None:
    check_stored_config(to_dict(Config()), "run")
    stored = to_dict(Config())
    del stored["train"]["log_every_n_steps"]  # a core field the package leaves at its default
    check_stored_config(stored, "run")


@pytest.mark.parametrize(
    "option, value",
    [("encoder_taper", 0.25), ("encoder_taper", 0.0), ("floor_warmup", [2.0, 8.0])],
)
def test_a_run_that_used_a_removed_option_is_refused_naming_it(option, value) -> None:
    """Also at the value that meant off: today's code cannot tell what else that run's code did."""
    stored = to_dict(Config())
    stored["model"][option] = value
    with pytest.raises(ConfigError, match=rf"model\.{option}=.*commit {HISTORY_COMMIT}"):
        check_stored_config(stored, "runs/x/config.yaml")


def test_a_run_older_than_a_setting_is_refused_naming_it() -> None:
    stored = to_dict(Config())
    del stored["model"]["spectral_weight"]
    del stored["train"]["precise_bn_batches"]
    with pytest.raises(ConfigError, match=r"model\.spectral_weight, train\.precise_bn_batches"):
        check_stored_config(stored, "runs/x/config.yaml")


def test_a_run_older_than_the_layer_choice_is_read_with_the_original_layers() -> None:
    """Runs before model.encoder/model.decoder all had the original's layers, no longer the
    defaults: the check accepts them and `with_stored_layers` gives their layers back."""
    from vae_demo.evaluate import with_stored_layers

    stored = to_dict(Config())
    for key in LAYER_KEYS:
        del stored["model"][key]
    check_stored_config(stored, "runs/x/config.yaml")
    rebuilt = with_stored_layers(from_dict(Config, stored), {"config": stored})
    assert (rebuilt.model.encoder, rebuilt.model.decoder) == ("attention", "gru")
    assert with_stored_layers(Config(), {"config": to_dict(Config())}) == Config()
