"""Read multi-channel recordings with labelled anomaly intervals, split them and cut windows.

Formats:
- `collected`: the original system's CSV (`Timestamp,Audio,Temperature(C),Humidity(%),...`) plus its
  `dataset_config.json` ({recording: {recording_start_line, anomaly_intervals}}); intervals are absolute
  0-based data-row indices (header excluded), end inclusive; rows before `recording_start_line` are dropped.
- `csv` / `npz`: any number of channels; anomaly intervals in a small YAML/JSON file
  (`anomaly_intervals: [[start, end], ...]`, same row convention, end inclusive).
- `nab`: NAB `timestamp,value` CSV and `labels/combined_windows.json` (windows as timestamps).

`prepare` turns a recording into cached arrays: z-scored channels (statistics of the training part's normal
rows under the honest protocol, of the whole recording under `protocol: original`), a chronological split
(train / validation = last part of train / test) and non-overlapping windows of `l_win` samples on one
grid, so every validation or test window has its `look_back_num` predecessors as LSTM history.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from sigzoo_shared.errors import DataError
from torch.utils.data import Dataset

from resp_mhavae.config import DataConfig

log = logging.getLogger(__name__)

TRAIN, VAL, TEST = 0, 1, 2


@dataclass
class Recording:
    """One multi-channel series: values (N, C), per-row labels (N,), intervals as half-open row ranges."""

    name: str
    values: np.ndarray  # (N, C) float64
    labels: np.ndarray  # (N,) int8, 1 = anomalous row
    channels: list[str]
    sample_rate_hz: float
    source: str


# ------------------------------------------------------------------------------------------- readers


def _parse_time(text: str, where: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError as err:
        raise DataError(
            f"{where}: timestamp {text!r} is not an ISO date-time (YYYY-mm-dd HH:MM:SS)"
        ) from err


def read_table(
    path: Path, channels: list[str], timestamp_column: str | None
) -> tuple[np.ndarray, list[datetime] | None]:
    """Numeric columns `channels` (and parsed timestamps) of a CSV; errors name the file and line."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except FileNotFoundError as err:
        raise DataError(f"{path}: file not found") from err
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read CSV ({err})") from err
    if not rows:
        raise DataError(f"{path}: empty file (expected a header line)")
    header = [h.strip() for h in rows[0]]
    wanted = list(channels) + ([timestamp_column] if timestamp_column else [])
    missing = [c for c in wanted if c not in header]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {missing}; the header has {header} "
            f"(set data.channels / data.timestamp_column)"
        )
    idx = [header.index(c) for c in channels]
    t_idx = header.index(timestamp_column) if timestamp_column else None
    values = np.empty((len(rows) - 1, len(channels)), dtype=np.float64)
    times: list[datetime] | None = [] if t_idx is not None else None
    for i, row in enumerate(rows[1:]):
        line = i + 2
        if len(row) < len(header):
            raise DataError(
                f"{path}: line {line} has {len(row)} cells, the header has {len(header)}"
            )
        for j, k in enumerate(idx):
            try:
                values[i, j] = float(row[k])
            except ValueError as err:
                raise DataError(
                    f"{path}: line {line}, column {channels[j]!r}: {row[k]!r} is not a number"
                ) from err
        if times is not None:
            times.append(_parse_time(row[t_idx], f"{path}: line {line}"))
    return values, times


def check_values(values: np.ndarray, path: Path | str, first_line: int | None = 2) -> None:
    """DataError for NaN/inf; `first_line` is the file line of data row 0 (None: an array, no lines)."""
    bad = np.argwhere(~np.isfinite(values))
    if bad.size:
        row = int(bad[0, 0])
        where = f"row {row}" if first_line is None else f"line {row + first_line} (data row {row})"
        raise DataError(
            f"{path}: {len(bad)} NaN/inf value(s), first at {where}; "
            "clean or interpolate the recording first"
        )


def _out_of_order(
    times: list[datetime], bad: np.ndarray, path: Path, order: str, first_line: int, what: str
) -> None:
    """Raise (order 'strict') or warn (order 'file') about timestamps that step back or repeat."""
    if not bad.size:
        return
    i = int(bad[0]) + 1
    where = (
        f"{path}: line {i + first_line}: timestamp {what} ({times[i - 1]} -> {times[i]}; "
        f"{bad.size} such step(s))"
    )
    if order == "strict":
        raise DataError(
            f"{where}; fix the file, or set data.timestamp_order=file to keep the rows in file order"
        )
    log.warning("%s; rows kept in file order (data.timestamp_order=file)", where)


def check_timestamps(
    times: list[datetime], path: Path, max_gap_s: float, first_line: int = 2, order: str = "strict"
) -> float:
    """Raise on time going backwards (unless `order` is 'file') or gaps above `max_gap_s`; return Hz."""
    if len(times) < 2:
        return 1.0
    t = np.array([x.timestamp() for x in times])
    step = np.diff(t)
    _out_of_order(times, np.flatnonzero(step < 0), path, order, first_line, "goes backwards")
    gaps = np.flatnonzero(step > max_gap_s)
    if gaps.size:
        i = int(gaps[0]) + 1
        raise DataError(
            f"{path}: line {i + first_line}: gap of {step[i - 1]:.1f} s in the timestamps "
            f"(more than data.max_gap_s = {max_gap_s}); split the recording at the gap"
        )
    duration = t.max() - t.min()
    return float((len(t) - 1) / duration) if duration > 0 else 1.0


def intervals_to_labels(
    intervals: list[Any], n_rows: int, where: str, offset: int = 0
) -> np.ndarray:
    """Per-row labels from [start, end] pairs (0-based rows, end inclusive), shifted by `-offset`."""
    labels = np.zeros(n_rows, dtype=np.int8)
    for i, pair in enumerate(intervals):
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
            raise DataError(f"{where}: interval {i} is {pair!r}, expected [start, end]")
        try:
            start, end = int(pair[0]) - offset, int(pair[1]) - offset
        except (TypeError, ValueError) as err:
            raise DataError(f"{where}: interval {i} {pair!r} is not a pair of row numbers") from err
        if end < start:
            raise DataError(f"{where}: interval {i} {list(pair)} ends before it starts")
        if start < 0 or end >= n_rows:
            raise DataError(
                f"{where}: interval {i} {list(pair)} lies outside the recording "
                f"(rows {offset}..{offset + n_rows - 1})"
            )
        labels[start : end + 1] = 1
    return labels


def _read_mapping(path: Path) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise DataError(f"{path}: file not found") from err
    try:
        return json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        raise DataError(f"{path}: not valid JSON/YAML ({err})") from err


def recording_name(path: Path) -> str:
    """`sensor_data_<name>_with_anomalies.csv` -> `<name>` (the original's naming), else the stem."""
    stem = Path(path).stem
    return stem.removeprefix("sensor_data_").removesuffix("_with_anomalies")


def read_collected(cfg: DataConfig) -> Recording:
    path = Path(cfg.path)
    config_path = (
        Path(cfg.dataset_config) if cfg.dataset_config else path.parent / "dataset_config.json"
    )
    name = cfg.recording or recording_name(path)
    entries = _read_mapping(config_path)
    if not isinstance(entries, dict) or name not in entries:
        known = sorted(entries) if isinstance(entries, dict) else []
        raise DataError(
            f"{config_path}: no entry for recording {name!r} (has {known}); set data.recording"
        )
    entry = entries[name]
    for key in ("recording_start_line", "anomaly_intervals"):
        if key not in entry:
            raise DataError(f"{config_path}: recording {name!r} lacks {key!r}")
    values, times = read_table(path, cfg.channels, cfg.timestamp_column)
    start = int(entry["recording_start_line"])
    if start < 0 or start >= len(values):
        raise DataError(
            f"{config_path}: {name}: recording_start_line {start} outside 0..{len(values) - 1}"
        )
    check_values(values[start:], path, first_line=start + 2)
    labels = intervals_to_labels(entry["anomaly_intervals"], len(values), f"{config_path}: {name}")
    rate = cfg.sample_rate_hz
    if times is not None:
        measured = check_timestamps(
            times[start:], path, cfg.max_gap_s, start + 2, cfg.timestamp_order
        )
        rate = rate or measured
    return Recording(
        name, values[start:], labels[start:], list(cfg.channels), rate or 1.0, str(path)
    )


def read_intervals_file(path: Path, n_rows: int, name: str) -> np.ndarray:
    """`anomaly_intervals: [[s, e], ...]`, or {recording: {anomaly_intervals: ...}} keyed by name."""
    data = _read_mapping(path)
    if isinstance(data, dict) and "anomaly_intervals" not in data and name in data:
        data = data[name]
    if isinstance(data, dict):
        intervals = data.get("anomaly_intervals")
    else:
        intervals = data
    if not isinstance(intervals, list):
        raise DataError(
            f"{path}: expected 'anomaly_intervals: [[start, end], ...]' (rows, end inclusive)"
        )
    return intervals_to_labels(intervals, n_rows, str(path))


def read_values(cfg: DataConfig, path: Path) -> tuple[np.ndarray, float]:
    """The `data.channels` columns (N, C) of a CSV and its sample rate, checked as every reader checks
    them (numbers, NaN, timestamps in order, and without gaps except in NAB's own series); labels are
    not read."""
    if cfg.format == "nab":
        values, t = read_nab_values(path, cfg.timestamp_order)
        return values, nab_rate(t)
    values, times = read_table(path, cfg.channels, cfg.timestamp_column)
    check_values(values, path)
    rate = cfg.sample_rate_hz
    if times is not None:
        rate = rate or check_timestamps(times, path, cfg.max_gap_s, 2, cfg.timestamp_order)
    return values, float(rate or 1.0)


def read_generic(cfg: DataConfig) -> Recording:
    path = Path(cfg.path)
    name = path.stem
    if cfg.format == "npz":
        try:
            archive = np.load(path, allow_pickle=False)
        except FileNotFoundError as err:
            raise DataError(f"{path}: file not found") from err
        except (OSError, ValueError) as err:
            raise DataError(f"{path}: not a readable .npz archive ({err})") from err
        if "values" not in archive:
            raise DataError(
                f"{path}: no 'values' array (expected values (N, C), optional labels (N,))"
            )
        values = np.asarray(archive["values"], dtype=np.float64)
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2:
            raise DataError(f"{path}: 'values' has shape {values.shape}, expected (N, C)")
        channels = (
            [str(c) for c in archive["channels"]]
            if "channels" in archive
            else [f"ch{i}" for i in range(values.shape[1])]
        )
        labels = np.asarray(archive["labels"], dtype=np.int8) if "labels" in archive else None
        rate = cfg.sample_rate_hz or (
            float(archive["sample_rate_hz"]) if "sample_rate_hz" in archive else 1.0
        )
        check_values(values, path, first_line=0)
    else:
        values, rate = read_values(cfg, path)
        channels, labels = list(cfg.channels), None
    if cfg.intervals is not None:
        labels = read_intervals_file(Path(cfg.intervals), len(values), name)
    if labels is None:
        labels = np.zeros(len(values), dtype=np.int8)
        log.warning(
            "%s: no anomaly intervals given (data.intervals); every row counts as normal", path
        )
    if len(labels) != len(values):
        raise DataError(f"{path}: {len(labels)} labels for {len(values)} rows")
    return Recording(name, values, labels, channels, float(rate), str(path))


def read_nab_values(path: Path, order: str) -> tuple[np.ndarray, np.ndarray]:
    """A NAB CSV's values (N, 1) and POSIX times (N,), checked (numbers, NaN, time order)."""
    values, times = read_table(path, ["value"], "timestamp")
    check_values(values, path)
    assert times is not None
    t = np.array([x.timestamp() for x in times])
    _out_of_order(times, np.flatnonzero(np.diff(t) <= 0), path, order, 2, "not increasing")
    return values, t


def nab_rate(t: np.ndarray) -> float:
    """Samples per second from the typical step (NAB series have gaps; windows are cut by row)."""
    step = np.diff(t)
    return 1.0 / (float(np.median(step[step > 0])) if (step > 0).any() else 1.0)


def read_nab(cfg: DataConfig) -> Recording:
    """A NAB series; windows come from `data.intervals` or `<root>/labels/combined_windows.json`."""
    path = Path(cfg.path)
    values, t = read_nab_values(path, cfg.timestamp_order)
    windows_path = (
        Path(cfg.intervals)
        if cfg.intervals
        else path.parents[2] / "labels" / "combined_windows.json"
    )
    windows = _read_mapping(windows_path)
    key = f"{path.parent.name}/{path.name}"
    if not isinstance(windows, dict) or key not in windows:
        raise DataError(f"{windows_path}: no anomaly windows for {key!r}")
    labels = np.zeros(len(values), dtype=np.int8)
    for i, (start, end) in enumerate(windows[key]):
        s = _parse_time(start, f"{windows_path}: {key} window {i}").timestamp()
        e = _parse_time(end, f"{windows_path}: {key} window {i}").timestamp()
        if e < t[0] or s > t[-1]:
            raise DataError(
                f"{windows_path}: {key} window {i} [{start}, {end}] lies outside the series"
            )
        labels[(t >= s) & (t <= e)] = 1
    # gaps are kept (NAB windows by row; ambient_temperature has multi-day holes)
    return Recording(path.stem, values, labels, ["value"], nab_rate(t), str(path))


def load_recording(cfg: DataConfig) -> Recording:
    """Dispatch on `data.format`; every error names the file and row."""
    if cfg.path is None:
        raise DataError(
            "data.path is not set: point it at a recording (CSV/NPZ file), "
            "e.g. data.path=recordings/sensor_data_x_with_anomalies.csv"
        )
    if not Path(cfg.path).is_file():
        raise DataError(f"{cfg.path}: recording not found (data.path)")
    if cfg.format == "collected":
        return read_collected(cfg)
    if cfg.format == "nab":
        return read_nab(cfg)
    return read_generic(cfg)


# ---------------------------------------------------------------------------------- split + windows


@dataclass
class Prepared:
    """Windows of one recording on a single grid, plus what training and scoring need."""

    windows: np.ndarray  # (W, C, L) z-scored
    labels: np.ndarray  # (W,) 1 when any row of the window is anomalous
    split: np.ndarray  # (W,) TRAIN / VAL / TEST
    train_windows: np.ndarray  # (Wt, C, L) what the VAE trains on (normal rows of the train split)
    train_sequences: np.ndarray  # (S, k + 1) indices into train_windows, consecutive in time
    val_sequences: np.ndarray  # (Sv, k + 1) indices into windows (normal val windows + history)
    row_labels: np.ndarray  # (W * L,) labels of the rows the windows cover
    mean: np.ndarray  # (C,)
    std: np.ndarray  # (C,)
    channels: list[str]
    sample_rate_hz: float
    name: str
    n_rows: int

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {k: v for k, v in self.__dict__.items() if isinstance(v, np.ndarray)}
        meta = json.dumps(
            {
                "channels": self.channels,
                "sample_rate_hz": self.sample_rate_hz,
                "name": self.name,
                "n_rows": self.n_rows,
            }
        )
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, meta=np.array(meta), **arrays)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: Path) -> Prepared:
        try:
            with np.load(path, allow_pickle=False) as archive:
                meta = json.loads(str(archive["meta"]))
                arrays = {k: archive[k] for k in archive.files if k != "meta"}
        except (OSError, ValueError, KeyError) as err:
            raise DataError(
                f"{path}: not a resp-mhavae cache ({err}); delete it and run preprocess"
            ) from err
        return cls(**arrays, **meta)


def _sequences(ok: np.ndarray, k: int) -> np.ndarray:
    """(S, k + 1) index runs [i - k, ..., i] where every window in the run is usable."""
    idx = [np.arange(i - k, i + 1) for i in range(k, len(ok)) if ok[i - k : i + 1].all()]
    return np.stack(idx) if idx else np.zeros((0, k + 1), dtype=np.int64)


def _cut(values: np.ndarray, l_win: int, center: bool = False) -> np.ndarray:
    """(N, C) -> (W, C, L) non-overlapping windows; `center` removes each window's per-channel mean."""
    n = (len(values) // l_win) * l_win
    windows = values[:n].reshape(-1, l_win, values.shape[1]).transpose(0, 2, 1).astype(np.float32)
    return windows - windows.mean(-1, keepdims=True) if center else windows


def _overlapping_train(
    z: np.ndarray, seen: np.ndarray, fit_rows: int, cfg: DataConfig, stride: int
) -> tuple[np.ndarray, np.ndarray]:
    """Training windows every `stride` rows of the fitting part, none touching a seen label, and the
    (k + 1)-runs of them spaced l_win apart (the LSTM's grid, at every offset): more windows from the
    same rows, which a model with ~40 non-overlapping training windows is short of. The starts are the
    offsets 0, stride, 2 stride, ... (< l_win) of every grid window, so each window's predecessors l_win
    back are starts too even where the stride does not divide l_win (NAB's l_win = 47, say)."""
    L, k = cfg.l_win, cfg.look_back_num
    offsets = np.arange(0, L, stride)
    starts = (np.arange(0, fit_rows - L + 1, L)[:, None] + offsets[None, :]).ravel()
    starts = np.sort(starts[starts <= fit_rows - L])
    clean = np.concatenate([[0], np.cumsum(seen)])
    starts = starts[clean[starts + L] - clean[starts] == 0]
    view = np.lib.stride_tricks.sliding_window_view(z, L, axis=0)  # (N - L + 1, C, L)
    windows = np.ascontiguousarray(view[starts], dtype=np.float32)
    if cfg.center_windows:
        windows = windows - windows.mean(-1, keepdims=True)
    index = {int(s): i for i, s in enumerate(starts)}
    runs = [
        [index[int(s) - j * L] for j in range(k, -1, -1)]
        for s in starts
        if all(int(s) - j * L in index for j in range(1, k + 1))
    ]
    return windows, np.asarray(runs, dtype=np.int64).reshape(-1, k + 1)


def check_series(rec: Recording, cfg: DataConfig) -> None:
    """Raise DataError for a series no model can use: too short for one window plus its look-back, or a
    channel that never changes (its z-score is undefined and every detector would score noise)."""
    L, k, n = cfg.l_win, cfg.look_back_num, len(rec.values)
    if n < (k + 1) * L:
        raise DataError(
            f"{rec.source}: {n} rows, shorter than one window plus the look-back "
            f"((look_back_num {k} + 1) x l_win {L} = {(k + 1) * L} rows); use a smaller data.l_win"
        )
    flat = [c for c, span in zip(rec.channels, np.ptp(rec.values, axis=0)) if span == 0]
    if flat:
        raise DataError(
            f"{rec.source}: channel(s) {flat} are constant over all {n} rows; nothing to detect "
            "(drop them from data.channels)"
        )


def prepare(rec: Recording, cfg: DataConfig) -> Prepared:
    """Split chronologically, normalise (per protocol), window; raise when too short for the model.

    Under `split: nab` the training part is NAB's probationary period and no label is used for training
    (its windows all count as normal); the labels are kept for scoring the rows after it.
    """
    check_series(rec, cfg)
    L, k = cfg.l_win, cfg.look_back_num
    n = len(rec.values)
    n_windows = n // L
    fraction = cfg.probation_fraction if cfg.split == "nab" else cfg.train_fraction
    train_w = int(n_windows * fraction)
    val_w = max(1, int(round(train_w * cfg.val_fraction)))
    fit_w = train_w - val_w
    need = k + 2
    if fit_w < need or n_windows - train_w < 1:
        raise DataError(
            f"{rec.source}: {n} rows make {n_windows} windows of data.l_win = {L}; need at least "
            f"{need} training windows plus validation and test windows (use a smaller l_win "
            f"or a longer recording)"
        )
    seen = (
        np.zeros_like(rec.labels) if cfg.split == "nab" else rec.labels
    )  # labels training may use
    split = np.full(n_windows, TEST, dtype=np.int8)
    split[:fit_w] = TRAIN
    split[fit_w:train_w] = VAL
    rows_train = slice(0, fit_w * L)
    normal_train = rec.values[rows_train][seen[rows_train] == 0]
    if cfg.protocol == "original":
        reference = rec.values
    else:
        if len(normal_train) < 2:
            raise DataError(f"{rec.source}: the training part has no normal rows to normalise with")
        reference = normal_train
    mean, std = normalisation_statistics(reference, cfg.normalisation)
    z = zscore(rec.values, mean, std)
    windows = _cut(z, L, cfg.center_windows)  # (W, C, L)
    row_labels = rec.labels[: n_windows * L]
    labels = row_labels.reshape(n_windows, L).max(1).astype(np.int8)
    seen_labels = seen[: n_windows * L].reshape(n_windows, L).max(1)
    if cfg.train_anomalies == "drop_rows":  # the original: splice the normal rows, then re-window
        keep = seen[rows_train] == 0
        train_windows = _cut(z[rows_train][keep], L, cfg.center_windows)
        train_sequences = _sequences(np.ones(len(train_windows), bool), k)
    elif cfg.train_overlap > 1:
        stride = max(1, L // cfg.train_overlap)
        train_windows, train_sequences = _overlapping_train(z, seen, fit_w * L, cfg, stride)
    else:
        usable = (split == TRAIN) & (seen_labels == 0)
        train_windows = windows[usable]
        # consecutive in time: only runs of usable windows count
        positions = np.flatnonzero(usable)
        runs = _sequences(usable, k)  # indices into windows
        lookup = {int(p): i for i, p in enumerate(positions)}
        train_sequences = (
            np.vectorize(lookup.__getitem__, otypes=[np.int64])(runs) if len(runs) else runs
        )
    if len(train_windows) < need:
        raise DataError(
            f"{rec.source}: only {len(train_windows)} normal training windows of {L} samples; "
            f"need {need} (smaller data.l_win, or fewer anomalies in the training part)"
        )
    ok_val = seen_labels == 0
    val_sequences = np.array(
        [s for s in _sequences(ok_val, k) if split[s[-1]] == VAL], dtype=np.int64
    ).reshape(-1, k + 1)
    return Prepared(
        windows,
        labels,
        split,
        train_windows,
        np.asarray(train_sequences, np.int64),
        val_sequences,
        row_labels.astype(np.int8),
        mean.astype(np.float64),
        std.astype(np.float64),
        list(rec.channels),
        float(rec.sample_rate_hz),
        rec.name,
        n,
    )


def normalisation_statistics(reference: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel centre and scale (C,), (C,) of the rows (N, C) the protocol normalises with.

    `robust` takes the median and the interquartile range / 1.349 (equal to the std for Gaussian rows),
    falling back to the std for a channel whose IQR is 0 (mostly one repeated value). Every consumer
    computes (x - centre) / scale, so the pair is stored as `mean` and `std` either way.
    """
    if how == "robust":
        q25, centre, q75 = np.percentile(reference, [25, 50, 75], axis=0)
        scale = (q75 - q25) / 1.349
        scale = np.where(scale > 1e-8, scale, reference.std(0))
    else:
        centre, scale = reference.mean(0), reference.std(0)
    return centre, np.where(scale > 1e-8, scale, 1.0)


def zscore(values: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """(N, C) raw values -> (N, C) z-scores with the training part's statistics (C,)."""
    return (values - mean) / std


# the statistics a trained model's inputs are z-scored with, beside its phase folders
NORMALISATION = "normalisation.json"


def write_normalisation(folder: Path, prepared: Prepared) -> Path:
    """`folder/normalisation.json`: channels, per-channel mean and std, sample rate (atomic)."""
    from sigzoo_shared.io import atomic_write_json

    stats = {
        "channels": list(prepared.channels),
        "mean": [float(x) for x in prepared.mean],
        "std": [float(x) for x in prepared.std],
        "sample_rate_hz": float(prepared.sample_rate_hz),
    }
    return atomic_write_json(Path(folder) / NORMALISATION, stats)


def cache_key(cfg: DataConfig) -> str:
    """A short hash of the data settings, so a cache is never reused for different settings."""
    import hashlib

    from sigzoo_shared.config import to_dict

    return hashlib.sha1(json.dumps(to_dict(cfg), sort_keys=True).encode()).hexdigest()[:12]


def load_prepared(cfg: DataConfig, cache_dir: Path | None = None) -> Prepared:
    """Read + prepare, through `cache_dir/prepared-<hash>.npz` when a cache directory is given."""
    if cache_dir is not None:
        path = Path(cache_dir) / f"prepared-{cache_key(cfg)}.npz"
        if path.is_file():
            return Prepared.load(path)
        prepared = prepare(load_recording(cfg), cfg)
        prepared.save(path)
        return prepared
    return prepare(load_recording(cfg), cfg)


# ------------------------------------------------------------------------------------------ datasets


class WindowDataset(Dataset):
    """Windows (C, L) for the VAE."""

    def __init__(self, windows: np.ndarray) -> None:
        self.x = torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32))

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.x[i]


class SequenceDataset(Dataset):
    """Runs of k + 1 consecutive items (latent sequences or raw windows), (k + 1, D, L) each."""

    def __init__(self, items: np.ndarray | torch.Tensor, sequences: np.ndarray) -> None:
        self.items = torch.as_tensor(np.asarray(items, dtype=np.float32))
        self.sequences = torch.as_tensor(np.asarray(sequences, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.items[self.sequences[i]]
