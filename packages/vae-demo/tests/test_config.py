"""Shipped YAMLs load; values out of range are errors that name the field."""

from pathlib import Path

import pytest
from sigzoo_shared import ConfigError
from sigzoo_shared.cli import packaged_config
from sigzoo_shared.config import load_config, to_dict
from vae_demo.cli import main
from vae_demo.config import Config, DataConfig, missing_stored_fields, stored_config

CONFIGS = Path(str(packaged_config("vae_demo"))).parent


@pytest.mark.parametrize("name", ["default.yaml", "seed.yaml", "demo.yaml"])
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
    assert (m.encoder_pool, m.keep_fraction, m.min_posterior_std) == ("stats", 0.75, 0.25)
    assert cfg.train.precise_bn_batches == 32 and m.center_input and not m.prior_components
    seed = load_config(Config, CONFIGS / "seed.yaml", base=CONFIGS / "default.yaml")
    assert seed.train.epochs == 600 and seed.model.reconstruct_time
    assert (seed.model.kl_warmup_epochs, seed.model.init_log_var, seed.model.free_bits) == (0, 0, 0)
    assert not seed.model.shift_tolerant
    m = seed.model
    assert (m.encoder_pool, m.keep_fraction, m.min_posterior_std) == ("flatten", 1.0, 0.0)
    assert not m.center_input
    assert seed.train.precise_bn_batches == 0
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
        ("model.prior_components=1", "model.prior_components"),
        ("model.floor_warmup=[5,2]", "model.floor_warmup"),
        ("model.floor_warmup=[1,2,3]", "model.floor_warmup"),
        ("model.floor_initial=1.5", "model.floor_initial"),
        ("model.mean_shift_weight=-1", "model.mean_shift_weight"),
        ("model.mean_shift_bandwidth=0", "model.mean_shift_bandwidth"),
        ("model.mean_shift_warmup=[15,10]", "model.mean_shift_warmup"),
        ("model.repulsion_weight=-1", "model.repulsion_weight"),
        ("model.encoder_taper=1.5", "model.encoder_taper"),
        ("model.spectral_weight=-0.5", "model.spectral_weight"),
        ("model.edge_swap=-1", "model.edge_swap"),
        ("model.edge_swap=64", "model.edge_swap"),
        ("model.repulsion_bandwidth=0", "model.repulsion_bandwidth"),
        ("model.repulsion_warmup=[4,2]", "model.repulsion_warmup"),
        ("model.extra_latent_dims=-1", "model.extra_latent_dims"),
        ("model.extra_latent_fade=[15,2]", "model.extra_latent_fade"),
        ("model.extra_latent_dims=2 model.prior_components=31", "model.extra_latent_dims"),
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


def test_a_stored_config_without_newer_fields_means_their_old_behaviour() -> None:
    stored = to_dict(Config())
    assert missing_stored_fields(stored) == [] and stored_config(stored, "run") == Config()
    for name in ("keep_fraction", "center_input", "encoder_pool", "free_bits"):
        del stored["model"][name]
    assert missing_stored_fields(stored) == [
        "model.keep_fraction=1.0",
        'model.encoder_pool="flatten"',
        "model.center_input=false",
        "model.free_bits=0.0",
    ]
    m = stored_config(stored, "run").model
    assert (m.keep_fraction, m.encoder_pool) == (1.0, "flatten")
    assert (m.center_input, m.free_bits) == (False, 0.0)
    assert m.min_posterior_std == Config().model.min_posterior_std  # present fields are kept
