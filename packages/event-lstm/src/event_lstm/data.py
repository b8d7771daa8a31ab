"""Read, validate and write the two on-disk formats, and wrap them as torch Datasets.

- Windowed sets (`.npz`): `signals` float32 (N, T, C); labelled sets add `event_labels` (N, E) in {0, 1}
  and `event_timings` (N, E), the onset sample inside the window (ignored where the event is absent).
- Continuous recordings (`.npz`): `signal` (T, C) and `fs`; events in an optional CSV `sample,event`
  (by default beside the recording, same stem).

Every check raises `DataError` naming the file, the array and the expected shape or range.
"""

from __future__ import annotations

import csv
import io
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sigzoo_shared import DataError
from sigzoo_shared.io import atomic_write_bytes, atomic_write_csv
from torch.utils.data import Dataset


@dataclass
class WindowSet:
    signals: np.ndarray  # (N, T, C)
    event_labels: np.ndarray | None = None  # (N, E)
    event_timings: np.ndarray | None = None  # (N, E)

    @property
    def labelled(self) -> bool:
        return self.event_labels is not None


@dataclass
class Recording:
    signal: np.ndarray  # (T, C)
    fs_hz: int
    events: np.ndarray | None = None  # (N, 2) int: sample, event


def validate_windows(
    ws: WindowSet, source: str, n_channels: int = 6, n_events: int = 16, min_length: int = 80
) -> WindowSet:
    x = ws.signals
    if x.ndim != 3 or x.shape[2] != n_channels:
        raise DataError(f"{source}: 'signals' has shape {x.shape}, expected (N, T, {n_channels})")
    if x.shape[1] < min_length:
        raise DataError(
            f"{source}: 'signals' windows have T={x.shape[1]} samples, shorter than a template "
            f"({min_length}); expected (N, T >= {min_length}, {n_channels})"
        )
    bad = ~np.isfinite(x)
    if bad.any():
        n, t, c = np.argwhere(bad)[0]
        raise DataError(
            f"{source}: 'signals' holds {int(bad.sum())} NaN/inf values (first at window {n}, "
            f"sample {t}, channel {c}); expected finite values"
        )
    if (ws.event_labels is None) != (ws.event_timings is None):
        raise DataError(f"{source}: 'event_labels' and 'event_timings' must be given together")
    if ws.event_labels is None:
        return ws
    N = x.shape[0]
    for name, arr in (("event_labels", ws.event_labels), ("event_timings", ws.event_timings)):
        if arr.shape != (N, n_events):
            raise DataError(
                f"{source}: '{name}' has shape {arr.shape}, expected ({N}, {n_events}) "
                f"to match 'signals' {x.shape}"
            )
        if not np.isfinite(arr).all():
            raise DataError(f"{source}: '{name}' holds NaN/inf values")
    if not np.isin(ws.event_labels, (0, 1)).all():
        raise DataError(f"{source}: 'event_labels' must be 0 or 1")
    present = ws.event_labels > 0.5
    outside = present & ((ws.event_timings < 0) | (ws.event_timings >= x.shape[1]))
    if outside.any():
        n, e = np.argwhere(outside)[0]
        raise DataError(
            f"{source}: 'event_timings'[{n}, {e}] = {ws.event_timings[n, e]} is outside the window; "
            f"expected an onset sample in [0, {x.shape[1] - 1}]"
        )
    return ws


# what numpy raises for a 0-byte (EOFError), truncated or foreign (BadZipFile, ValueError) file
_NPZ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)


def _open_npz(path: Path) -> np.lib.npyio.NpzFile:
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        z = np.load(path, allow_pickle=False)
    except _NPZ_ERRORS as err:
        raise DataError(f"{path}: not a readable .npz file ({err or type(err).__name__})") from err
    if not isinstance(z, np.lib.npyio.NpzFile):  # a .npy saved under an .npz name
        raise DataError(f"{path}: a single .npy array, expected an .npz archive of named arrays")
    return z


def npz_names(path: Path | str) -> list[str]:
    """The array names in an `.npz` (DataError naming the file when it is empty, corrupt or truncated)."""
    with _open_npz(Path(path)) as z:
        return list(z.files)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    with _open_npz(path) as z:
        try:
            return {k: z[k] for k in z.files}
        except _NPZ_ERRORS as err:
            raise DataError(
                f"{path}: not a readable .npz file ({err or type(err).__name__})"
            ) from err


def load_windows(
    path: Path | str,
    n_channels: int = 6,
    n_events: int = 16,
    min_length: int = 80,
    labelled: bool = True,
) -> WindowSet:
    """A windowed set; `labelled=False` ignores labels (pre-training)."""
    path = Path(path)
    arrays = _read_npz(path)
    if "signals" not in arrays:
        raise DataError(
            f"{path}: no 'signals' array (found {sorted(arrays)}); expected (N, T, {n_channels})"
        )
    ws = WindowSet(signals=arrays["signals"].astype(np.float32))
    if labelled:
        missing = [k for k in ("event_labels", "event_timings") if k not in arrays]
        if missing:
            raise DataError(
                f"{path}: missing {missing}; a labelled set needs 'event_labels' and "
                f"'event_timings' of shape (N, {n_events})"
            )
        ws.event_labels = arrays["event_labels"].astype(np.float32)
        ws.event_timings = arrays["event_timings"].astype(np.float32)
    return validate_windows(ws, str(path), n_channels, n_events, min_length)


def write_windows(path: Path | str, ws: WindowSet) -> Path:
    arrays = {"signals": ws.signals.astype(np.float32)}
    if ws.labelled:
        arrays["event_labels"] = ws.event_labels.astype(np.float32)
        arrays["event_timings"] = ws.event_timings.astype(np.float32)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return atomic_write_bytes(path, buf.getvalue())


def load_recording(
    path: Path | str,
    events_csv: Path | str | None = None,
    n_channels: int = 6,
    fs_hz: int | None = 2000,
) -> Recording:
    """A continuous recording; events from `events_csv` or `<stem>.csv` beside it when present."""
    path = Path(path)
    arrays = _read_npz(path)
    if "signal" not in arrays:
        raise DataError(
            f"{path}: no 'signal' array (found {sorted(arrays)}); expected (T, {n_channels})"
        )
    fs = int(arrays["fs"]) if "fs" in arrays else None
    x = validate_signal(arrays["signal"], fs, str(path), n_channels, fs_hz)
    csv_path = Path(events_csv) if events_csv is not None else path.with_suffix(".csv")
    events = read_events_csv(csv_path) if events_csv is not None or csv_path.is_file() else None
    return Recording(signal=x, fs_hz=fs, events=events)


def validate_signal(
    x: np.ndarray, fs: int | None, source: str, n_channels: int = 6, fs_hz: int | None = 2000
) -> np.ndarray:
    """A recording's signal (T, C) as float32, or a DataError naming `source`, the value and what was
    expected (shape, finite values, sampling rate)."""
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != n_channels:
        raise DataError(f"{source}: 'signal' has shape {x.shape}, expected (T, {n_channels})")
    if not np.issubdtype(x.dtype, np.number):
        raise DataError(f"{source}: 'signal' has dtype {x.dtype}, expected numbers (float32)")
    if not np.isfinite(x).all():
        raise DataError(f"{source}: 'signal' holds {int((~np.isfinite(x)).sum())} NaN/inf values")
    if fs is None:
        raise DataError(f"{source}: no 'fs' (sampling rate) array; expected a scalar, e.g. 2000")
    if fs_hz is not None and fs != fs_hz:
        raise DataError(
            f"{source}: 'fs' is {fs} Hz, expected {fs_hz} Hz (resample or set data.fs_hz)"
        )
    return x.astype(np.float32, copy=False)


def read_events_csv(path: Path) -> np.ndarray:
    if not path.is_file():
        raise DataError(f"{path}: events file not found")
    rows = []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"sample", "event"} <= set(reader.fieldnames):
            raise DataError(
                f"{path}: expected a header with columns 'sample,event', got {reader.fieldnames}"
            )
        for i, row in enumerate(reader, start=2):
            try:
                rows.append((int(float(row["sample"])), int(row["event"])))
            except ValueError as err:
                raise DataError(
                    f"{path}: line {i}: expected integer sample and event, got {row}"
                ) from err
    return np.array(rows, dtype=np.int64).reshape(-1, 2)


def write_recording(path: Path | str, rec: Recording) -> tuple[Path, Path | None]:
    path = Path(path)
    buf = io.BytesIO()
    np.savez(buf, signal=rec.signal.astype(np.float32), fs=np.int64(rec.fs_hz))
    atomic_write_bytes(path, buf.getvalue())
    if rec.events is None:
        return path, None
    csv_path = atomic_write_csv(
        path.with_suffix(".csv"),
        [list(map(int, r)) for r in rec.events],
        header=["sample", "event"],
    )
    return path, csv_path


class WindowDataset(Dataset):
    """Labelled windows -> (x (T, C), labels (E,), timings (E,)); unlabelled -> (x,)."""

    def __init__(self, ws: WindowSet) -> None:
        self.x = torch.from_numpy(ws.signals)
        self.labels = None if ws.event_labels is None else torch.from_numpy(ws.event_labels)
        self.timings = None if ws.event_timings is None else torch.from_numpy(ws.event_timings)

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, ...]:
        if self.labels is None:
            return (self.x[i],)
        return self.x[i], self.labels[i], self.timings[i]
