"""Synthetic 6-channel 2 kHz sensor streams with 16 event types, written in the real on-disk format.

Each event type has one fixed signature (drawn from `shape_seed` only): per channel a damped sinusoid
with its own frequency, decay, amplitude, sign and onset skew (0..5 ms after the event onset). Events of
each type form a renewal process whose gaps are the 2 s refractory period plus an exponential wait, so a
type never recurs within the refractory period; different types overlap freely. Each event is scaled by
a random amplitude; white noise and a slow baseline drift are added. Every split and every `seed` shares
the same signatures (the original example drew validation data with different event shapes).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from event_lstm.config import DataConfig, GeneratorConfig
from event_lstm.data import Recording, WindowSet, write_recording, write_windows

log = logging.getLogger(__name__)

SPLITS = {"train": 0, "val": 1, "test": 2, "unlabelled": 3, "stream": 4}


def make_signatures(
    cfg: GeneratorConfig, n_events: int = 16, n_channels: int = 6, fs_hz: int = 2000
) -> np.ndarray:
    """(E, C, L) event signatures; channel c of event e starts `skew[e, c]` samples after the onset."""
    rng = np.random.default_rng(cfg.shape_seed)
    L = cfg.signature_samples
    t = np.arange(L, dtype=np.float64)
    sig = np.zeros((n_events, n_channels, L))
    for e in range(n_events):
        base_hz = rng.uniform(40, 320)
        tau = rng.uniform(4, 14) * fs_hz / 1000  # samples
        skew = rng.integers(0, cfg.max_skew_samples + 1, size=n_channels)
        skew[rng.integers(n_channels)] = 0  # the onset is the earliest channel's start
        for c in range(n_channels):
            amp = rng.uniform(0.4, 1.0) * rng.choice([-1.0, 1.0])
            f = base_hz * rng.uniform(0.8, 1.25)
            phase = rng.uniform(0, 2 * np.pi)
            u = t - skew[c]
            on = u >= 0
            env = np.exp(-np.where(on, u, 0) / tau) * (1 - np.exp(-np.where(on, u, 0) / 3.0))
            sig[e, c] = np.where(on, amp * env * np.sin(2 * np.pi * f * u / fs_hz + phase), 0.0)
        sig[e] /= np.abs(sig[e]).max()
    return sig.astype(np.float32)


def _rng(cfg: GeneratorConfig, split: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([cfg.seed, SPLITS[split]]))


def generate_recording(
    cfg: GeneratorConfig,
    n_samples: int,
    rng: np.random.Generator,
    n_events: int = 16,
    n_channels: int = 6,
    fs_hz: int = 2000,
    signatures: np.ndarray | None = None,
) -> Recording:
    """A continuous recording (T, C) and its events (sample, event) sorted by sample."""
    sig = make_signatures(cfg, n_events, n_channels, fs_hz) if signatures is None else signatures
    L = sig.shape[-1]
    x = np.zeros((n_samples + L, n_channels))
    events = []
    mean_wait = fs_hz / cfg.event_rate_hz
    for e in range(n_events):
        t = int(rng.uniform(0, cfg.refractory_samples + mean_wait))
        while t < n_samples:
            events.append((t, e))
            amp = 1 + cfg.amplitude_jitter * rng.uniform(-1, 1)
            x[t : t + L] += amp * sig[e].T
            t += cfg.refractory_samples + 1 + int(rng.exponential(mean_wait))
    x = x[:n_samples]
    time_s = np.arange(n_samples) / fs_hz
    for c in range(n_channels):
        for _ in range(3):
            f = rng.uniform(0.05, 1.0)
            x[:, c] += (
                cfg.drift_std
                / 3
                * rng.normal()
                * np.sin(2 * np.pi * f * time_s + rng.uniform(0, 6.3))
            )
    x += cfg.noise_std * rng.standard_normal(x.shape)
    ev = np.array(sorted(events), dtype=np.int64).reshape(-1, 2)
    return Recording(signal=x.astype(np.float32), fs_hz=fs_hz, events=ev)


def windows_from_recording(rec: Recording, window: int, n_events: int) -> WindowSet:
    """Consecutive windows; an event belongs to the window holding its onset."""
    n = rec.signal.shape[0] // window
    signals = rec.signal[: n * window].reshape(n, window, -1)
    labels = np.zeros((n, n_events), dtype=np.float32)
    timings = np.zeros((n, n_events), dtype=np.float32)
    for sample, e in rec.events:
        w = sample // window
        if w < n:
            labels[w, e] = 1.0
            timings[w, e] = sample - w * window
    return WindowSet(signals=signals.astype(np.float32), event_labels=labels, event_timings=timings)


def generate_windows(
    cfg: GeneratorConfig,
    n_windows: int,
    split: str,
    n_events: int = 16,
    n_channels: int = 6,
    fs_hz: int = 2000,
) -> WindowSet:
    rec = generate_recording(
        cfg, n_windows * cfg.window_samples, _rng(cfg, split), n_events, n_channels, fs_hz
    )
    return windows_from_recording(rec, cfg.window_samples, n_events)


def generate_dataset(
    out_dir: Path | str, cfg: GeneratorConfig, data: DataConfig | None = None
) -> dict[str, Path]:
    """Write train/val/test/unlabelled `.npz` windows and a continuous `stream.npz` + `stream.csv`."""
    data = data or DataConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    kw = {"n_events": data.n_events, "n_channels": data.n_channels, "fs_hz": data.fs_hz}
    paths = {}
    for split, n in (("train", cfg.n_train), ("val", cfg.n_val), ("test", cfg.n_test)):
        paths[split] = write_windows(out / f"{split}.npz", generate_windows(cfg, n, split, **kw))
    unl = generate_windows(cfg, cfg.n_unlabelled, "unlabelled", **kw)
    paths["unlabelled"] = write_windows(out / "unlabelled.npz", WindowSet(signals=unl.signals))
    rec = generate_recording(cfg, int(cfg.stream_s * data.fs_hz), _rng(cfg, "stream"), **kw)
    paths["stream"], paths["stream_events"] = write_recording(out / "stream.npz", rec)
    log.info("generated %s", ", ".join(f"{k}={v}" for k, v in paths.items()))
    return paths
