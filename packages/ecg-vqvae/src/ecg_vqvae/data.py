"""Read and validate WFDB records, cut them into windows, split them by patient, cache the tensors.

A record is read as physical units (mV, `wfdb.rdrecord(...).p_signal`), first two leads. Every problem a
user can cause is a `DataError` naming the record: missing `.hea`/`.dat`, a truncated `.dat`, fewer than two
leads, NaN samples (never zero-filled). A record at another sampling rate is resampled to
`data.samples_per_second` with `scipy.signal.resample_poly` (logged).

Splits are patient-wise (whole records): `record_order` takes the first `train_fraction` of the sorted
record names for training (the original system's 70/30 split) and the rest for test; `de_chazal` trains on
the DS1 records present and tests on the DS2 records present (de Chazal et al., IEEE TBME 51(7), 2004).
`val_fraction` of the training records (the last ones) are held out for validation and checkpoint choice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from sigzoo_shared import DataError
from torch.utils.data import Dataset

from ecg_vqvae.baselines import repeat_last_beat
from ecg_vqvae.config import DS1, DS2, DataConfig

log = logging.getLogger(__name__)

_BYTES_PER_SAMPLE = {"212": 1.5, "16": 2.0, "80": 1.0, "61": 2.0, "160": 2.0, "24": 3.0, "32": 4.0}


# ------------------------------------------------------------------------------------------- records


def find_records(data_dir: Path | str, names: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Sorted record names in `data_dir` (one per `.hea`), or `names` after checking each header exists."""
    folder = Path(data_dir)
    if not folder.is_dir():
        raise DataError(
            f"{folder}: data directory not found (set data.data_dir to a folder of WFDB records)"
        )
    if names:
        missing = [n for n in names if not (folder / f"{n}.hea").is_file()]
        if missing:
            raise DataError(
                f"{folder}: record header(s) missing: {', '.join(f'{n}.hea' for n in missing)}"
            )
        return sorted(names)
    found = sorted(p.stem for p in folder.glob("*.hea"))
    if not found:
        raise DataError(f"{folder}: no WFDB records (*.hea) found")
    return found


MIN_SOURCE_FS_HZ = 100  # below this the QRS (energy up to ~40 Hz) is not in the record to resample
# WFDB beat annotation symbols (MIT-BIH): every annotation that marks a QRS complex.
BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")


def check_record(
    data_dir: Path | str, name: str, leads: Sequence[str] = (), n_leads: int = 2
) -> tuple[object, list[int]]:
    """The record's WFDB header and the channel indices to read, after every header-level check.

    Cheap (no signal read), so a whole evaluation set is validated before anything is written. Raises
    DataError naming the record: missing/unreadable header, a requested lead absent, too few leads, a
    sampling rate below MIN_SOURCE_FS_HZ, a missing or truncated signal file.
    """
    import wfdb

    base = Path(data_dir) / name
    if not base.with_suffix(".hea").is_file():
        raise DataError(f"{base}.hea: record header not found")
    try:
        header = wfdb.rdheader(str(base))
    except (ValueError, OSError, IndexError) as err:
        raise DataError(f"{base}.hea: unreadable WFDB header ({err})") from err
    names = [str(n) for n in (header.sig_name or [])]
    if leads:
        missing = [lead for lead in leads if lead not in names]
        if missing:
            raise DataError(
                f"{base}: no lead {', '.join(repr(m) for m in missing)} (has {', '.join(names)}); "
                "set data.leads to leads every record has"
            )
        channels = [names.index(lead) for lead in leads]
    else:
        channels = list(range(n_leads))
    if header.n_sig < n_leads or len(channels) != n_leads:
        raise DataError(
            f"{base}: {header.n_sig if not leads else len(channels)} lead(s), expected {n_leads} "
            "(model.in_channels; two-lead ECG such as MLII and V1)"
        )
    check_rate(header.fs, str(base))
    _check_signal_files(base, header, channels)
    return header, channels


def read_record(
    data_dir: Path | str, name: str, fs: int, leads: Sequence[str] = (), n_leads: int = 2
) -> np.ndarray:
    """(n_samples, n_leads) float32 signal in mV at `fs` Hz; raises DataError naming the record."""
    import wfdb

    base = Path(data_dir) / name
    header, channels = check_record(data_dir, name, leads, n_leads)
    try:
        record = wfdb.rdrecord(str(base), channels=channels, physical=True)
    except (ValueError, OSError, IndexError) as err:
        raise DataError(f"{base}: cannot read signal ({err}); truncated or corrupt .dat?") from err
    x = np.asarray(record.p_signal, dtype=np.float64)
    if header.sig_len and x.shape[0] < header.sig_len:
        raise DataError(
            f"{base}.dat: {x.shape[0]} samples, header says {header.sig_len} (truncated file)"
        )
    check_finite(x, header.fs, str(base), "Choose data.records without it")
    return resample(x, header.fs, fs, str(base)).astype(np.float32)


def check_rate(fs: float, where: str) -> None:
    """A DataError naming `where` when `fs` (Hz) is too low to hold an ECG's QRS complex."""
    if not fs >= MIN_SOURCE_FS_HZ:
        raise DataError(
            f"{where}: sampled at {fs:g} Hz, below the {MIN_SOURCE_FS_HZ} Hz this model can use "
            "(the QRS complex carries energy up to ~40 Hz; resampling cannot restore it)"
        )


def check_finite(x: np.ndarray, fs: float, where: str, advice: str = "") -> None:
    """A DataError naming `where` and the first bad sample when x (n, L) holds NaN or inf."""
    bad = ~np.isfinite(x)
    if bad.any():
        idx = np.flatnonzero(bad.any(axis=1))
        raise DataError(
            f"{where}: {len(idx)} NaN/invalid samples, first at {idx[0] / fs:.2f} s "
            f"(sample {idx[0]}); refusing to zero-fill. {advice}".rstrip()
        )


def resample(x: np.ndarray, fs_from: float, fs_to: int, where: str) -> np.ndarray:
    """x (n, L) at `fs_from` Hz -> (n * fs_to / fs_from, L) at `fs_to` (polyphase, scipy); x unchanged
    when the rates agree."""
    if fs_from == fs_to:
        return x
    ratio = (
        Fraction(fs_to, int(round(fs_from)))
        if float(fs_from).is_integer()
        else Fraction(fs_to / fs_from).limit_denominator(1000)
    )
    from scipy.signal import resample_poly

    log.info("%s: resampling %g Hz -> %d Hz", where, fs_from, fs_to)
    return resample_poly(x, ratio.numerator, ratio.denominator, axis=0)


def signal_array(
    signal: object, fs: float, n_leads: int, model_fs: int, min_samples: int, what: str
) -> np.ndarray:
    """A user's array (L, n) in mV at `fs` Hz -> (L, n') float32 at `model_fs`, with the checks a
    record gets: `n_leads` leads (a 1-D array only for a one-lead model), a rate of at least
    MIN_SOURCE_FS_HZ (others resampled as records are), no NaN, at least `min_samples` at `model_fs`.
    Raises DataError naming `what` and the value found."""
    try:
        x = np.asarray(signal, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise DataError(f"{what}: not an array of numbers in mV ({err})") from err
    if x.ndim == 1 and n_leads == 1:
        x = x[None]
    if x.ndim != 2 or x.shape[0] != n_leads:
        raise DataError(
            f"{what}: shape {x.shape}, expected ({n_leads}, samples): {n_leads} lead(s) in rows, "
            "in mV (e.g. wfdb's p_signal.T)"
        )
    try:
        fs = float(fs)
    except (TypeError, ValueError) as err:
        raise DataError(f"{what}: fs={fs!r} is not a sampling rate in Hz") from err
    check_rate(fs, what)
    check_finite(x.T, fs, what)
    x = resample(x.T, fs, model_fs, what).T  # (L, n')
    if x.shape[1] < min_samples:
        raise DataError(
            f"{what}: {x.shape[1] / model_fs:.3g} s long, need at least {min_samples / model_fs:g} s "
            f"({min_samples} samples at {model_fs} Hz)"
        )
    return np.ascontiguousarray(x, dtype=np.float32)


def read_beats(data_dir: Path | str, name: str, fs: int) -> np.ndarray:
    """Sample indices (at `fs` Hz) of the annotated beats in the record's `.atr` file, sorted.

    Raises DataError when the `.atr` is missing or unreadable: the R-peak timing error needs it.
    """
    import wfdb

    base = Path(data_dir) / name
    if not base.with_suffix(".atr").is_file():
        raise DataError(
            f"{base}.atr: beat annotations not found (needed for the R-peak timing error; "
            "pass evaluate.beat_metrics=false to score without it)"
        )
    try:
        ann = wfdb.rdann(str(base), "atr")
    except (ValueError, OSError, IndexError) as err:
        raise DataError(f"{base}.atr: unreadable annotation file ({err})") from err
    keep = np.asarray([s in BEAT_SYMBOLS for s in ann.symbol], dtype=bool)
    samples = np.asarray(ann.sample, dtype=np.int64)[keep] if len(keep) else np.zeros(0, int)
    source_fs = float(ann.fs) if ann.fs else float(fs)
    return np.sort(np.round(samples * fs / source_fs).astype(np.int64))


def _check_signal_files(base: Path, header: object, channels: Sequence[int]) -> None:
    """Each .dat holding a read channel exists and is long enough for the header's sample count."""
    files = list(dict.fromkeys(header.file_name[c] for c in channels))  # type: ignore[attr-defined]
    for file_name in files:
        path = base.parent / file_name
        if not path.is_file():
            raise DataError(f"{path}: signal file named in {base}.hea not found")
        leads = [i for i, f in enumerate(header.file_name) if f == file_name]  # type: ignore[attr-defined]
        fmt = str(header.fmt[leads[0]])  # type: ignore[attr-defined]
        if fmt in _BYTES_PER_SAMPLE and header.sig_len:  # type: ignore[attr-defined]
            expected = math.ceil(_BYTES_PER_SAMPLE[fmt] * len(leads) * header.sig_len)  # type: ignore[attr-defined]
            size = path.stat().st_size
            if size < expected:
                raise DataError(
                    f"{path}: {size} bytes, expected {expected} for {header.sig_len} samples "  # type: ignore[attr-defined]
                    f"x {len(leads)} leads in format {fmt} (truncated file)"
                )


def record_segment(data_dir: Path | str, name: str, cfg: DataConfig) -> np.ndarray:
    """(2, n) float32: the first `signals_per_patient` windows' worth of the record, cached if configured."""
    n_win = cfg.signals_per_patient
    cache = _cache_path(cfg, data_dir, name)
    if cache is not None and cache.is_file():
        return np.load(cache)
    x = read_record(data_dir, name, cfg.samples_per_second, cfg.leads).T  # (2, n)
    w = cfg.window_samples
    if x.shape[1] < 2 * w:
        raise DataError(
            f"{Path(data_dir) / name}: {x.shape[1] / cfg.samples_per_second:.1f} s long, need at "
            f"least two windows of {cfg.input_signal_duration} s"
        )
    if n_win is not None:
        x = x[:, : n_win * w]
    x = np.ascontiguousarray(x)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npy")
        np.save(tmp, x)
        tmp.replace(cache)
    return x


def _cache_path(cfg: DataConfig, data_dir: Path | str, name: str) -> Path | None:
    if cfg.cache_dir is None:
        return None
    key = json.dumps(
        [
            str(Path(data_dir).resolve()),
            name,
            cfg.samples_per_second,
            cfg.input_signal_duration,
            cfg.signals_per_patient,
            list(cfg.leads),
        ]
    )
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    return Path(cfg.cache_dir) / f"{name}-{digest}.npy"


def windows(segment: np.ndarray, window_samples: int) -> np.ndarray:
    """(n_windows, 2, W) non-overlapping windows from the start of a (2, n) segment."""
    n = segment.shape[1] // window_samples
    return segment[:, : n * window_samples].reshape(2, n, window_samples).transpose(1, 0, 2).copy()


# --------------------------------------------------------------------------------------------- split


def split_records(names: list[str], cfg: DataConfig) -> dict[str, list[str]]:
    """Patient-wise split into train/val/test record names (see module docstring)."""
    names = sorted(names)
    if cfg.split == "de_chazal":
        train = [n for n in names if n in DS1]
        test = [n for n in names if n in DS2]
        if not train or not test:
            raise DataError(
                f"data.split=de_chazal needs records of both DS1 and DS2; found {len(train)} DS1 and "
                f"{len(test)} DS2 records among {len(names)} (use data.split=record_order)"
            )
    else:
        if len(names) < 2:
            raise DataError(f"data.split=record_order needs at least 2 records, found {len(names)}")
        n_train = min(len(names) - 1, max(1, int(round(cfg.train_fraction * len(names)))))
        train, test = names[:n_train], names[n_train:]
    n_val = int(round(cfg.val_fraction * len(train)))
    if cfg.val_fraction > 0 and len(train) > 1:
        n_val = max(1, n_val)
    n_val = min(n_val, len(train) - 1)
    return {"train": train[: len(train) - n_val], "val": train[len(train) - n_val :], "test": test}


def load_segments(cfg: DataConfig, names: list[str]) -> dict[str, np.ndarray]:
    if cfg.data_dir is None:
        raise DataError("data.data_dir is not set: pass data.data_dir=<folder of WFDB records>")
    return {n: record_segment(cfg.data_dir, n, cfg) for n in names}


# ------------------------------------------------------------------------------------------ datasets


class WindowDataset(Dataset):
    """Windows (2, W) of several records, with the record of each window kept for per-record tables."""

    def __init__(self, segments: dict[str, np.ndarray], window_samples: int) -> None:
        parts = [windows(seg, window_samples) for seg in segments.values()]
        self.x = (
            torch.from_numpy(np.concatenate(parts)) if parts else torch.zeros(0, 2, window_samples)
        )
        self.record = [name for name, p in zip(segments, parts) for _ in range(len(p))]

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.x[i]


class ForecastDataset(Dataset):
    """(context, future) pairs: `context_samples` then `future_samples`, hopping `stride` inside records.

    With `prior_fs`, each item also carries the repeat-last-beat extrapolation of its context (the
    forecaster's prior), computed once per item and kept.
    """

    def __init__(
        self,
        segments: dict[str, np.ndarray],
        context_samples: int,
        future_samples: int,
        stride: int,
        prior_fs: float | None = None,
    ) -> None:
        self.segments = {k: torch.from_numpy(v) for k, v in segments.items()}
        self.context, self.future = context_samples, future_samples
        self.prior_fs = prior_fs
        self._priors: dict[int, torch.Tensor] = {}
        self.index: list[tuple[str, int]] = []
        for name, seg in segments.items():
            last = seg.shape[1] - context_samples - future_samples
            self.index += [(name, s) for s in range(0, last + 1, stride)]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, ...]:
        name, s = self.index[i]
        seg = self.segments[name]
        c = s + self.context
        context, future = seg[:, s:c], seg[:, c : c + self.future]
        if self.prior_fs is None:
            return context, future
        if i not in self._priors:
            prior = repeat_last_beat(context.numpy(), self.future, self.prior_fs)
            self._priors[i] = torch.from_numpy(np.ascontiguousarray(prior, dtype=np.float32))
        return context, future, self._priors[i]

    @property
    def record(self) -> list[str]:
        return [name for name, _ in self.index]
