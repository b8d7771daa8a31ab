"""The series of the original demo: repeating multi-channel sine patterns hidden in a noisy time series.

`n_patterns` patterns of `n_features` channels; each channel of a pattern is a `pattern_len`-sample sum of
`n_sines` sines with whole-Hz frequencies drawn without replacement from [freq_min_hz, freq_max_hz] at
`fs_hz`. Every pattern gets its own leading frequency on each channel (drawn without replacement across
patterns), so no two patterns coincide; that is why `n_patterns` may not exceed the number of frequencies.
The patterns are concatenated, the sequence tiled `repeats` times, and `noise_len` samples of Gaussian
noise with the series' mean/std appended. `pattern_id[n]` is the pattern at sample n (-1 = noise).

The on-disk format (`write_series` / `data.load_series`) is an `.npz` with `signal` (N, F) float32,
`pattern_id` (N,) int, `fs_hz`, `pattern_len` and `frequencies_hz` (P, F, S), or a CSV with columns
`ch0..ch{F-1}` and optionally `pattern_id`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sigzoo_shared.io import atomic_write, atomic_write_text

from vae_demo.config import DataConfig

log = logging.getLogger(__name__)

NOISE_ID = -1


@dataclass
class Series:
    signal: np.ndarray  # (N, F) float32, unscaled
    pattern_id: np.ndarray  # (N,) int64, -1 = noise
    fs_hz: float
    pattern_len: int
    frequencies_hz: np.ndarray  # (P, F, S) int, empty when unknown


def draw_frequencies(
    cfg: DataConfig, rng: np.random.Generator, low: int | None = None, high: int | None = None
) -> np.ndarray:
    """(P, F, S) whole-Hz frequencies: per channel a distinct leading frequency per pattern, the other
    S-1 drawn without replacement from the rest of the band."""
    low = cfg.freq_min_hz if low is None else low
    high = cfg.freq_max_hz if high is None else high
    band = np.arange(low, high + 1)
    P, F, S = cfg.n_patterns, cfg.n_features, cfg.n_sines
    out = np.empty((P, F, S), dtype=np.int64)
    for f in range(F):
        leading = rng.permutation(band)[:P]
        for p in range(P):
            rest = band[band != leading[p]]
            out[p, f, 0] = leading[p]
            out[p, f, 1:] = rng.choice(rest, size=S - 1, replace=False)
    return out


def synthesize_patterns(
    freqs: np.ndarray, pattern_len: int, fs_hz: float, rng: np.random.Generator
) -> np.ndarray:
    """(P, L, F) patterns: each channel a sum of unit sines at `freqs[p, f]` with random phases."""
    t = np.arange(pattern_len) / fs_hz  # (L,)
    phase = rng.uniform(0, 2 * np.pi, size=freqs.shape)  # (P, F, S)
    waves = np.sin(2 * np.pi * freqs[..., None] * t + phase[..., None])  # (P, F, S, L)
    return waves.sum(axis=2).transpose(0, 2, 1).astype(np.float32)  # (P, L, F)


def make_patterns(
    cfg: DataConfig, band_hz: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(patterns (P, L, F), frequencies (P, F, S)) of `cfg.seed`; `band_hz` replaces the frequency band
    (the encoder test's out-of-range patterns) while keeping the seed's phases."""
    rng = np.random.default_rng(cfg.seed)
    freqs = draw_frequencies(cfg, rng)
    if band_hz is not None:
        freqs = draw_frequencies(cfg, np.random.default_rng(cfg.seed + 7919), *band_hz)
    return synthesize_patterns(freqs, cfg.pattern_len, cfg.fs_hz, rng), freqs


def make_series(
    cfg: DataConfig,
    band_hz: tuple[int, int] | None = None,
    repeats: int | None = None,
    noise_len: int | None = None,
    shift: int = 0,
    noise_seed: int | None = None,
) -> Series:
    """The demo series of `cfg`. The keyword arguments build the encoder test's variants: another
    frequency band, fewer repeats or noise, the patterns shifted by `shift` samples against the time
    grid, fresh noise from `noise_seed`."""
    repeats = cfg.repeats if repeats is None else repeats
    noise_len = cfg.noise_len if noise_len is None else noise_len
    patterns, freqs = make_patterns(cfg, band_hz)  # (P, L, F)
    rng = np.random.default_rng(cfg.seed + 1 if noise_seed is None else noise_seed)
    block = patterns.reshape(-1, cfg.n_features)  # (P*L, F) patterns concatenated
    signal = np.tile(block, (repeats, 1))  # (R*P*L, F)
    ids = np.tile(np.repeat(np.arange(cfg.n_patterns), cfg.pattern_len), repeats)
    if shift:
        signal, ids = np.roll(signal, shift, axis=0), np.roll(ids, shift)
    if noise_len:
        noise = rng.normal(signal.mean(), signal.std(), size=(noise_len, cfg.n_features))
        signal = np.concatenate([signal, noise.astype(np.float32)])
        ids = np.concatenate([ids, np.full(noise_len, NOISE_ID)])
    return Series(
        signal.astype(np.float32), ids.astype(np.int64), cfg.fs_hz, cfg.pattern_len, freqs
    )


def write_series(series: Series, path: Path | str) -> Path:
    """Write `series` as `.npz` (atomically) or `.csv` (chosen by the suffix)."""
    path = Path(path)
    if path.suffix == ".csv":
        F = series.signal.shape[1]
        header = ",".join([f"ch{i}" for i in range(F)] + ["pattern_id"])
        rows = [
            ",".join(f"{v:.6g}" for v in row) + f",{pid}"
            for row, pid in zip(series.signal, series.pattern_id)
        ]
        return atomic_write_text(path, header + "\n" + "\n".join(rows) + "\n")
    if path.suffix != ".npz":
        raise ValueError(f"{path}: series files are .npz or .csv")
    return atomic_write(
        path,
        lambda fh: np.savez_compressed(
            fh,
            signal=series.signal,
            pattern_id=series.pattern_id,
            fs_hz=np.float64(series.fs_hz),
            pattern_len=np.int64(series.pattern_len),
            frequencies_hz=series.frequencies_hz,
        ),
    )


def generate(cfg: DataConfig, out_dir: Path | str) -> dict[str, Path]:
    """`vae-demo generate`: the configured series as series.npz + series.csv in `out_dir`."""
    out_dir = Path(out_dir)
    series = make_series(cfg)
    paths = {
        "npz": write_series(series, out_dir / "series.npz"),
        "csv": write_series(series, out_dir / "series.csv"),
    }
    log.info(
        "wrote %d samples x %d channels (%d patterns x %d repeats + %d noise) to %s",
        len(series.signal),
        series.signal.shape[1],
        cfg.n_patterns,
        cfg.repeats,
        cfg.noise_len,
        out_dir,
    )
    return paths
