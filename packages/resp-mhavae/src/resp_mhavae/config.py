"""Configuration of resp-mhavae: data, model, the two training phases, detection and grid search.

Key names follow the original MHA-VAE-LSTM JSON config where one existed (`l_win`, `look_back_num`,
`code_size`, `num_hidden_units_vae`, `num_hidden_units_lstm`, `threshold_percent`, `modality_weights`, ...),
so an original flat JSON file can be read with `from_original_json` (the CLI does it for `--config x.json`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sigzoo_shared import TrainConfig
from sigzoo_shared.errors import ConfigError

log = logging.getLogger(__name__)

Protocol = Literal["honest", "original"]
Baseline = Literal["vae_lstm_no_attention", "lstm_only", "isolation_forest"]
Split = Literal["chronological", "nab"]
# simple detectors scored point-wise beside the learned models (detectors.py)
Detector = Literal["isolation_forest", "max_abs_z", "persistence", "pca", "nearest_neighbour"]
DETECTORS: list[str] = ["isolation_forest", "max_abs_z", "persistence", "pca", "nearest_neighbour"]


@dataclass
class DataConfig:
    """Where the recording is, how it is split, normalised and cut into windows."""

    format: Literal["collected", "csv", "npz", "nab"] = "collected"
    path: Path | None = None  # the CSV/NPZ file (collected: the recording CSV)
    dataset_config: Path | None = None  # collected: dataset_config.json (default: beside `path`)
    recording: str | None = None  # collected: key in dataset_config (default: from the file name)
    intervals: Path | None = (
        None  # csv/npz: YAML/JSON with anomaly_intervals; nab: combined_windows.json
    )
    channels: list[str] = field(default_factory=lambda: ["Audio", "Temperature(C)", "Humidity(%)"])
    timestamp_column: str | None = "Timestamp"  # csv/collected; None = no timestamps
    max_gap_s: float = 2.0  # larger steps between timestamps are an error (gaps in the recording)
    # strict: a timestamp that steps back (or, for NAB, repeats) is an error; file: keep the rows in file
    # order with a warning, as NAB's own scorer does (two NAB realKnownCause files have such steps)
    timestamp_order: Literal["strict", "file"] = "strict"
    sample_rate_hz: float | None = None  # None = estimated from timestamps (or 1.0 without them)
    l_win: int = 96  # samples per window (training windows do not overlap); seed: 800
    look_back_num: int = 2  # windows of history the LSTM sees
    train_fraction: float = 0.7  # chronological: first 70 % is the training part
    val_fraction: float = 0.2  # last 20 % of the training part is validation
    train_anomalies: Literal["drop_windows", "drop_rows"] = "drop_windows"  # original: drop_rows
    # training windows per l_win: 1 = non-overlapping (the seed's); 8 = a window every l_win // 8 rows
    # (drop_windows only; the LSTM's runs stay l_win apart)
    train_overlap: int = 1
    protocol: Protocol = "honest"  # honest: train-only statistics, threshold on validation scores
    # chronological: train/validation/test by train_fraction; nab: NAB's own protocol, the models fit the
    # first probation_fraction of rows with no label used, and every later row is scored
    split: Split = "chronological"
    probation_fraction: float = 0.15  # NAB's probationary period
    center_windows: bool = False  # remove each window's per-channel mean (not the seed's)
    # zscore: (x - mean) / std of the normal training rows (the seed's); robust: (x - median) / (IQR /
    # 1.349), which a few extreme rows in the training part cannot stretch (std where the IQR is 0)
    normalisation: Literal["zscore", "robust"] = "zscore"

    def __post_init__(self) -> None:
        problems = []
        if self.l_win < 4:
            problems.append(f"data.l_win must be >= 4 samples, got {self.l_win}")
        if self.look_back_num < 1:
            problems.append(f"data.look_back_num must be >= 1, got {self.look_back_num}")
        if not 0 < self.train_fraction < 1:
            problems.append(f"data.train_fraction must be in (0, 1), got {self.train_fraction}")
        if self.train_overlap < 1:
            problems.append(f"data.train_overlap must be >= 1, got {self.train_overlap}")
        if not 0 < self.probation_fraction < 1:
            problems.append(
                f"data.probation_fraction must be in (0, 1), got {self.probation_fraction}"
            )
        if not 0 < self.val_fraction < 1:
            problems.append(f"data.val_fraction must be in (0, 1), got {self.val_fraction}")
        if not self.channels and self.format in ("collected", "csv"):
            problems.append("data.channels must name at least one column")
        if problems:
            raise ConfigError("; ".join(problems))


@dataclass
class ModelConfig:
    """The MHA-VAE (conv residual encoder + self-attention over time) and the latent LSTM."""

    code_size: int = 20  # latent channels per time step
    vae_channels: list[int] = field(
        default_factory=lambda: [16, 32, 64, 128]
    )  # residual widths before the last
    num_hidden_units_vae: int = 256  # last residual width = attention dimension
    use_attention: bool = True
    num_heads: int = 4
    dropout: float = 0.3
    norm: Literal["batch", "layer"] = "batch"  # stem normalisation
    kl_weight: float = 0.8
    modality_weights: list[float] | None = None  # None = [0.4, 0.3, 0.3] for 3 channels, else equal
    num_hidden_units_lstm: int = 128
    num_layers_lstm: int = 3
    dropout_lstm: float = 0.1
    lstm_decoding: Literal["vectorised", "loop"] = (
        "vectorised"  # loop = the original per-step reference
    )

    def __post_init__(self) -> None:
        if self.num_hidden_units_vae % self.num_heads:
            raise ConfigError(
                f"model.num_hidden_units_vae ({self.num_hidden_units_vae}) must be divisible "
                f"by model.num_heads ({self.num_heads})"
            )
        if self.modality_weights is not None and any(w < 0 for w in self.modality_weights):
            raise ConfigError(f"model.modality_weights must be >= 0, got {self.modality_weights}")


def _vae_train() -> TrainConfig:
    return TrainConfig(
        epochs=60,  # seed: 1000 with patience 200 (configs/seed.yaml)
        batch_size=32,
        lr=1e-3,
        weight_decay=1e-4,
        scheduler="plateau",
        scheduler_patience=5,
        early_stopping_patience=15,
        log_every_n_steps=10,
        progress=False,
    )


def _lstm_train() -> TrainConfig:
    return TrainConfig(
        epochs=40,  # seed: 200 with patience 15
        batch_size=80,
        lr=1e-3,
        early_stopping_patience=8,
        log_every_n_steps=10,
        progress=False,
    )


@dataclass
class DetectConfig:
    """Scoring, thresholds and the baselines evaluated in the same run."""

    # score = reconstruction error + w x the LSTM's prediction error. Default 0: the reconstruction error
    # alone, which the leaderboard's trained models score higher with than the seed's mix (w = 0.5,
    # configs/seed.yaml) on 6 of 8 series (docs/resp-mhavae.md, ablation)
    prediction_weight: float = 0.0
    threshold_percent: float = 80.0  # percentile of validation (honest) or test (original) scores
    use_deviation_gate: bool = False
    deviation_ratio: float = 0.8  # gate: prediction error >= ratio x its own threshold-level value
    beta: float = 2.0
    baselines: list[Baseline] = field(
        default_factory=lambda: ["vae_lstm_no_attention", "lstm_only", "isolation_forest"]
    )
    vis_recon_every_n_epochs: int = 20
    vis_lstm_every_n_epochs: int = 20

    def __post_init__(self) -> None:
        problems = []
        if not 0 <= self.threshold_percent <= 100:
            problems.append(
                f"detect.threshold_percent must be in [0, 100], got {self.threshold_percent}"
            )
        for name in ("prediction_weight", "deviation_ratio"):
            if getattr(self, name) < 0:
                problems.append(f"detect.{name} must be >= 0, got {getattr(self, name)}")
        if self.beta <= 0:
            problems.append(f"detect.beta must be > 0, got {self.beta}")
        if problems:
            raise ConfigError("; ".join(problems))


@dataclass
class ScoreConfig:
    """Point-wise scores (every time step) and the range-aware metrics computed from them."""

    stride: int | None = None  # samples between scored sliding windows; None = max(1, l_win // 8)
    spread: Literal["mean", "max"] = "mean"  # a step's score from the windows that cover it
    vus_window: int | None = None  # VUS buffer (max tolerance, steps); None = min(l_win, 100)
    detectors: list[Detector] = field(default_factory=lambda: list(DETECTORS))
    affiliation_thresholds: int = 25  # quantile thresholds searched for the best affiliation F1

    def __post_init__(self) -> None:
        problems = []
        if self.stride is not None and self.stride < 1:
            problems.append(f"score.stride must be >= 1 sample, got {self.stride}")
        if self.vus_window is not None and self.vus_window < 0:
            problems.append(f"score.vus_window must be >= 0, got {self.vus_window}")
        if self.affiliation_thresholds < 2:
            problems.append(
                f"score.affiliation_thresholds must be >= 2, got {self.affiliation_thresholds}"
            )
        if problems:
            raise ConfigError("; ".join(problems))


@dataclass
class LeaderboardConfig:
    """`resp-mhavae leaderboard`: every method on every series, seeds for the learned ones."""

    series: list[str] = field(default_factory=list)  # files or folders (NAB CSVs, collected CSVs)
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    learned: list[Literal["mhavae", "vae_lstm_no_attention"]] = field(
        default_factory=lambda: ["mhavae"]
    )
    splits: list[Split] = field(default_factory=lambda: ["chronological", "nab"])
    nab_windows_per_series: int = 40  # NAB l_win: one day of samples, at most rows / this

    def __post_init__(self) -> None:
        if not self.seeds:
            raise ConfigError("leaderboard.seeds must name at least one seed")
        if self.nab_windows_per_series < 8:
            raise ConfigError(
                "leaderboard.nab_windows_per_series must be >= 8, got "
                f"{self.nab_windows_per_series}"
            )


@dataclass
class GridConfig:
    """The original grid search: one run per (dataset, l_win, look_back_num), thresholds reuse models."""

    datasets: list[str] = field(default_factory=list)  # recording paths; empty = data.path only
    l_win: list[int] = field(default_factory=lambda: [400, 800, 1000])
    look_back_num: list[int] = field(default_factory=lambda: [1, 2, 3])
    threshold_percent: list[float] = field(default_factory=lambda: [70.0, 80.0, 90.0])

    def __post_init__(self) -> None:
        bad = [p for p in self.threshold_percent if not 0 <= p <= 100]
        if bad:
            raise ConfigError(f"grid.threshold_percent values must be in [0, 100], got {bad}")
        small = [x for x in [*self.l_win, *self.look_back_num] if x < 1]
        if small:
            raise ConfigError(f"grid.l_win and grid.look_back_num must be >= 1, got {small}")


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=_vae_train)  # VAE phase
    lstm: TrainConfig = field(
        default_factory=_lstm_train
    )  # LSTM phase (also the LSTM-only baseline)
    detect: DetectConfig = field(default_factory=DetectConfig)
    grid: GridConfig = field(default_factory=GridConfig)
    score: ScoreConfig = field(default_factory=ScoreConfig)
    leaderboard: LeaderboardConfig = field(default_factory=LeaderboardConfig)


# ---------------------------------------------------------------------- the original flat JSON config

ORIGINAL_KEYS: dict[str, str] = {
    "l_win": "data.l_win",
    "look_back_num": "data.look_back_num",
    "l_seq": "data.look_back_num",  # upstream VAE-LSTM name (sequence length = look-back + 1)
    "code_size": "model.code_size",
    "num_hidden_units_vae": "model.num_hidden_units_vae",
    "num_hidden_units": "model.num_hidden_units_vae",
    "num_hidden_units_lstm": "model.num_hidden_units_lstm",
    "num_layers_lstm": "model.num_layers_lstm",
    "num_heads": "model.num_heads",
    "dropout": "model.dropout",
    "dropout_lstm": "model.dropout_lstm",
    "kl_weight": "model.kl_weight",
    "modality_weights": "model.modality_weights",
    "batch_size": "train.batch_size",
    "batch_size_vae": "train.batch_size",
    "num_epochs_vae": "train.epochs",
    "learning_rate_vae": "train.lr",
    "weight_decay": "train.weight_decay",
    "weight_decay_vae": "train.weight_decay",
    "patience_vae": "train.early_stopping_patience",
    "batch_size_lstm": "lstm.batch_size",
    "num_epochs_lstm": "lstm.epochs",
    "learning_rate_lstm": "lstm.lr",
    "patience_lstm": "lstm.early_stopping_patience",
    "threshold_percent": "detect.threshold_percent",
    "prediction_weight": "detect.prediction_weight",
    "deviation_ratio": "detect.deviation_ratio",
    "pred_error_deviation_ratio": "detect.deviation_ratio",
    "beta": "detect.beta",
    "vis_interval_vae": "detect.vis_recon_every_n_epochs",
    "vis_interval_lstm": "detect.vis_lstm_every_n_epochs",
    "seed": "train.seed",
}
# Keys of the original that describe its own file layout or switches we express otherwise.
ORIGINAL_IGNORED = {
    "exp_name",
    "dataset",
    "result_dir",
    "checkpoint_dir",
    "summary_dir",
    "data_dir",
    "load_dir",
    "load_model",
    "TRAIN_VAE",
    "TRAIN_LSTM",
    "TRAIN_sigma",
    "n_channel",
    "one_image",
    "y_scale",
    "sigma",
    "sigma2_offset",
    "num_channels",
}
SECTIONS = {"data", "model", "train", "lstm", "detect", "grid", "score", "leaderboard"}


def is_flat_original(data: dict[str, Any]) -> bool:
    """True when a mapping looks like the original flat JSON config rather than our nested sections."""
    return bool(data) and not (set(data) & SECTIONS)


def original_overrides(data: dict[str, Any], source: str = "config") -> list[str]:
    """Dotted overrides equivalent to an original flat config; unknown keys are errors, layout keys ignored."""
    out, unknown = [], []
    for key, value in data.items():
        if key in ORIGINAL_IGNORED:
            log.info("%s: original key %r has no meaning here; ignored", source, key)
            continue
        if key not in ORIGINAL_KEYS:
            unknown.append(key)
            continue
        target = ORIGINAL_KEYS[key]
        if key == "l_seq":
            value = int(value) - 1
        out.append(f"{target}={json.dumps(value)}")
    if unknown:
        import difflib

        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, list(ORIGINAL_KEYS), n=1)
            hints.append(f"'{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        raise ConfigError(f"{source}: unknown original config key(s) {', '.join(hints)}")
    return out


def resolved_modality_weights(cfg: ModelConfig, n_channels: int) -> list[float]:
    """The configured weights, or the original's [0.4, 0.3, 0.3] for three channels, else equal."""
    if cfg.modality_weights is not None:
        if len(cfg.modality_weights) != n_channels:
            raise ConfigError(
                f"model.modality_weights has {len(cfg.modality_weights)} values but the data "
                f"has {n_channels} channels"
            )
        return list(cfg.modality_weights)
    if n_channels == 3:
        return [0.4, 0.3, 0.3]
    return [1.0 / n_channels] * n_channels
