"""Typed configuration of ecg-vqvae: data, VQ-VAE model, forecaster, training.

Field names the original system's users know keep their names (`has_attention`, `samples_per_second`,
`input_signal_duration`, `signals_per_patient`, `forecast_predictions`, `has_transformer`,
`model_checkpoint_weights`); everything else follows sigzoo naming (units in names).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sigzoo_shared import ConfigError, TrainConfig

# de Chazal et al. (2004) inter-patient split of the 44 non-paced MIT-BIH records.
DS1 = (
    "101",
    "106",
    "108",
    "109",
    "112",
    "114",
    "115",
    "116",
    "118",
    "119",
    "122",
    "124",
    "201",
    "203",
    "205",
    "207",
    "208",
    "209",
    "215",
    "220",
    "223",
    "230",
)
DS2 = (
    "100",
    "103",
    "105",
    "111",
    "113",
    "117",
    "121",
    "123",
    "200",
    "202",
    "210",
    "212",
    "213",
    "214",
    "219",
    "221",
    "222",
    "228",
    "231",
    "232",
    "233",
    "234",
)


@dataclass
class DataConfig:
    """Where the WFDB records are, how they are cut into windows and split by patient."""

    data_dir: Path | None = None  # folder of WFDB records (.hea + .dat); required by train/evaluate
    records: list[str] = field(
        default_factory=list
    )  # record names to use; empty = every .hea found
    leads: list[str] = field(
        default_factory=list
    )  # lead names to read, e.g. [MLII, V1]; empty = each record's first `model.in_channels` leads
    samples_per_second: int = 360  # records at another rate are resampled (scipy, logged)
    input_signal_duration: float = 3.0  # window length in seconds (3 s = 1080 samples at 360 Hz)
    # first N non-overlapping windows per record (100 = the first 5 min, for quick runs); null = whole record
    signals_per_patient: int | None = None
    split: Literal["record_order", "de_chazal"] = "record_order"
    train_fraction: float = (
        0.7  # record_order: first 70 % of the (sorted) records train, the rest test
    )
    val_fraction: float = (
        0.15  # share of the training records held out (whole records) for validation
    )
    forecast_stride_s: float = (
        1.0  # hop between forecasting examples (context + future) inside a record
    )
    cache_dir: Path | None = None  # cached window tensors (.npy); null = no cache

    def __post_init__(self) -> None:
        problems = []
        if self.samples_per_second < 1:
            problems.append(f"data.samples_per_second must be >= 1, got {self.samples_per_second}")
        if self.input_signal_duration <= 0:
            problems.append(
                f"data.input_signal_duration must be > 0 s, got {self.input_signal_duration}"
            )
        if self.signals_per_patient is not None and self.signals_per_patient < 1:
            problems.append(
                f"data.signals_per_patient must be >= 1 or null, got {self.signals_per_patient}"
            )
        if not 0 < self.train_fraction < 1:
            problems.append(f"data.train_fraction must be in (0, 1), got {self.train_fraction}")
        if not 0 <= self.val_fraction < 1:
            problems.append(f"data.val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.forecast_stride_s <= 0:
            problems.append(f"data.forecast_stride_s must be > 0, got {self.forecast_stride_s}")
        if problems:
            raise ConfigError("; ".join(problems))

    @property
    def window_samples(self) -> int:
        return int(round(self.input_signal_duration * self.samples_per_second))


@dataclass
class ModelConfig:
    """VQ-VAE architecture and codebook. `variant: original` is the seed's model, big Linear included."""

    variant: Literal["efficient", "original"] = "efficient"
    in_channels: int = 2  # ECG leads
    channel: int = 32  # width of the convolutional trunk
    n_res_block: int = 4
    n_res_channel: int = 64
    n_downsample: int = 1  # stride-2 stages: 1080 -> 540 code positions (the seed: 2, 270)
    embed_dim: int = 64  # code vector size
    n_embed: int = 512  # codebook size
    has_attention: bool = (
        False  # self-attention at full resolution (original: + residual 8640x8640 Linear)
    )
    has_transformer: bool = (
        False  # RevIN-wrapped TransformerEncoder at code resolution (enc and dec)
    )
    transformer_layers: int = 4
    transformer_heads: int = 2
    normalization: Literal["none", "revin"] = (
        "revin"  # per-window, per-lead normalisation of the input
    )
    # quantiser
    decay: float = 0.99  # EMA decay of codebook statistics
    eps: float = 1e-5  # Laplace smoothing of cluster sizes
    commitment_weight: float = 0.2
    kmeans_init: bool = True  # initialise the codebook by k-means on the first training batch
    kmeans_iters: int = 10
    dead_code_threshold: float = 1.0  # restart codes whose EMA usage falls below this (0 = off)
    model_checkpoint_weights: Path | None = (
        None  # start from these weights (sigzoo checkpoint or state_dict)
    )

    def __post_init__(self) -> None:
        problems = []
        for name in ("in_channels", "channel", "n_res_channel", "embed_dim", "n_embed"):
            if getattr(self, name) < 1:
                problems.append(f"model.{name} must be >= 1, got {getattr(self, name)}")
        if self.n_res_block < 0 or self.n_downsample < 0:
            problems.append("model.n_res_block and model.n_downsample must be >= 0")
        if not 0 < self.decay < 1:
            problems.append(f"model.decay must be in (0, 1), got {self.decay}")
        if self.has_transformer and self.channel % self.transformer_heads:
            problems.append(
                f"model.channel ({self.channel}) must be divisible by model.transformer_heads "
                f"({self.transformer_heads})"
            )
        if self.has_attention and self.channel % 2:
            problems.append(
                f"model.has_attention needs an even model.channel (2 heads), got {self.channel}"
            )
        if problems:
            raise ConfigError("; ".join(problems))


def _forecast_train() -> TrainConfig:
    # The measured recipe (docs/ecg-vqvae.md): 4 epochs of 120 steps of 32 examples, cosine stepped per
    # epoch, ~12 CPU-min. Longer training makes the point head hedge more, which is what its L1 asks
    # for: the beat head, not the point forecast, carries the beat timing.
    return TrainConfig(
        epochs=4,
        limit_train_batches=120,
        limit_val_batches=20,
        lr=1e-3,
        batch_size=32,
        scheduler="cosine",
        grad_clip_norm=1.0,
    )


@dataclass
class ForecastConfig:
    """Latent forecaster: context window's codes -> next window's latents -> frozen VQ-VAE decoder."""

    forecast_predictions: int = 1  # windows predicted ahead (each `input_signal_duration` long)
    horizons_s: list[float] = field(default_factory=lambda: [1.0, 3.0])  # reported error horizons
    d_model: int = 64
    n_layers: int = 3
    n_heads: int = 4
    patch: int = 6  # code positions merged into one transformer token (540 / 6 = 90 per window)
    dropout: float = 0.1
    # future queries start from the encoded repeat-last-beat extrapolation ("none": learned constants)
    prior: Literal["repeat_last_beat", "none"] = "repeat_last_beat"
    loss: Literal["l1", "mse"] = (
        "l1"  # in mV through the frozen decoder; l1 targets the MAE reported
    )
    # a second output head, the beat forecast, trained with L1 + beat_shift_weight x the earth mover's
    # distance of the QRS energy along time (train.energy_shift): beats kept sharp at their median
    # time, where the point forecast (L1 alone, the MAE it is scored on) damps uncertain ones
    beat_head: bool = True
    beat_shift_weight: float = 2.0
    # spacing of the validation examples that choose the checkpoint (null: data.forecast_stride_s);
    # wider spacing spreads a limited number of validation batches over the whole validation records
    val_stride_s: float | None = 10.0
    train: TrainConfig = field(default_factory=_forecast_train)

    def __post_init__(self) -> None:
        problems = []
        if self.beat_shift_weight < 0:
            problems.append(
                f"forecast.beat_shift_weight must be >= 0, got {self.beat_shift_weight}"
            )
        if self.val_stride_s is not None and self.val_stride_s <= 0:
            problems.append(f"forecast.val_stride_s must be > 0 or null, got {self.val_stride_s}")
        if self.forecast_predictions < 1:
            problems.append(
                f"forecast.forecast_predictions must be >= 1, got {self.forecast_predictions}"
            )
        if any(h <= 0 for h in self.horizons_s):
            problems.append(f"forecast.horizons_s must be > 0, got {self.horizons_s}")
        if self.d_model % self.n_heads:
            problems.append(
                f"forecast.d_model ({self.d_model}) must be divisible by forecast.n_heads "
                f"({self.n_heads})"
            )
        if self.patch < 1:
            problems.append(f"forecast.patch must be >= 1, got {self.patch}")
        if problems:
            raise ConfigError("; ".join(problems))


def _vqvae_train() -> TrainConfig:
    return TrainConfig(
        epochs=4,  # whole records: what docs/ecg-vqvae.md measured (then 2 more from its weights)
        lr=1e-3,
        batch_size=64,
        optimizer="adam",
        scheduler="cosine",  # annealed to 0 over train.epochs (the seed: plateau)
        scheduler_patience=3,
    )


@dataclass
class EvaluateConfig:
    """How `evaluate` scores: sampled futures for CRPS, beat-timing metrics. Never changes the model."""

    n_samples: int = (
        8  # K futures drawn per example for CRPS and the spread figure (0 = point only)
    )
    # each sampled future decoded from the nearest codes of its latents (false: from the continuous
    # latents, the point forecast's damped hedge); the point forecast itself is never snapped
    snap_samples: bool = True
    beat_metrics: bool = True  # R-peak timing and beat-aligned errors against the .atr beats
    timing_cap_s: float = 0.5  # a beat with no forecast peak within this costs this much (s)
    max_examples_per_record: int | None = (
        None  # evenly spaced subset of forecast examples; null = all
    )
    batch_size: int = 64  # windows / examples per forward pass when scoring

    def __post_init__(self) -> None:
        problems = []
        if self.n_samples < 0 or self.n_samples == 1:
            problems.append(f"evaluate.n_samples must be 0 or >= 2, got {self.n_samples}")
        if self.timing_cap_s <= 0:
            problems.append(f"evaluate.timing_cap_s must be > 0, got {self.timing_cap_s}")
        if self.max_examples_per_record is not None and self.max_examples_per_record < 1:
            problems.append(
                "evaluate.max_examples_per_record must be >= 1 or null, "
                f"got {self.max_examples_per_record}"
            )
        if self.batch_size < 1:
            problems.append(f"evaluate.batch_size must be >= 1, got {self.batch_size}")
        if problems:
            raise ConfigError("; ".join(problems))


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    forecast: ForecastConfig = field(default_factory=ForecastConfig)
    train: TrainConfig = field(default_factory=_vqvae_train)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    figure_every_n_epochs: int = (
        5  # original vs reconstruction figures (and at the first/last epoch)
    )


# Keys `--resume` may change beside the core's resumable ones (epochs, device, workers, ...): the
# records may have moved (data_dir) and the window cache is only a cache. Anything else would change
# the model or which records it trains on.
CHANGEABLE_ON_RESUME = ("data.data_dir", "data.cache_dir")
