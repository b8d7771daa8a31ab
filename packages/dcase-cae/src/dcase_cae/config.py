"""Typed settings of dcase-cae: data layout and features, model, decision, and the core's TrainConfig.

Defaults reproduce the seed system and the DCASE 2020 Task 2 protocol (16 kHz, 128 mels, n_fft 1024, hop
512, power 2); `configs/seed.yaml` states the seed's training settings, `configs/dense_ae.yaml` the official
baseline's. Names follow the seed's YAML where it had one (`n_mels`, `frames`, `n_fft`, `hop_length`,
`power`, `max_fpr`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sigzoo_shared import ConfigError, TrainConfig


@dataclass
class DataConfig:
    """Where the recordings are and how they become log-mel features (`data.*`)."""

    data_dir: Path | None = None  # <root>/<machine_type>/{train,test} or one machine's folder
    machine_type: str | None = None  # None = every machine type found under data_dir
    mode: Literal["auto", "dev", "eval"] = "auto"  # dev: labels from file names; eval: scores only
    sample_rate_hz: int | None = None  # None = the files' native rate (must agree within a type)
    resample: bool = (
        False  # resample files whose rate differs (to sample_rate_hz or the majority rate)
    )
    channel: int | None = None  # pick this channel of multi-channel files (else they are an error)
    min_peak: float = 1e-6  # a clip whose absolute peak is below this is silent: an error
    n_mels: int = 128
    n_fft: int = 1024
    hop_length: int = 512
    power: float = 2.0
    frames: int = 5  # dense AE: consecutive frames per input vector
    patch_hop_frames: int = 20  # CAE: a square n_mels x n_mels patch every this many frames
    crop_frames: int = 64  # embedding model: frames per crop (~2 s at hop 512, 16 kHz)
    crop_hop_frames: int = 32  # embedding model: a crop every this many frames
    db_offset: float = 90.0  # CAE scaling: clip((X_dB + db_offset) / db_range, 0, 1)
    db_range: float = 114.0
    feature_backend: Literal["numpy", "librosa"] = "numpy"  # numpy equals librosa (tested), no JIT
    validation_split: float = 0.1  # fraction of training clips held out for validation (by clip)
    cache_dir: Path | None = None  # log-mel cache; None = <run dir>/cache
    feature_workers: int | None = None  # threads for feature extraction; None = all cores

    def __post_init__(self) -> None:
        problems = []
        if not 0.0 <= self.validation_split < 1.0:
            problems.append(f"data.validation_split must be in [0, 1), got {self.validation_split}")
        for name in (
            "n_mels",
            "n_fft",
            "hop_length",
            "frames",
            "patch_hop_frames",
            "crop_frames",
            "crop_hop_frames",
        ):
            if getattr(self, name) < 1:
                problems.append(f"data.{name} must be >= 1, got {getattr(self, name)}")
        if self.power <= 0:
            problems.append(f"data.power must be > 0, got {self.power}")
        if self.db_range <= 0:
            problems.append(f"data.db_range must be > 0, got {self.db_range}")
        if self.channel is not None and self.channel < 0:
            problems.append(f"data.channel must be >= 0 or null, got {self.channel}")
        if problems:
            raise ConfigError("; ".join(problems))


@dataclass
class ModelConfig:
    """Which autoencoder and its sizes (`model.*`)."""

    name: Literal["cae", "dense_ae", "embedding"] = "cae"
    z_dim: int = 40  # CAE latent channels
    hidden_dim: int = 128  # dense AE
    bottleneck_dim: int = 8  # dense AE
    n_hidden: int = 4  # dense AE hidden layers on each side of the bottleneck
    score: Literal["mse", "selective_mahalanobis"] = "mse"  # autoencoders' clip score
    embedding_dim: int = 128  # embedding model: size of the embedding
    channels: int = 16  # embedding model: channels of the first conv block (then 2x, 4x, 4x)
    n_subclusters: int = 1  # embedding model: centres per class (1 = ArcFace)
    margin: float = 0.2  # embedding model: additive angular margin (radians)
    scale: float = 16.0  # embedding model: logit scale
    knn_k: int = 1  # embedding model: score = mean cosine distance to the k nearest training clips
    classes: Literal["auto", "attributes", "clips"] = "auto"  # embedding model: what it classifies
    # compile the model's forward (torch.compile) for training: a faster step, but the compilation
    # costs more CPU than a short run saves (docs/dcase-cae.md, speed section)
    compile: bool = False

    def __post_init__(self) -> None:
        for name in (
            "z_dim",
            "hidden_dim",
            "bottleneck_dim",
            "n_hidden",
            "embedding_dim",
            "channels",
            "n_subclusters",
            "knn_k",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"model.{name} must be >= 1, got {getattr(self, name)}")
        if self.margin < 0 or self.scale <= 0:
            raise ConfigError(
                f"model.margin must be >= 0 and model.scale > 0, got {self.margin}, {self.scale}"
            )


@dataclass
class DecisionConfig:
    """Anomaly decisions: a threshold fitted on training-normal clip scores (`decision.*`)."""

    method: Literal["gamma", "percentile"] = (
        "gamma"  # gamma = the DCASE 2021-2023 baselines' choice
    )
    quantile: float = 0.9  # gamma quantile, or percentile / 100
    max_fpr: float = 0.1  # pAUC range (DCASE: 0.1)
    n_bootstrap: int = 1000  # resamples for the 95 % intervals over test clips; 0 = none
    score_batch_size: int = 64  # patches / vectors per forward pass when scoring
    # fit the threshold on at most this many training clips, a sample drawn with train.seed (test
    # time then does not grow with the training set); None = all
    threshold_clips: int | None = 200

    def __post_init__(self) -> None:
        if not 0.0 < self.quantile < 1.0:
            raise ConfigError(f"decision.quantile must be in (0, 1), got {self.quantile}")
        if self.threshold_clips is not None and self.threshold_clips < 2:
            raise ConfigError(
                f"decision.threshold_clips must be >= 2 or null, got {self.threshold_clips}"
            )
        if self.n_bootstrap < 0:
            raise ConfigError(f"decision.n_bootstrap must be >= 0, got {self.n_bootstrap}")
        if not 0.0 < self.max_fpr <= 1.0:
            raise ConfigError(f"decision.max_fpr must be in (0, 1], got {self.max_fpr}")


@dataclass
class FiguresConfig:
    """Per-epoch reconstruction figures during training (`figures.*`); test figures are always drawn."""

    enabled: bool = True
    every_n_epochs: int | None = (
        None  # None = about three per run (drawing is not free on a small CPU)
    )


def _default_train() -> TrainConfig:
    return TrainConfig(
        epochs=100,
        batch_size=256,
        lr=1e-3,
        betas=(0.9, 0.999),
        weight_decay=0.0,
        seed=2020,
        save_top_k=3,
    )


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    decision: DecisionConfig = field(default_factory=DecisionConfig)
    figures: FiguresConfig = field(default_factory=FiguresConfig)
    train: TrainConfig = field(default_factory=_default_train)

    def __post_init__(self) -> None:
        if self.model.score == "selective_mahalanobis" and self.model.name != "dense_ae":
            raise ConfigError(
                f"model.score=selective_mahalanobis needs model.name=dense_ae (a covariance of "
                f"{self.model.name} errors is too large), got model.name={self.model.name}"
            )
        if self.model.name == "embedding" and self.data.n_mels % 16:
            raise ConfigError(
                f"model.name=embedding needs data.n_mels divisible by 16 (four pooling steps), "
                f"got {self.data.n_mels}"
            )
        if self.model.name == "cae" and self.data.n_mels < 64:
            raise ConfigError(
                f"model.name=cae needs data.n_mels >= 64 (square n_mels x n_mels patches), "
                f"got {self.data.n_mels}"
            )
