"""Settings of vae-demo: the generated series (`data.*`), the VAE (`model.*`), training (`train.*`, core).

Every global of the original notebook is a field here; the defaults below are ours (the CLI's too:
`configs/default.yaml` adds nothing), `configs/seed.yaml` sets the notebook's values. Cross-field
checks raise `ConfigError` naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from sigzoo_shared import ConfigError, TrainConfig
from sigzoo_shared.config import read_yaml


@dataclass
class DataConfig:
    """The synthetic series: repeating multi-channel sine patterns, a noise block, sliding windows."""

    series_path: Path | None = (
        None  # a series written by `vae-demo generate` (.npz/.csv); None = generate
    )
    n_patterns: int = 30
    n_features: int = 7  # signal channels per pattern
    pattern_len: int = 128  # samples per pattern block (1 s at fs_hz)
    fs_hz: float = 128.0
    n_sines: int = 5  # sines summed per channel of a pattern
    freq_min_hz: int = 1  # frequencies are whole Hz in [freq_min_hz, freq_max_hz]
    freq_max_hz: int = 30
    repeats: int = 10  # the concatenated patterns are tiled this many times
    noise_len: int = 10_000  # samples of Gaussian noise appended (the series' mean/std)
    time_encoding: bool = True  # append the time-encoding channel
    time_enc_l: list[int] = field(default_factory=lambda: [1])  # harmonics of the pattern period
    window: int = 128  # window length in samples (a multiple of 16, at most pattern_len)
    stride: int = 1  # window hop in samples
    extra_noise_std: float = 0.05  # Gaussian noise added to the scaled windows (signal channels)
    val_fraction: float = 0.2
    seed: int = 85  # generator seed (patterns, noise, shuffle, split)

    def __post_init__(self) -> None:
        problems = []
        n_freqs = self.freq_max_hz - self.freq_min_hz + 1
        for name in (
            "n_patterns",
            "n_features",
            "pattern_len",
            "n_sines",
            "repeats",
            "window",
            "stride",
        ):
            if getattr(self, name) < 1:
                problems.append(f"data.{name} must be >= 1, got {getattr(self, name)}")
        if self.freq_min_hz < 1 or n_freqs < 1:
            problems.append(
                f"data.freq_min_hz..freq_max_hz must be a range of whole Hz >= 1, got "
                f"{self.freq_min_hz}..{self.freq_max_hz}"
            )
        elif self.n_patterns > n_freqs:
            problems.append(
                f"data.n_patterns={self.n_patterns} is larger than the {n_freqs} available "
                f"frequencies ({self.freq_min_hz}-{self.freq_max_hz} Hz): every pattern needs "
                "its own leading frequency; raise data.freq_max_hz or lower data.n_patterns"
            )
        elif self.n_sines > n_freqs:
            problems.append(
                f"data.n_sines={self.n_sines} is larger than the {n_freqs} available "
                f"frequencies ({self.freq_min_hz}-{self.freq_max_hz} Hz)"
            )
        if self.freq_max_hz >= self.fs_hz / 2:
            problems.append(
                f"data.freq_max_hz={self.freq_max_hz} must be below Nyquist "
                f"(data.fs_hz/2 = {self.fs_hz / 2:g})"
            )
        if self.window > self.pattern_len:
            problems.append(
                f"data.window={self.window} is longer than a pattern block "
                f"(data.pattern_len={self.pattern_len}); use a window <= pattern_len"
            )
        if self.window % 16:
            problems.append(
                f"data.window={self.window} must be a multiple of 16 (the encoder halves it 3 "
                "times, the decoder doubles 4 times)"
            )
        if self.noise_len < 0:
            problems.append(f"data.noise_len must be >= 0, got {self.noise_len}")
        if self.extra_noise_std < 0:
            problems.append(f"data.extra_noise_std must be >= 0, got {self.extra_noise_std}")
        if not 0 < self.val_fraction < 1:
            problems.append(f"data.val_fraction must be in (0, 1), got {self.val_fraction}")
        if self.time_encoding and (not self.time_enc_l or min(self.time_enc_l) < 1):
            problems.append(f"data.time_enc_l must list harmonics >= 1, got {self.time_enc_l}")
        if problems:
            raise ConfigError("; ".join(problems))


@dataclass
class ModelConfig:
    """The VAE: min-spectrum encoder -> 2-D latent -> dense decoder by default; the original's
    attention-gated conv encoder and conv-transpose + GRU decoder with configs/attention-gru.yaml."""

    latent_dim: int = 2
    channels: int = 16  # conv filters in encoder and decoder
    kernel_size: int = 3
    n_heads: int = 4
    key_dim: int = 8  # per attention head
    dense_units: int = 8  # encoder dense layer before z_mean / z_log_var
    # what the encoder's dense layer sees: the flattened feature map (the original) or its mean and
    # std over time (statistics pooling: nearly blind to where in the window a pattern starts)
    encoder_pool: Literal["flatten", "stats"] = "stats"
    # the encoder sees x - 0.5 instead of the [0, 1] min-max-scaled window: with all-positive input a
    # first-layer filter whose weights sum negative is off for every window (a dead unit)
    center_input: bool = True
    # "min-spectrum": per channel and frequency the smallest magnitude over the window's 8
    # half-windows -> log -> two dense layers (model.SpectrumEncoder.magnitude says why: a window's
    # minority neighbour drops out); "spectrum": the whole window's log magnitude spectrum, the
    # previous default, a little cheaper and a little lower in ARI; "attention": 3 x [conv -> BN ->
    # gated self-attention] (the original). With the dense decoder ~26-33x cheaper per step than the
    # original's pair (configs/attention-gru.yaml; their ARI side by side: docs/vae-demo.md, "Speed")
    encoder: Literal["attention", "spectrum", "min-spectrum"] = "min-spectrum"
    spectrum_units: int = 128  # hidden width of the spectrum encoder
    # "dense": z -> two ReLU layers -> every sample at once; "gru": dense -> 4 transposed convs -> GRU
    # over every step -> attention gate -> conv (the original; ~95 % of its training step)
    decoder: Literal["gru", "dense"] = "dense"
    dense_decoder_units: int = 256  # hidden width of the dense decoder
    gru_units: int = 128  # (decoder=gru)
    out_kernel_size: int = 5  # (decoder=gru)
    time_bypass: bool = (
        False  # encoder sees signal only; last time value goes straight to the decoder
    )
    reconstruct_time: bool = (
        False  # decoder also reconstructs the time-encoding channel (the original)
    )
    beta: float = 0.0002  # KL weight against the per-element mean squared reconstruction error
    kl_warmup_epochs: float = 10.0  # beta rises linearly from 0 over this many epochs (0 = off)
    init_log_var: float = -6.0  # initial bias of z_log_var (0 = the original's default init)
    # floor on the posterior std: sigma^2 = sigma_learned^2 + min_posterior_std^2 (0 = off). Noise the
    # decoder must tolerate; patterns then pay to sit apart, and a pattern's windows to sit together.
    # 0.35 for the dense decoder, which at 0.25 spends the latent on detail within a pattern and
    # merges patterns; 0.25 for the original's layers (configs/attention-gru.yaml)
    min_posterior_std: float = 0.35
    # nats per latent dimension exempt from the KL penalty (0 = off): without them the posterior
    # collapses; 4 leaves room for 31 clusters apart by more than the floor's noise
    free_bits: float = 4.0
    # reconstruction error of the best cyclic shift of the output (needs window == pattern_len)
    shift_tolerant: bool = True
    # fraction of time steps, the best-fitting ones, the shift-tolerant error is averaged over (1 = all)
    keep_fraction: float = 0.75
    # weight of the magnitude-spectrum error added to the reconstruction error (model.spectral_errors;
    # 0 = off; 1 = on the time-domain error's scale). Why: the aligned shift-tolerant error is
    # indifferent between naming a window by its majority pattern and by the junction it holds (its
    # start block); in spectrum space majority groups are the tighter ones (docs/vae-demo.md)
    spectral_weight: float = 1.0

    def __post_init__(self) -> None:
        problems = []
        for name in (
            "latent_dim",
            "channels",
            "kernel_size",
            "n_heads",
            "key_dim",
            "dense_units",
            "gru_units",
            "out_kernel_size",
            "dense_decoder_units",
            "spectrum_units",
        ):
            if getattr(self, name) < 1:
                problems.append(f"model.{name} must be >= 1, got {getattr(self, name)}")
        if self.kernel_size % 2 == 0 or self.out_kernel_size % 2 == 0:
            problems.append(
                "model.kernel_size and model.out_kernel_size must be odd (same-length padding)"
            )
        if self.kl_warmup_epochs < 0:
            problems.append(f"model.kl_warmup_epochs must be >= 0, got {self.kl_warmup_epochs}")
        if self.beta < 0:
            problems.append(f"model.beta must be >= 0, got {self.beta}")
        if self.free_bits < 0:
            problems.append(f"model.free_bits must be >= 0, got {self.free_bits}")
        if not 0 <= self.min_posterior_std < 1:
            problems.append(
                f"model.min_posterior_std must be in [0, 1) (the prior's std is 1), "
                f"got {self.min_posterior_std}"
            )
        if self.spectral_weight < 0:
            problems.append(f"model.spectral_weight must be >= 0, got {self.spectral_weight}")
        if not 0 < self.keep_fraction <= 1:
            problems.append(f"model.keep_fraction must be in (0, 1], got {self.keep_fraction}")
        if self.keep_fraction < 1 and not self.shift_tolerant:
            problems.append(
                f"model.keep_fraction={self.keep_fraction} < 1 needs model.shift_tolerant=true "
                "(the plain error averages every step: add model.keep_fraction=1)"
            )
        if problems:
            raise ConfigError("; ".join(problems))


@dataclass
class PlotConfig:
    """Per-epoch monitoring: figures, clustering metrics, TensorBoard embedding, the final GIF."""

    every_n_epochs: int = 1  # figures and the TensorBoard embedding: every n epochs and the last
    metrics_every_n_epochs: int = 1  # clustering metrics every n epochs and at the last
    latent_scatter: bool = True  # needs model.latent_dim == 2
    max_points: int = 5000  # validation windows drawn/encoded per epoch (all if fewer)
    embedding_points: int = 2000  # windows sent to the TensorBoard projector each epoch (0 = off)
    silhouette_points: int = 3000
    gif: bool = True
    gif_frame_ms: int = 400
    sample_index: int = 0  # validation window shown in the reconstruction plot

    def __post_init__(self) -> None:
        if (
            min(self.every_n_epochs, self.metrics_every_n_epochs) < 1
            or self.max_points < 10
            or self.silhouette_points < 10
        ):
            raise ConfigError(
                "plot.every_n_epochs and plot.metrics_every_n_epochs must be >= 1, "
                "plot.max_points and plot.silhouette_points >= 10"
            )


def _train_defaults() -> TrainConfig:
    return TrainConfig(
        epochs=30,
        batch_size=256,
        optimizer="adamw",
        lr=1e-3,
        weight_decay=0.004,  # Keras AdamW's default, as the original
        monitor="val_loss",
        # after each epoch, BatchNorm statistics from 32 batches with the epoch's final weights: the
        # moving averages lag the weights, and eval-mode outputs jumped at some epochs
        precise_bn_batches=32,
        seed=85,
    )


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    plot: PlotConfig = field(default_factory=PlotConfig)
    train: TrainConfig = field(default_factory=_train_defaults)

    def __post_init__(self) -> None:
        if self.model.time_bypass and not self.data.time_encoding:
            raise ConfigError(
                "model.time_bypass=true needs data.time_encoding=true (the bypass feeds the "
                "time channel to the decoder)"
            )
        if self.model.shift_tolerant and self.data.window != self.data.pattern_len:
            raise ConfigError(
                f"model.shift_tolerant=true needs data.window == data.pattern_len (the cyclic shift "
                f"assumes a window holds one pattern period), got window={self.data.window}, "
                f"pattern_len={self.data.pattern_len}"
            )
        if self.model.reconstruct_time and not self.data.time_encoding:
            raise ConfigError("model.reconstruct_time=true needs data.time_encoding=true")
        if self.plot.latent_scatter and self.model.latent_dim != 2:
            raise ConfigError(
                f"plot.latent_scatter=true needs model.latent_dim=2, got "
                f"{self.model.latent_dim}; set plot.latent_scatter=false"
            )


# Runs made before today's settings are read by this commit (docs/lab/vae-demo.md holds the results
# of the options measured and removed since)
HISTORY_COMMIT = "3358086"
# Keys a run may lack: runs made before the encoder/decoder choice all had the original's layers,
# the defaults of that time; `stored_layers` gives those values back (they are no longer the defaults)
PRE_CHOICE_LAYERS: dict[str, Any] = {
    "encoder": "attention",
    "spectrum_units": 128,
    "decoder": "gru",
    "dense_decoder_units": 256,
}
LAYER_KEYS = tuple(PRE_CHOICE_LAYERS)
# The last commit whose defaults were the original's layers: it resumes runs that predate the choice
PRE_CHOICE_COMMIT = "2307f93"


def stored_layers(stored: Mapping[str, Any]) -> dict[str, Any]:
    """The layer keys a stored config (`{"model": ...}`) lacks, with the values its run had.

    Runs made before `model.encoder` / `model.decoder` existed all had the original's layers; read
    with today's defaults they would be rebuilt with other layers and their weights would not fit.
    """
    model = stored.get("model") or {}
    return {k: v for k, v in PRE_CHOICE_LAYERS.items() if k not in model}


def _package_train_keys() -> list[str]:
    """`train` fields whose default here differs from the core's: a stored run must state them."""
    ours, core = _train_defaults(), TrainConfig()
    return [f.name for f in fields(TrainConfig) if getattr(ours, f.name) != getattr(core, f.name)]


def check_stored_config(stored: Mapping[str, Any], source: str) -> None:
    """Refuse a stored config that today's code would turn into another model than the run's.

    A model key it does not know (an option measured and removed) or lacks (the run predates the
    setting, whose default has changed since) would be dropped or defaulted silently: ConfigError
    naming the keys and the commit that still reads the run.
    """
    model = stored.get("model") or {}
    known = [f.name for f in fields(ModelConfig)]
    used = [f"model.{k}={json.dumps(v)}" for k, v in model.items() if k not in known]
    if used:
        raise ConfigError(
            f"{source}: the run used {', '.join(used)}, an option measured and removed "
            f"(docs/lab/vae-demo.md); resume or evaluate it with vae-demo at commit {HISTORY_COMMIT}"
        )
    train = stored.get("train") or {}
    missing = [f"model.{k}" for k in known if k not in model]
    missing += [f"train.{k}" for k in _package_train_keys() if k not in train]
    missing = [k for k in missing if k.removeprefix("model.") not in LAYER_KEYS]
    if missing:
        raise ConfigError(
            f"{source}: no {', '.join(missing)}: the run predates these settings, whose defaults "
            f"have changed since; resume or evaluate it with vae-demo at commit {HISTORY_COMMIT}"
        )


def check_run(run_or_checkpoint: Path | str, resuming: bool = False) -> None:
    """`check_stored_config` on the config.yaml of a run (given as its folder or a checkpoint in it).

    Cheap, so `train --resume` and every loader call it before touching data; a checkpoint kept
    without its run folder is checked by the core's loader alone. With `resuming`, a run without
    the layer keys is refused too: resuming rebuilds the model from today's defaults (loading and
    scoring such a run read its layers with `stored_layers`).
    """
    path = Path(run_or_checkpoint)
    for folder in (path,) if path.is_dir() else (path.parent, path.parent.parent):
        stored = folder / "config.yaml"
        if stored.is_file():
            values = read_yaml(stored)
            check_stored_config(values, str(stored))
            missing = ", ".join(f"model.{k}" for k in stored_layers(values))
            if resuming and missing:
                raise ConfigError(
                    f"{stored}: no {missing}: the run predates the layer choice and has the "
                    f"original's layers, no longer the defaults; resume it with vae-demo at commit "
                    f"{PRE_CHOICE_COMMIT} (this version scores and encodes it)"
                )
            return
