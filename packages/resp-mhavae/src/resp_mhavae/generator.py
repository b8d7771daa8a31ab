"""Synthetic multi-modal breathing recordings with planted anomalies, written in the real file formats.

A nose-worn device sees each breath three ways: the microphone level rises with the airflow noise of
inhalation and exhalation, and exhaled air warms and moistens the sensor, so temperature and humidity rise
during exhalation and relax (first-order lag) during inhalation, on top of slow ambient drift. The breathing
rate wanders slowly around ~15 breaths/min and the depth varies breath to breath.

Planted anomalies (per-row labels and the interval list the original's dataset config holds):
- `apnoea`: breathing stops; the microphone falls to its floor, temperature and humidity relax to ambient;
- `mouth_breathing`: air leaves through the mouth; the nasal temperature/humidity swing shrinks to a fifth
  while the microphone gets louder;
- `dropout`: one sensor freezes at its last value (a stuck reading).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from scipy.signal import lfilter

CHANNELS = ["Audio", "Temperature(C)", "Humidity(%)"]
COLUMNS = ["Timestamp", *CHANNELS, "Pressure(Pa)", "Oxygen(%)", "HeartRate(BPM)"]
KINDS = ("apnoea", "mouth_breathing", "dropout")


@dataclass
class Synthetic:
    values: np.ndarray  # (N, 3): Audio, Temperature(C), Humidity(%)
    intervals: list[tuple[int, int, str]]  # [start, end] rows, end inclusive, kind
    sample_rate_hz: float


def _lag(x: np.ndarray, tau_s: float, fs: float) -> np.ndarray:
    a = np.exp(-1.0 / (tau_s * fs))
    return lfilter([1 - a], [1, -a], x, zi=[x[0] * a])[0]


def breathing(
    n_rows: int,
    fs: float = 24.0,
    n_anomalies: int = 6,
    seed: int = 0,
    min_s: float = 6.0,
    max_s: float = 14.0,
    kinds: tuple[str, ...] = KINDS,
) -> Synthetic:
    """A recording of `n_rows` samples with `n_anomalies` non-overlapping planted intervals."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_rows) / fs
    rate_hz = (
        0.25
        + 0.03 * np.sin(2 * np.pi * t / 97.0 + rng.uniform(0, 6))
        + 0.01 * rng.standard_normal()
    )
    phase = 2 * np.pi * np.cumsum(rate_hz) / fs + rng.uniform(0, 2 * np.pi)
    breath_no = np.floor(phase / (2 * np.pi)).astype(int)
    depth = (1 + 0.15 * rng.standard_normal(breath_no.max() + 2))[breath_no]
    exhale = np.clip(np.sin(phase), 0, None) * depth  # airflow out
    inhale = np.clip(-np.sin(phase), 0, None) * depth
    nasal = np.ones(n_rows)  # fraction of air through the nose
    airflow_gain = np.ones(n_rows)  # 0 during apnoea
    intervals: list[tuple[int, int, str]] = []
    if n_anomalies:
        slots = np.linspace(0.08, 0.97, n_anomalies + 1)
        for i in range(n_anomalies):
            length = int(rng.uniform(min_s, max_s) * fs)
            lo, hi = int(slots[i] * n_rows), int(slots[i + 1] * n_rows) - length - 1
            start = int(rng.integers(lo, max(lo + 1, hi)))
            end = min(n_rows - 1, start + length)
            kind = kinds[i % len(kinds)]
            intervals.append((start, end, kind))
            if kind == "apnoea":
                airflow_gain[start : end + 1] = 0.0
            elif kind == "mouth_breathing":
                nasal[start : end + 1] = 0.2
    flow_out = exhale * airflow_gain
    flow_in = inhale * airflow_gain
    audio = (
        230
        + 5 * rng.standard_normal(n_rows)
        + 90 * (flow_out**2 + 0.6 * flow_in**2) * (1 + 1.5 * (nasal < 1))
    )
    drift = np.cumsum(rng.standard_normal(n_rows)) / np.sqrt(fs) * 0.004
    temperature = (
        25.0 + drift + 0.6 * _lag(flow_out * nasal, 1.2, fs) + 0.01 * rng.standard_normal(n_rows)
    )
    humidity = (
        70.0
        + 8 * drift
        + 4.0 * _lag(flow_out * nasal, 1.6, fs)
        + 0.05 * rng.standard_normal(n_rows)
    )
    values = np.stack([audio, temperature, humidity], axis=1)
    for start, end, kind in intervals:
        if kind == "dropout":
            channel = int(rng.integers(0, 3))
            values[start : end + 1, channel] = values[start, channel]
    values[:, 0] = np.clip(np.round(values[:, 0]), 0, 4095)  # a 12-bit ADC level, like the device's
    values[:, 1:] = np.round(values[:, 1:], 2)
    return Synthetic(values, intervals, fs)


def write_collected(
    directory: Path,
    name: str = "synthetic_1",
    n_rows: int = 6000,
    fs: float = 24.0,
    n_anomalies: int = 6,
    seed: int = 0,
    recording_start_line: int = 48,
) -> Path:
    """`sensor_data_<name>_with_anomalies.csv` (CRLF, like the device) + `dataset_config.json`; returns the CSV.

    An existing dataset_config.json in `directory` gains (or replaces) this recording's entry.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    syn = breathing(n_rows + recording_start_line, fs, 0, seed)
    body = breathing(n_rows, fs, n_anomalies, seed)
    values = np.concatenate([syn.values[:recording_start_line], body.values])
    intervals = [[s + recording_start_line, e + recording_start_line] for s, e, _ in body.intervals]
    t0 = datetime(2026, 1, 1, 12, 0, 0)
    lines = [",".join(COLUMNS)]
    for i, row in enumerate(values):
        stamp = (t0 + timedelta(seconds=int(i / fs))).strftime("%Y-%m-%d %H:%M:%S")
        lines.append(f"{stamp},{int(row[0])},{row[1]:.2f},{row[2]:.2f},0.0,0.0,0.0")
    path = directory / f"sensor_data_{name}_with_anomalies.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    config_path = directory / "dataset_config.json"
    config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    config[name] = {
        "recording_start_line": recording_start_line,
        "anomaly_intervals": intervals,
        "kinds": [k for _, _, k in body.intervals],
    }
    config_path.write_text(json.dumps(config, indent=2))
    return path


def write_generic(
    directory: Path,
    name: str = "synthetic",
    n_rows: int = 6000,
    fs: float = 24.0,
    n_anomalies: int = 6,
    seed: int = 0,
    fmt: str = "csv",
) -> tuple[Path, Path]:
    """A channels-only CSV (`time_s` column) or NPZ (`values`, `channels`, `sample_rate_hz`) plus
    `<name>.intervals.yaml`; returns (data file, intervals file)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    syn = breathing(n_rows, fs, n_anomalies, seed)
    if fmt == "npz":
        path = directory / f"{name}.npz"
        np.savez(path, values=syn.values, channels=np.array(CHANNELS), sample_rate_hz=np.array(fs))
    else:
        path = directory / f"{name}.csv"
        rows = [",".join(CHANNELS)] + [f"{a:.0f},{b:.2f},{c:.2f}" for a, b, c in syn.values]
        path.write_text("\n".join(rows) + "\n")
    intervals = directory / f"{name}.intervals.yaml"
    intervals.write_text(
        "# rows, 0-based, end inclusive\nanomaly_intervals:\n"
        + "".join(f"  - [{s}, {e}]  # {k}\n" for s, e, k in syn.intervals)
    )
    return path, intervals


def write_nab(root: Path, n_rows: int = 3000, seed: int = 0) -> Path:
    """A NAB-layout tree `root/data/realKnownCause/synthetic.csv` + `root/labels/combined_windows.json`."""
    syn = breathing(n_rows, 1.0 / 300, 2, seed, min_s=6 * 3600, max_s=10 * 3600)
    t0 = datetime(2014, 1, 1)
    csv_path = Path(root) / "data" / "realKnownCause" / "synthetic.csv"
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    stamp = [(t0 + timedelta(minutes=5 * i)).strftime("%Y-%m-%d %H:%M:%S") for i in range(n_rows)]
    csv_path.write_text(
        "timestamp,value\n" + "".join(f"{s},{v:.3f}\n" for s, v in zip(stamp, syn.values[:, 2]))
    )
    windows = {
        "realKnownCause/synthetic.csv": [
            [stamp[s] + ".000000", stamp[e] + ".000000"] for s, e, _ in syn.intervals
        ]
    }
    labels = Path(root) / "labels" / "combined_windows.json"
    labels.parent.mkdir(parents=True, exist_ok=True)
    labels.write_text(json.dumps(windows, indent=1))
    return csv_path
