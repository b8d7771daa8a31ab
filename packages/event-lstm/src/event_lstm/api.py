"""Use a trained or shipped event detector from Python, without the CLI.

    import event_lstm
    det = event_lstm.load_pretrained()            # or event_lstm.load_run("runs/event-lstm/t1")
    events = det.detect(stream)                   # stream: (T, 6) float array at 2 kHz
    res = det.classify(windows)                   # windows: (N, T, 6)

Inputs are validated as the CLI validates files (`data.validate_signal`, `data.validate_windows`): a
wrong shape, sampling rate or a NaN is one `DataError` naming the value and what was expected. Detection
is the CLI's streaming detection (`detect.detect_signal`: overlapping windows, the refractory enforcer),
and `classify` the windowed prediction `evaluate` scores (`detect.predict_windows`), so the API and the
CLI give the same events for the same input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sigzoo_shared import ConfigError
from torch import nn

from event_lstm.backbone import WindowScores
from event_lstm.builders import classifier_model
from event_lstm.config import Config
from event_lstm.data import WindowSet, load_recording, validate_signal, validate_windows
from event_lstm.detect import OnnxWindowScores, detect_signal, load_classifier, predict_windows

DEFAULT_PRETRAINED = "event-specific"


@dataclass(frozen=True)
class Event:
    """One detected event: its type (0..15), onset in seconds from the stream's first sample, the
    onset sample and the model's probability."""

    event: int
    time_s: float
    sample: int
    probability: float


@dataclass
class EventDetector:
    """A classifier in eval mode with the config it was trained with (window length, sampling rate,
    detection settings). `model` is a PyTorch classifier or, after `with_onnx`, its ONNX export."""

    model: nn.Module | OnnxWindowScores
    config: Config
    card: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def fs_hz(self) -> int:
        return self.config.data.fs_hz

    @property
    def window_samples(self) -> int:
        return self.config.generator.window_samples

    def detect(
        self,
        stream: np.ndarray | str | Path,
        fs_hz: int | None = None,
        threshold: float | None = None,
    ) -> list[Event]:
        """Events in a recording: `stream` a (T, 6) array of raw sensor values (sampled at `fs_hz`,
        default the model's 2000 Hz) or a recording `.npz` (`signal`, `fs`).

        Streaming detection as `event-lstm detect`: 0.5 s windows overlapping by
        `detect.overlap_samples`, at most one event per type within the 2 s refractory period (the
        more probable wins). `threshold` overrides `detect.threshold` (event probability, 0..1).
        """
        signal = self._signal(stream, fs_hz)
        dets, _ = detect_signal(
            self.model,  # type: ignore[arg-type]
            signal,
            self.window_samples,
            self.config.detect,
            threshold=None if threshold is None else _probability(threshold),
        )
        return [Event(x.event, x.sample / self.fs_hz, x.sample, x.probability) for x in dets]

    def classify(
        self, windows: np.ndarray, threshold: float | None = None
    ) -> dict[str, np.ndarray]:
        """Which events each window holds and when: `windows` (N, T, 6) raw values at 2 kHz, T >= one
        template (80 samples; the model was trained on T = 1000).

        Returns `present` (N, 16) bool, `onset_s` (N, 16) onset in seconds from the window's start
        (NaN where absent) and `probability` (N, 16), as `event-lstm evaluate` scores them.
        """
        ws = validate_windows(
            WindowSet(np.asarray(windows, dtype=np.float32)),
            "windows",
            self.config.data.n_channels,
            self.config.data.n_events,
            self.config.model.template_length,
        )
        d = self.config.detect
        t = d.threshold if threshold is None else _probability(threshold)
        pred = predict_windows(self.model, ws.signals, t, d.timing)  # type: ignore[arg-type]
        return {
            "present": pred["present"],
            "onset_s": pred["onsets"] / self.fs_hz,
            "probability": pred["probs"],
        }

    def with_onnx(self, path: Path | str, threads: int = 1) -> EventDetector:
        """The same detector running an exported model (`event-lstm export`) on ONNX Runtime."""
        return EventDetector(OnnxWindowScores.from_export(path, threads), self.config, self.card)

    def _signal(self, stream: np.ndarray | str | Path, fs_hz: int | None) -> np.ndarray:
        n_channels = self.config.data.n_channels
        if isinstance(stream, (str, Path)):
            return load_recording(stream, n_channels=n_channels, fs_hz=self.fs_hz).signal
        fs = self.fs_hz if fs_hz is None else int(fs_hz)
        return validate_signal(stream, fs, "stream", n_channels, self.fs_hz)


def _probability(threshold: float) -> float:
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"threshold {threshold}: expected a probability in [0, 1]")
    return float(threshold)


def load_run(path: Path | str, device: str = "cpu") -> EventDetector:
    """A training run's classifier (a run directory or a checkpoint file), as `event-lstm detect`
    loads it."""
    loaded = load_classifier(path, device)
    return EventDetector(loaded.model.eval(), loaded.config)


def load_pretrained(name: str = DEFAULT_PRETRAINED) -> EventDetector:
    """A model shipped with the package (`event-lstm pretrained list`), loaded offline."""
    from sigzoo_shared.pretrained import load_pretrained as core_load

    loaded = core_load("event_lstm", name, Config, classifier_model)
    return EventDetector(loaded.model.eval(), loaded.config, loaded.card)


# ------------------------------------------------------------------------------------------ export


def export_spec(model: nn.Module, cfg: Config) -> Any:
    """The `export` verb's ExportSpec: `WindowScores` (windows -> event probabilities and onsets),
    dynamic in the batch, checked on batch sizes other than the example's. The window length stays
    fixed (the model's padding to whole LSTM steps is decided from the length in Python, which the
    exporter specialises); streaming only ever feeds windows of that length."""
    from sigzoo_shared.export import ExportSpec

    W, C = cfg.generator.window_samples, cfg.data.n_channels
    g = torch.Generator().manual_seed(0)

    def windows(batch: int, length: int) -> tuple[torch.Tensor]:
        return (torch.randn(batch, length, C, generator=g),)

    return ExportSpec(
        module=WindowScores(model.eval(), cfg.detect.timing),
        example=windows(2, W),
        input_names=["windows"],
        output_names=["event_probs", "onsets"],
        dynamic_axes={"windows": {0: "batch"}},
        check_inputs=[windows(5, W), windows(1, W), windows(33, W)],
        notes={
            "windows": f"(batch, {W}, {C}) float32 raw sensor values at {cfg.data.fs_hz} Hz, "
            f"{W} = window_samples; the model centres each window itself",
            "event_probs": f"(batch, {cfg.model.num_events}) probability that each event type "
            "has its onset in the window",
            "onsets": f"(batch, {cfg.model.num_events}) onset in samples from the window's start, "
            f"rounded to {cfg.model.timing_resolution_samples} samples (read it where "
            "event_probs >= threshold)",
            "fs_hz": cfg.data.fs_hz,
            "window_samples": W,
            "hop_samples": cfg.detect.hop(W),
            "threshold": cfg.detect.threshold,
            "timing": cfg.detect.timing,
            "refractory_period_samples": cfg.model.refractory_period_samples,
            "streaming": "event_lstm.detect.OnnxWindowScores.from_export(file) runs the package's "
            "streaming detection (refractory enforcer included) on this file",
        },
    )
