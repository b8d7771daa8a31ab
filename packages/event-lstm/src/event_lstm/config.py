"""Typed configuration of event-lstm: data, generator, model, loss, pre-training, detection, training."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sigzoo_shared import ConfigError, TrainConfig


@dataclass
class DataConfig:
    """Where the windowed `.npz` sets live; `None` = generate them into the run directory."""

    train_path: Path | None = None
    val_path: Path | None = None
    unlabelled_path: Path | None = None  # pre-training; None = the training windows without labels
    fs_hz: int = 2000
    n_channels: int = 6
    n_events: int = 16


@dataclass
class GeneratorConfig:
    """Synthetic 6-channel streams: one fixed signature per event type, refractory-respecting placement.

    `shape_seed` fixes the event signatures; `seed` only the placement, amplitudes and noise, so every
    split (train/val/test, any seed) shares the same event shapes.
    """

    seed: int = 0
    shape_seed: int = 1234
    window_samples: int = (
        1000  # 0.5 s at 2 kHz: at most one event per type per window (< refractory)
    )
    n_train: int = 2000
    n_val: int = 300
    n_test: int = 300
    n_unlabelled: int = 2000
    stream_s: float = 60.0  # length of the continuous test recording
    event_rate_hz: float = 0.3  # per type, on top of the refractory period
    refractory_samples: int = 4000
    signature_samples: int = 80  # 40 ms
    max_skew_samples: int = 10  # per-channel onset skew, 0..5 ms
    noise_std: float = 0.25
    drift_std: float = 0.5  # slow baseline wander amplitude
    amplitude_jitter: float = 0.2  # per-event amplitude in 1 +- jitter


@dataclass
class ModelConfig:
    # the event-specific model detects best at equal budget (docs/event-lstm.md); configs/lstm.yaml
    # trains the plain LSTMEventClassifier (the earlier default)
    arch: Literal["lstm", "event_specific"] = "event_specific"
    input_size: int = 6
    # smaller than the original's 128: at 64 the validation F1 is the same in our runs and streaming
    # detection needs less than half the CPU time (docs/event-lstm.md, `event-lstm bench`)
    hidden_size: int = 64
    # one BiLSTM layer and no per-event CNN (below): a quarter of the training step and a third of the
    # streaming cost of two layers with 4 CNN channels per event, at the same F1 when trained 24
    # epochs (docs/event-lstm.md, speed section); configs/event-cnn.yaml trains the earlier default
    num_layers: int = 1
    num_events: int = 16
    dropout: float = 0.3
    bidirectional: bool = True
    attention_heads: int = 8
    downsample: int = 10  # LSTM runs at fs/downsample; 10 -> one step per 5 ms timing bin
    frontend_channels: int = 32
    remove_window_mean: bool = True  # per-window, per-channel centring (drift)
    event_pooling: Literal["mean", "max"] = (
        "max"  # presence from mean-pooled (original) or per-step max
    )
    timing_resolution_samples: int = 10
    refractory_period_samples: int = 4000
    # event-specific architecture
    template_length: int = 80
    max_delay_samples: float = 10.0  # +-5 ms
    # per-event CNN channels; 0 = none (the LSTM sees the front end and the template scores);
    # the earlier default used 4 (configs/event-cnn.yaml), the original 32 (configs/seed.yaml)
    cnn_channels: int = 0
    cnn_out_per_event: int = 4  # per-event CNN features passed on to the LSTM
    timing_head_dim: int = 16
    timing_head_heads: int = 4
    # event_specific: the presence head starts at this probability (its output bias at the log-odds),
    # not at 0.5: the generator's rate, a window of 0.5 s over a mean gap of 2 s + 1 / 0.3 s = 0.094
    event_prior: float = 0.094

    def __post_init__(self) -> None:
        problems = []
        if self.downsample < 1:
            problems.append(f"model.downsample must be >= 1, got {self.downsample}")
        if self.hidden_size * (2 if self.bidirectional else 1) % self.attention_heads:
            problems.append(
                f"model.attention_heads ({self.attention_heads}) must divide the LSTM output "
                f"size ({self.hidden_size * (2 if self.bidirectional else 1)})"
            )
        if self.timing_head_dim % self.timing_head_heads:
            problems.append(
                f"model.timing_head_heads ({self.timing_head_heads}) must divide "
                f"model.timing_head_dim ({self.timing_head_dim})"
            )
        if self.cnn_channels < 0:
            problems.append(
                f"model.cnn_channels must be >= 0 (0: no per-event CNN), got {self.cnn_channels}"
            )
        if not 0 < self.event_prior < 1:
            problems.append(f"model.event_prior must be in (0, 1), got {self.event_prior}")
        if not 0 <= self.dropout < 1:
            problems.append(f"model.dropout must be in [0, 1), got {self.dropout}")
        if problems:
            raise ConfigError("; ".join(problems))


@dataclass
class LossConfig:
    event_weight: float = 1.0
    timing_weight: float = 1.0
    refractory_weight: float = 0.1
    template_weight: float = 0.5  # event_specific only
    timing_sigma_samples: float = 5.0
    template_sigma_samples: float = 10.0


@dataclass
class PretrainConfig:
    method: Literal["ae", "vae", "contrastive"] = "ae"
    latent_size: int = 64
    projection_size: int = 64
    temperature: float = 0.07
    kl_weight: float = 1e-3  # VAE: recon + kl_weight * KL
    noise_std: float = 0.1
    scale_range: tuple[float, float] = (0.8, 1.2)
    crop_fraction: float = 0.9
    max_shift_samples: int = 100
    freeze_backbone_epochs: int = 0  # finetune: train only the heads for this many epochs


@dataclass
class DetectConfig:
    threshold: float = 0.5
    # consecutive windows share this much: more than an event with its channel skew (80 + 10
    # samples), so each event lies whole inside one window; 100 computes 10 % fewer windows than
    # 200 with the same F1 (docs/event-lstm.md, speed section)
    overlap_samples: int = 100
    chunk_samples: int = 20000  # samples pushed per model call when streaming a file
    timing: Literal["expected", "argmax"] = "expected"
    tolerances_ms: list[float] = field(default_factory=lambda: [2.0, 5.0, 10.0, 20.0])
    threads: int | None = (
        1  # torch threads while streaming (1 is fastest for window batches on CPU)
    )

    def hop(self, window_samples: int) -> int:
        """Window step of streaming detection; raises when the overlap leaves no step."""
        hop = window_samples - self.overlap_samples
        if hop < 1 or self.overlap_samples < 0:
            raise ConfigError(
                f"detect.overlap_samples ({self.overlap_samples}) must be in [0, window "
                f"length {window_samples})"
            )
        return hop


def _train_defaults() -> TrainConfig:
    return TrainConfig(
        # the best checkpoint and early stopping follow the event F1 at +-5 ms on the validation windows
        monitor="val_f1_5ms",
        mode="max",
        batch_size=32,
        lr=3e-3,
        scheduler="cosine",
        grad_clip_norm=1.0,
        # the default model's measured recipe: 24 epochs x 63 steps (docs/event-lstm.md)
        epochs=24,
        log_every_n_steps=20,
        # the first heartbeat comes this long after an epoch starts, after the trainer's setup (the
        # optimizer's first construction imports torch's compiler stack: 5-20 s on a busy CPU), so
        # 10 s keeps the silence before it under 30 s; later lines come every 10 s plus one batch
        progress_every_s=10.0,
    )


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    detect: DetectConfig = field(default_factory=DetectConfig)
    train: TrainConfig = field(default_factory=_train_defaults)
