"""Series files -> scaled windows with labels, as in the original demo.

Pipeline (`make_windows`): min-max scale each signal channel of the series; append the time-encoding
channel (sum over harmonics i in `time_enc_l` of 0.5 (cos(2 pi i n / pattern_len) + 1)); cut sliding
windows of `window` samples every `stride`; label each window by the most frequent pattern id in it (-1 =
noise; ties go to the smaller id); shuffle; add Gaussian noise to the signal channels; min-max scale each
channel again; split train/validation. Labels are kept for plots and metrics only; training never sees them.
"""

from __future__ import annotations

import dataclasses
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sigzoo_shared import DataError
from torch import Tensor
from torch.utils.data import Dataset

from vae_demo.config import DataConfig
from vae_demo.generator import Series, make_series

NOISE_CHUNK = 4096  # windows per draw of the extra noise (bounds the float64 temporary)


def load_series(path: Path | str) -> Series:
    """Read a series written by `vae-demo generate` (.npz) or a CSV with columns ch0..chN[, pattern_id]."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: series file not found")
    if path.suffix == ".csv":
        return _load_csv(path)
    if path.suffix != ".npz":
        raise DataError(f"{path}: unknown series format {path.suffix!r} (expected .npz or .csv)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "signal" not in npz:
                raise DataError(f"{path}: no 'signal' array (found {sorted(npz.files)})")
            signal = np.asarray(npz["signal"], dtype=np.float32)
            ids = np.asarray(npz["pattern_id"], dtype=np.int64) if "pattern_id" in npz else None
            fs = float(npz["fs_hz"]) if "fs_hz" in npz else 128.0
            plen = int(npz["pattern_len"]) if "pattern_len" in npz else 128
            freqs = np.asarray(npz["frequencies_hz"]) if "frequencies_hz" in npz else np.empty(0)
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise DataError(f"{path}: not a readable .npz series ({err})") from err
    return _validated(path, signal, ids, fs, plen, freqs)


def _load_csv(path: Path) -> Series:
    try:
        header = path.open(encoding="utf-8").readline().strip().split(",")
        table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2, dtype=np.float64)
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: not a numeric CSV with a header row ({err})") from err
    if len(header) != table.shape[1]:
        raise DataError(f"{path}: header has {len(header)} columns, rows have {table.shape[1]}")
    channels = [i for i, name in enumerate(header) if name != "pattern_id"]
    ids = table[:, header.index("pattern_id")].astype(np.int64) if "pattern_id" in header else None
    return _validated(path, table[:, channels].astype(np.float32), ids, 128.0, 128, np.empty(0))


def series_from_array(signal: np.ndarray, cfg: DataConfig, what: str = "series") -> Series:
    """A series given as an array: (samples, cfg.n_features) float, or (samples,) when
    n_features is 1, at cfg.fs_hz with cfg.pattern_len-sample patterns.

    The checks `load_series` gives a file (shape, NaN/inf), with `what` naming the array in errors;
    the pattern ids are unknown (-1).
    """
    n_features = cfg.n_features
    arr = np.asarray(signal)
    if arr.ndim == 1 and n_features == 1:
        arr = arr[:, None]  # (N, 1)
    if arr.ndim != 2 or arr.shape[1] != n_features:
        raise DataError(
            f"{what}: shape {arr.shape}, expected (samples, {n_features}) - one column per signal "
            "channel the model was trained on"
        )
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise DataError(f"{what}: dtype {arr.dtype}, expected real numbers")
    return _validated(
        Path(what), arr.astype(np.float32), None, cfg.fs_hz, cfg.pattern_len, np.empty(0)
    )


def _validated(
    path: Path, signal: np.ndarray, ids: np.ndarray | None, fs: float, plen: int, freqs: np.ndarray
) -> Series:
    if signal.ndim != 2 or signal.shape[0] < 2 or signal.shape[1] < 1:
        raise DataError(f"{path}: 'signal' must be (samples, channels), got shape {signal.shape}")
    bad = ~np.isfinite(signal)
    if bad.any():
        row = int(np.argwhere(bad)[0, 0])
        raise DataError(
            f"{path}: {int(bad.sum())} NaN/inf values in the signal (first at sample {row})"
        )
    if ids is None:
        ids = np.full(len(signal), -1, dtype=np.int64)
    if ids.shape != (len(signal),):
        raise DataError(f"{path}: 'pattern_id' has shape {ids.shape}, expected ({len(signal)},)")
    return Series(signal, ids, fs, plen, freqs)


def time_encoding(n_samples: int, pattern_len: int, harmonics: list[int]) -> np.ndarray:
    """(N,) sum over i in `harmonics` of 0.5 (cos(2 pi i n / pattern_len) + 1)."""
    n = np.arange(n_samples)
    return sum(0.5 * (np.cos(2 * np.pi * i * n / pattern_len) + 1) for i in harmonics).astype(
        np.float32
    )


def minmax(
    x: np.ndarray,
    axis: tuple[int, ...],
    lo: np.ndarray | None = None,
    hi: np.ndarray | None = None,
    *,
    in_place: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scale to [0, 1] along `axis` with the data's own range, or with a given (lo, hi) from training.

    Constant channels become 0. Returns (scaled, lo, hi). `in_place` scales the float array x itself,
    for arrays too large to copy (the stride-1 windows).
    """
    if lo is None or hi is None:
        lo, hi = x.min(axis=axis, keepdims=True), x.max(axis=axis, keepdims=True)
    span = np.where(hi > lo, hi - lo, 1)
    if not in_place:
        return (x - lo) / span, lo, hi
    x -= lo
    x /= span.astype(x.dtype)
    return x, lo, hi


def window_labels(pattern_id: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    """Mode of `pattern_id` in each window (ties -> smaller id, so -1 = noise wins its ties)."""
    classes, inverse = np.unique(pattern_id, return_inverse=True)
    counts = np.zeros((len(pattern_id) + 1, len(classes)), dtype=np.int32)
    counts[1 + np.arange(len(pattern_id)), inverse] = 1
    np.cumsum(counts, axis=0, out=counts)
    in_window = counts[starts + window] - counts[starts]  # (N, K)
    return classes[in_window.argmax(axis=1)]


@dataclass
class Windows:
    x: np.ndarray  # (N, C, W) float32 in [0, 1]; C = F signal channels (+ 1 time channel, last)
    y: np.ndarray  # (N,) int64 labels, -1 = noise
    start: np.ndarray  # (N,) window start sample in the series
    scaling: dict[
        str, np.ndarray
    ]  # the two min-max ranges, to scale new signals like these windows


def make_windows(
    series: Series,
    cfg: DataConfig,
    rng: np.random.Generator,
    shuffle: bool = True,
    scaling: dict[str, np.ndarray] | None = None,
) -> Windows:
    """The original's preprocessing (see the module docstring) for one series.

    `scaling` (the `.scaling` of training windows) scales new signals exactly as the training data was.
    """
    sc = scaling or {}
    if len(series.signal) < cfg.window:
        raise DataError(
            f"series of {len(series.signal)} samples is shorter than data.window={cfg.window}"
        )
    if series.signal.shape[1] != cfg.n_features:
        raise DataError(
            f"series has {series.signal.shape[1]} channels, data.n_features={cfg.n_features}"
        )
    x, lo1, hi1 = minmax(series.signal, (0,), sc.get("lo1"), sc.get("hi1"))  # (N, F)
    if cfg.time_encoding:
        t = time_encoding(len(x), series.pattern_len, cfg.time_enc_l)
        x = np.concatenate([x, t[:, None]], axis=1)  # (N, F+1)
    starts = np.arange(0, len(x) - cfg.window + 1, cfg.stride)
    labels = window_labels(series.pattern_id, starts, cfg.window)
    order = rng.permutation(len(starts)) if shuffle else np.arange(len(starts))
    labels, starts = labels[order], starts[order]
    view = np.lib.stride_tricks.sliding_window_view(x, cfg.window, axis=0)  # (N-W+1, C, W)
    # one float32 copy of the windows, already shuffled; everything after works in place (the stride-1
    # windows of the default data are ~200 MB, and each extra copy would add as much)
    windows = view[starts].astype(np.float32, copy=False)  # (N, C, W)
    if cfg.extra_noise_std > 0:
        F = cfg.n_features
        for i in range(0, len(windows), NOISE_CHUNK):  # the same draws as one call, in chunks
            part = windows[i : i + NOISE_CHUNK, :F]
            part += rng.normal(0, cfg.extra_noise_std, size=part.shape).astype(np.float32)
    windows, lo2, hi2 = minmax(windows, (0, 2), sc.get("lo2"), sc.get("hi2"), in_place=True)
    return Windows(windows, labels, starts, {"lo1": lo1, "hi1": hi1, "lo2": lo2, "hi2": hi2})


def series_windows(
    series: Series, cfg: DataConfig, scaling: dict[str, np.ndarray], stride: int = 1
) -> Windows:
    """The windows of a new series, in order, every `stride` samples, scaled with the training
    windows' ranges (`scaling`) and without the training noise: what `encode --input` and the Python
    API (`vae_demo.api`) feed the encoder. Window i starts at sample i * stride."""
    if stride < 1:
        raise DataError(f"stride={stride}: must be >= 1 sample")
    cfg = dataclasses.replace(cfg, stride=stride, extra_noise_std=0.0)
    return make_windows(series, cfg, np.random.default_rng(0), shuffle=False, scaling=scaling)


@dataclass
class Splits:
    train: Windows
    val: Windows


def split(w: Windows, val_fraction: float) -> Splits:
    n_val = max(1, int(round(len(w.y) * val_fraction)))
    cut = len(w.y) - n_val
    part = lambda sl: Windows(w.x[sl], w.y[sl], w.start[sl], w.scaling)  # noqa: E731
    return Splits(part(slice(0, cut)), part(slice(cut, None)))


def load_splits(cfg: DataConfig) -> Splits:
    """Windows of `cfg.series_path` (or the generated series), shuffled and split by `cfg.seed`."""
    series = load_series(cfg.series_path) if cfg.series_path is not None else make_series(cfg)
    rng = np.random.default_rng(cfg.seed + 1)
    return split(make_windows(series, cfg, rng), cfg.val_fraction)


class WindowDataset(Dataset):
    """(x, y) windows that a DataLoader fetches a whole batch at a time (`__getitems__`).

    Why: indexing one window at a time and stacking 256 of them cost ~0.5 CPU-s per epoch of the
    default data, 5 % of a fast epoch; one indexed copy per batch gives the same batches (the loader's
    sampler and its seeded shuffle are unchanged). Pair it with `collate=keep_batch`.
    """

    def __init__(self, w: Windows) -> None:
        self.x, self.y = torch.from_numpy(w.x), torch.from_numpy(w.y)  # (N, C, T), (N,)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.x[i], self.y[i]

    def __getitems__(self, indices: list[int]) -> tuple[Tensor, Tensor]:
        i = torch.as_tensor(indices)
        return self.x[i], self.y[i]  # (b, C, T), (b,)


def keep_batch(batch: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    """The loader's collate for `WindowDataset`: its batches are already stacked."""
    return batch


def to_dataset(w: Windows) -> WindowDataset:
    """(x, y) pairs; y rides along for plots only. Load it with `collate_fn=keep_batch`."""
    return WindowDataset(w)
