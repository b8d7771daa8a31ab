"""Settings of vae-demo: the generated series (`data.*`), the VAE (`model.*`), training (`train.*`, core).

Every global of the original notebook is a field here; `configs/seed.yaml` sets them to the notebook's
values, `configs/default.yaml` to ours. Cross-field checks raise `ConfigError` naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sigzoo_shared import ConfigError, TrainConfig
from sigzoo_shared.config import from_dict, merge


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
    """The VAE: attention-gated conv encoder -> 2-D latent -> conv-transpose + GRU decoder."""

    latent_dim: int = 2
    channels: int = 16  # conv filters in encoder and decoder
    kernel_size: int = 3
    n_heads: int = 4
    key_dim: int = 8  # per attention head
    dense_units: int = 8  # encoder dense layer before z_mean / z_log_var
    # what the encoder's dense layer sees: the flattened feature map (the original) or its mean and
    # std over time (statistics pooling, our default; nearly blind to where in the window a pattern
    # starts)
    encoder_pool: Literal["flatten", "stats"] = "stats"
    # the encoder sees x - 0.5 instead of the [0, 1] min-max-scaled window: with all-positive input a
    # first-layer filter whose weights sum negative is off for every window (a dead unit)
    center_input: bool = True
    # the encoder sees the window through a Tukey window of this taper fraction (0 = off, 1 = Hann):
    # its edges fade out. Why: a stride-1 window holds one junction between two consecutive patterns,
    # and an encoder free to key on a few samples of the neighbour at an edge can group windows by
    # junction (by start block) instead of by majority pattern, a partition the shift-tolerant loss
    # does not penalise (docs/vae-demo-experiments.md "Which junction, or which majority"). Measured,
    # off: a Hann window slowed learning (ARI 0.53 / 0.30 at epoch 11 against 0.83 / 0.85), 0.25 kept
    # pace but put more blocks at the block start (20 of 30 at epoch 13)
    encoder_taper: float = 0.0
    # training only: the first a and last b samples (a, b uniform in 0..edge_swap) of each window's
    # signal channels are replaced, in the encoder's input, by those of another window of the batch
    # (model.swap_edges; 0 = off): the encoder learns to ignore the edges, against the junction
    # partition, and still sees the whole window. Measured, off: 16 was behind the default at epoch 7
    edge_swap: int = 0
    gru_units: int = 128
    out_kernel_size: int = 5
    # the encoder reads the time-encoding channel (the original). false: it sees the signal channels
    # only, and unlike the bypass the decoder gets no time value either. Why: with the time channel
    # the encoder can tell where in the window the pattern block starts and name a window by the
    # block it starts in (which pattern precedes the time channel's peak) instead of by its majority
    # (docs/vae-demo-experiments.md "Which junction, or which majority"). Measured on the default data's
    # training seeds 86 / 87: ARI 0.851 / 0.870 against 0.842 / 0.880 (fewer windows named by start
    # block, more strokes), so the original's true stays
    encoder_time: bool = True
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
    # decoder must tolerate; patterns then pay to sit apart, and a pattern's windows to sit together
    min_posterior_std: float = 0.25
    # the floor is floor_initial until epoch floor_warmup[0], then moves linearly to min_posterior_std
    # by epoch floor_warmup[1] ([0, 0] = min_posterior_std from the start). Why: with the floor from
    # the start, two patterns that land together early stay merged (the decoder cannot tell them apart,
    # so nothing pulls them apart). From 0: every pattern first gets its own region, then the floor
    # gathers; from above: coarse groups first that split as the floor falls (deterministic annealing)
    floor_warmup: tuple[float, float] = (0.0, 0.0)
    floor_initial: float = 0.0
    # nats per latent dimension exempt from the KL penalty (0 = off). 4 (2 until 2026-12-06): room for
    # 31 clusters apart by more than the floor's noise; the weak seeds merged fewer neighbours
    free_bits: float = 4.0
    # prior over z: 0 = N(0, I) (the original); K >= 2 = a learned mixture of K Gaussians, whose KL
    # term pulls each window's z towards the nearest component (a clustering prior)
    prior_components: int = 0
    # reconstruction error of the best cyclic shift of the output (needs window == pattern_len)
    shift_tolerant: bool = True
    # fraction of time steps, the best-fitting ones, the shift-tolerant error is averaged over (1 = all)
    keep_fraction: float = 0.75
    # weight of the magnitude-spectrum error added to the reconstruction error (model.spectral_errors;
    # 0 = off; 1 = on the time-domain error's scale). Why: the aligned shift-tolerant error is
    # indifferent between naming a window by its majority pattern and by the junction it holds (its
    # start block), and the weakest run without it named the windows of 15 of 30 pattern blocks by
    # junction; in spectrum space majority groups are a third tighter (scripts/partition_spread.py).
    # Measured on the default data's training seeds 85-87: ARI 0.944 ± 0.024 with it, 0.885 ± 0.037
    # without, 0-2 blocks named by junction (docs/vae-demo-experiments.md "A spectral term")
    spectral_weight: float = 1.0
    # weight of a label-free pull of each window's z_mean one mean-shift step up the density of its
    # batch's z_means (model.mean_shift_pull; 0 = off): windows trailing between two clusters are drawn
    # into the denser one, a cluster's windows towards its mode. Bandwidth in units of the batch's
    # latent spread (clusters further apart than ~3 bandwidths do not pull on each other)
    mean_shift_weight: float = 0.0
    mean_shift_bandwidth: float = 0.1
    # the weight is 0 until epoch mean_shift_warmup[0] and full from epoch mean_shift_warmup[1]: the
    # clusters must exist before pulling windows into them helps (from epoch 5 was too early: it joined
    # clusters that were still close; docs/vae-demo-experiments.md "A mean-shift pull")
    mean_shift_warmup: tuple[float, float] = (5.0, 10.0)

    # weight of a label-free push between nearby z_means of windows whose inputs differ (shift-tolerant,
    # trimmed), noise windows exempt (model.content_repulsion; 0 = off): against consecutive patterns
    # that land close together early and stay merged. Bandwidth in units of the batch's latent spread
    repulsion_weight: float = 0.0
    repulsion_bandwidth: float = 0.15
    # the weight is 0 until epoch repulsion_warmup[0] and full from epoch repulsion_warmup[1]: from the
    # first step, the term (scale-free) held the still tiny latent at the origin (KL 1.9 nats after two
    # epochs against 3.5 without it); by epoch 2 the latent has spread
    repulsion_warmup: tuple[float, float] = (2.0, 4.0)
    # latent dimensions beyond latent_dim that exist only early in training (0 = off): the decoder sees
    # them scaled by a factor that falls from 1 to 0 over epochs extra_latent_fade[0] .. [1], so at the
    # end the model is a latent_dim-D VAE. Why: in 2-D two clusters that land on top of each other can
    # only separate by passing through the others; with room in more dimensions they can, and the fade
    # then presses the arrangement into the plane
    extra_latent_dims: int = 0
    extra_latent_fade: tuple[float, float] = (2.0, 15.0)

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
        # epoch windows of a Ramp (train.py)
        for name in ("floor_warmup", "mean_shift_warmup", "repulsion_warmup", "extra_latent_fade"):
            window = getattr(self, name)
            if len(window) != 2 or not 0 <= window[0] <= window[1]:
                problems.append(
                    f"model.{name} must be [start, end] epochs with 0 <= start <= end, got {window}"
                )
        if self.extra_latent_dims < 0:
            problems.append(f"model.extra_latent_dims must be >= 0, got {self.extra_latent_dims}")
        if self.extra_latent_dims and self.prior_components:
            problems.append(
                "model.extra_latent_dims needs the standard normal prior (model.prior_components=0)"
            )
        if not 0 <= self.floor_initial < 1:
            problems.append(f"model.floor_initial must be in [0, 1), got {self.floor_initial}")
        if self.prior_components < 0 or self.prior_components == 1:
            problems.append(
                f"model.prior_components must be 0 (standard normal prior) or >= 2 (a mixture), "
                f"got {self.prior_components}"
            )
        if self.mean_shift_weight < 0 or self.mean_shift_bandwidth <= 0:
            problems.append(
                f"model.mean_shift_weight must be >= 0 and model.mean_shift_bandwidth > 0, got "
                f"{self.mean_shift_weight} and {self.mean_shift_bandwidth}"
            )
        if self.repulsion_weight < 0 or self.repulsion_bandwidth <= 0:
            problems.append(
                f"model.repulsion_weight must be >= 0 and model.repulsion_bandwidth > 0, got "
                f"{self.repulsion_weight} and {self.repulsion_bandwidth}"
            )
        if not 0 <= self.encoder_taper <= 1:
            problems.append(f"model.encoder_taper must be in [0, 1], got {self.encoder_taper}")
        if self.edge_swap < 0:
            problems.append(f"model.edge_swap must be >= 0, got {self.edge_swap}")
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
        weight_decay=0.004,
        monitor="val_loss",
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
        if 2 * self.model.edge_swap >= self.data.window:
            raise ConfigError(
                f"model.edge_swap={self.model.edge_swap} must be below half the window "
                f"(data.window={self.data.window})"
            )
        if self.plot.latent_scatter and self.model.latent_dim != 2:
            raise ConfigError(
                f"plot.latent_scatter=true needs model.latent_dim=2, got "
                f"{self.model.latent_dim}; set plot.latent_scatter=false"
            )


# What a stored config (a run's config.yaml or checkpoint) means by leaving out one of these fields: the
# run was made before the field existed and behaved as below. Their defaults have changed since, so
# filling the gap with today's default would rebuild a different model than the one that was trained.
BEFORE_FIELD_EXISTED: dict[str, dict[str, Any]] = {
    "model": {
        "shift_tolerant": False,
        "keep_fraction": 1.0,
        "encoder_pool": "flatten",
        "min_posterior_std": 0.0,
        "center_input": False,
        "free_bits": 0.0,
        "spectral_weight": 0.0,
    },
    "train": {"precise_bn_batches": 0},
}


def missing_stored_fields(stored: Mapping[str, Any]) -> list[str]:
    """`section.field=value` overrides for the fields of BEFORE_FIELD_EXISTED a stored config lacks."""
    return [
        f"{section}.{name}={json.dumps(value)}"
        for section, fields in BEFORE_FIELD_EXISTED.items()
        for name, value in fields.items()
        if name not in (stored.get(section) or {})
    ]


def stored_config(stored: Mapping[str, Any], source: str) -> Config:
    """The Config of a finished or interrupted run, from its stored dict (see BEFORE_FIELD_EXISTED)."""
    return from_dict(Config, merge(BEFORE_FIELD_EXISTED, stored), source=source)
