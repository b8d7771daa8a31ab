"""Finding, reading and validating machine-sound clips; log-mel features; the feature cache; datasets.

Layouts, told apart by the file names (one layout per folder):

    DCASE 2021-2025 Task 2: <machine folder>/{train,test}/section_XX_{source,target}_{train,test}_
                            {normal,anomaly}_NNNN[_<attribute pairs>].<wav|flac>, evaluation test clips
                            section_XX_NNNN.<wav|flac> (no domain, no label), and attributes_XX.csv
                            (file_name, then d1p,d1v,d2p,d2v,...: the attribute pairs of each clip)
    DCASE 2020 Task 2:      <root>/<machine_type>/{train,test}/{normal,anomaly}_id_XX_NNNNNNNN.<wav|flac>,
                            evaluation clips id_XX_NNNNNNNN, and the seed's flat normal_NNN / anomaly_NNN

A machine folder is one that holds `train/` or `test/`; the machine type is its name. The grouping key
of a clip (`machine_id`) is its section in the 2021+ layout and its machine ID in the 2020 one. A name
that fits neither layout, and an attributes file that disagrees with a name, are `DataError`s naming
the file.

Features follow the seed and the baseline: power mel spectrogram (librosa conventions: centred frames,
zero padding, periodic Hann window, Slaney mel filters) in dB as `20 / power * log10(mel + eps)`. The default `numpy` backend computes exactly that with a cached filter
bank and scipy's FFT (tested equal to `librosa.feature.melspectrogram`), avoiding librosa's ~30 s numba
compilation on first use. Every file problem is a `DataError` naming the file; nothing is scored silently.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import re
import sys
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import fft as sp_fft
from scipy import signal
from sigzoo_shared import DataError

from dcase_cae.config import DataConfig

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac")
EPS = sys.float_info.epsilon  # the baseline's log offset
NO_ID = "all"  # machine ID of files named without `id_XX` (the seed's flat layout)
LAYOUT_2020, LAYOUT_2021 = "dcase2020", "dcase2021"
# section_00_source_test_anomaly_0001_car_B1_spd_31V_mic_1 (dev) or section_00_0001 (evaluation)
_NAME_2021 = re.compile(
    r"^section_(?P<section>\d+)_(?:(?P<domain>source|target)_(?:train|test)_"
    r"(?P<label>normal|anomaly)_)?\d+(?:_(?P<attributes>.+))?$",
    re.IGNORECASE,
)
# anomaly_id_04_00000012 (dev), id_04_00000012 (evaluation), normal_00 (the seed's flat names)
_NAME_2020 = re.compile(r"^(?:(?P<label>normal|anomaly)_)?(?:id_(?P<id>\d+)_)?\d+$", re.IGNORECASE)

# -------------------------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class Clip:
    """One audio file: its path, machine type, group (machine ID or section) and label (1 anomaly, 0
    normal, None unknown); in the 2021+ layout also its domain ('source' / 'target', None in evaluation
    data) and its attributes (`car_B1_spd_31V_mic_1`, '' when none are known)."""

    path: Path
    machine_type: str
    machine_id: str
    label: int | None
    layout: str = LAYOUT_2020
    domain: str | None = None
    attributes: str = ""


def parse_name(path: Path, machine_type: str) -> Clip:
    """The clip a file name describes; a name in neither DCASE layout is a `DataError` naming it."""
    stem = path.stem
    m = _NAME_2021.match(stem)
    if m is not None:
        label = m.group("label")
        return Clip(
            path,
            machine_type,
            m.group("section"),
            None if label is None else int(label.lower() == "anomaly"),
            LAYOUT_2021,
            None if m.group("domain") is None else m.group("domain").lower(),
            m.group("attributes") or "",
        )
    m = _NAME_2020.match(stem)
    if m is not None and (m.group("label") or m.group("id")):
        label = m.group("label")
        return Clip(
            path,
            machine_type,
            m.group("id") or NO_ID,
            None if label is None else int(label.lower() == "anomaly"),
        )
    raise DataError(
        f"{path}: file name fits neither DCASE layout (expected section_XX_<source|target>_"
        f"<train|test>_<normal|anomaly>_NNNN[_attributes], section_XX_NNNN, "
        f"<normal|anomaly>_id_XX_NNNNNNNN or id_XX_NNNNNNNN)"
    )


def read_attributes(machine_dir: Path) -> dict[str, str]:
    """File stem -> attribute string (`car_B1_spd_31V_mic_1`) from every `attributes_XX.csv` there.

    Keys are stems so that a `.flac` copy matches a csv written for the official `.wav` files.
    """
    found: dict[str, str] = {}
    for path in sorted(machine_dir.glob("attributes_*.csv")):
        try:
            with path.open(newline="", encoding="utf-8") as fh:
                rows = list(csv.reader(fh))
        except (OSError, UnicodeDecodeError) as err:
            raise DataError(f"{path}: cannot read attributes file ({err})") from err
        if not rows or not rows[0] or rows[0][0].strip() != "file_name":
            raise DataError(f"{path}: expected a header starting with 'file_name'")
        for line, row in enumerate(rows[1:], start=2):
            if not row:
                continue
            values = [v.strip() for v in row[1:] if v.strip()]
            found[Path(row[0].strip()).stem] = "_".join(values)
            if len(values) % 2:
                raise DataError(
                    f"{path}: line {line}: {len(values)} attribute fields, expected "
                    f"name,value pairs"
                )
    return found


def _with_attributes(clip: Clip, attributes: dict[str, str], where: Path) -> Clip:
    listed = attributes.get(clip.path.stem)
    if listed is None or clip.layout != LAYOUT_2021:
        return clip
    if clip.attributes and listed and clip.attributes != listed:
        raise DataError(
            f"{where}: {clip.path.stem} has attributes {listed!r} there, but its file name says "
            f"{clip.attributes!r} ({clip.path})"
        )
    return replace(clip, attributes=clip.attributes or listed)


def machine_dirs(data_dir: Path | str | None, machine_type: str | None = None) -> dict[str, Path]:
    """Machine type -> folder holding `train/` and/or `test/`; raises `DataError` naming what is missing."""
    if data_dir is None:
        raise DataError("no data directory: pass --data-dir DIR (or set data.data_dir)")
    root = Path(data_dir)
    if not root.is_dir():
        raise DataError(f"{root}: data directory not found")
    if (root / "train").is_dir() or (root / "test").is_dir():
        found = {root.name: root}
    else:
        found = {
            d.name: d
            for d in sorted(root.iterdir())
            if d.is_dir() and ((d / "train").is_dir() or (d / "test").is_dir())
        }
    if not found:
        raise DataError(
            f"{root}: no machine folders with train/ or test/ inside (expected "
            f"<root>/<machine_type>/train/*.wav or <root>/train/*.wav)"
        )
    if machine_type is not None:
        if machine_type not in found:
            raise DataError(
                f"{root}: machine type {machine_type!r} not found (found: {', '.join(found)})"
            )
        found = {machine_type: found[machine_type]}
    return found


def list_clips(machine_dir: Path, split: str, machine_type: str) -> list[Clip]:
    """Audio clips of one split, sorted by name; an absent or empty folder is a `DataError`."""
    folder = machine_dir / split
    if not folder.is_dir():
        raise DataError(f"{folder}: {split} folder not found")
    files = sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
    )
    if not files:
        raise DataError(f"{folder}: no audio files (*.wav or *.flac)")
    clips = [parse_name(p, machine_type) for p in files]
    layout = Counter(c.layout for c in clips).most_common(1)[0][0]
    odd = next((c for c in clips if c.layout != layout), None)
    if odd is not None:
        example = next(c for c in clips if c.layout == layout)
        raise DataError(
            f"{odd.path}: {odd.layout} file name among {layout} files (e.g. "
            f"{example.path.name}); one layout per folder"
        )
    if layout == LAYOUT_2021:
        attributes = read_attributes(machine_dir)
        csvs = sorted(machine_dir.glob("attributes_*.csv"))
        clips = [_with_attributes(c, attributes, csvs[0] if csvs else machine_dir) for c in clips]
    return clips


# ---------------------------------------------------------------------------------------------- audio


def audio_info(path: Path) -> tuple[int, int, int]:
    """(sample rate, channels, frames) from the header; unreadable files raise `DataError`."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except (RuntimeError, OSError) as err:  # soundfile.LibsndfileError is a RuntimeError
        raise DataError(
            f"{path}: cannot read audio header ({err}); corrupt or not WAV/FLAC"
        ) from err
    return int(info.samplerate), int(info.channels), int(info.frames)


def _check_riff_length(path: Path) -> None:
    """A WAV whose RIFF header announces more bytes than the file holds was cut off (libsndfile would
    silently read the shorter data)."""
    with path.open("rb") as fh:
        head = fh.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return
    announced = int.from_bytes(head[4:8], "little") + 8
    actual = path.stat().st_size
    if announced != 0xFFFFFFFF + 8 and actual < announced:
        raise DataError(
            f"{path}: truncated: the WAV header announces {announced} bytes, the file has {actual}"
        )


def read_audio(
    path: Path, cfg: DataConfig, target_rate_hz: int | None = None
) -> tuple[np.ndarray, int]:
    """Mono float32 samples and their rate, validated: channel choice, rate, truncation, NaN, silence."""
    import soundfile as sf

    _check_riff_length(path)
    try:
        with sf.SoundFile(str(path)) as fh:
            rate, expected = fh.samplerate, fh.frames
            x = fh.read(dtype="float32", always_2d=True)
    except (RuntimeError, OSError) as err:
        raise DataError(f"{path}: cannot decode audio ({err}); corrupt or truncated file") from err
    if x.shape[0] == 0:
        raise DataError(f"{path}: no samples (empty or truncated file)")
    if x.shape[0] < expected:
        raise DataError(
            f"{path}: truncated: header announces {expected} frames, only {x.shape[0]} read"
        )
    return check_waveform(x, rate, cfg, str(path), target_rate_hz)


def check_waveform(
    x: np.ndarray,
    rate: int,
    cfg: DataConfig,
    where: str,
    target_rate_hz: int | None = None,
) -> tuple[np.ndarray, int]:
    """One clip's samples, (S,) mono or (S, channels), as validated mono float32 at the target rate.

    The checks every clip passes, read from a file or given as an array: one channel (or
    `data.channel`), finite samples, not silent (`data.min_peak`), the machine type's sample rate
    (or resampled with `data.resample`). Each failure is a `DataError` naming `where`.
    """
    x = np.asarray(x)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] == 0 or not np.issubdtype(x.dtype, np.number):
        raise DataError(
            f"{where}: samples of shape {x.shape} and dtype {x.dtype}, expected a non-empty "
            f"numeric (samples,) or (samples, channels) array"
        )
    channels = x.shape[1]
    if channels > 1:
        if cfg.channel is None:
            raise DataError(
                f"{where}: {channels} channels, expected mono (set data.channel=0 or "
                f"--channel 0 to use one channel)"
            )
        if cfg.channel >= channels:
            raise DataError(f"{where}: data.channel={cfg.channel} but it has {channels} channels")
        x = x[:, cfg.channel : cfg.channel + 1]
    y = np.ascontiguousarray(x[:, 0], dtype=np.float32)
    if not np.isfinite(y).all():
        raise DataError(f"{where}: {int((~np.isfinite(y)).sum())} non-finite samples (NaN/inf)")
    peak = float(np.abs(y).max())
    if peak < cfg.min_peak:
        raise DataError(f"{where}: silent clip (peak {peak:.3g} < data.min_peak={cfg.min_peak:g})")
    if target_rate_hz is not None and rate != target_rate_hz:
        if not cfg.resample:
            raise DataError(
                f"{where}: sample rate {rate} Hz, expected {target_rate_hz} Hz, the machine "
                f"type's rate (set data.resample=true or --resample)"
            )
        log.info("%s: resampling %d Hz -> %d Hz", where, rate, target_rate_hz)
        g = np.gcd(rate, target_rate_hz)
        y = signal.resample_poly(y, target_rate_hz // g, rate // g).astype(np.float32)
        rate = target_rate_hz
    return y, rate


def common_rate(clips: Sequence[Clip], cfg: DataConfig) -> int:
    """The one sample rate of a machine type's clips: data.sample_rate_hz, or the files' (must agree).

    With `data.resample`, disagreeing files are resampled to the majority rate; without, the first file
    that differs is named in the error.
    """
    rates = {c.path: audio_info(c.path)[0] for c in clips}
    if cfg.sample_rate_hz is not None:
        target = cfg.sample_rate_hz
    else:
        target = Counter(rates.values()).most_common(1)[0][0]
    if not cfg.resample:
        for path, rate in rates.items():
            if rate != target:
                why = (
                    "data.sample_rate_hz"
                    if cfg.sample_rate_hz is not None
                    else "most files of this type"
                )
                raise DataError(
                    f"{path}: sample rate {rate} Hz, expected {target} Hz ({why}); set "
                    f"data.resample=true (or --resample) to resample"
                )
    return target


# ------------------------------------------------------------------------------------------- features


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default, htk=False): linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(
        f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-12) / min_log_hz) / logstep, f / f_sp
    )


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


@lru_cache(maxsize=16)
def mel_filterbank(sample_rate_hz: int, n_fft: int, n_mels: int) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular Slaney-normalised filters, as `librosa.filters.mel`."""
    fft_hz = np.linspace(0, sample_rate_hz / 2, 1 + n_fft // 2)
    mel_hz = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sample_rate_hz / 2.0), n_mels + 2))
    fdiff = np.diff(mel_hz)
    ramps = mel_hz[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_hz[2 : n_mels + 2] - mel_hz[:n_mels]))[:, None]
    return weights.astype(np.float32)


@lru_cache(maxsize=4)
def _hann(n_fft: int) -> np.ndarray:
    return signal.get_window("hann", n_fft, fftbins=True).astype(np.float32)


def log_mel(y: np.ndarray, sample_rate_hz: int, cfg: DataConfig) -> np.ndarray:
    """(n_mels, T) log-mel energies in dB, T = 1 + len(y) // hop_length (centred frames)."""
    if cfg.feature_backend == "librosa":
        import librosa

        mel = librosa.feature.melspectrogram(
            y=y,
            sr=sample_rate_hz,
            n_fft=cfg.n_fft,
            hop_length=cfg.hop_length,
            n_mels=cfg.n_mels,
            power=cfg.power,
        )
    else:
        pad = cfg.n_fft // 2
        padded = np.pad(y.astype(np.float32, copy=False), pad, mode="constant")
        if padded.size < cfg.n_fft:
            padded = np.pad(padded, (0, cfg.n_fft - padded.size))
        frames = np.lib.stride_tricks.sliding_window_view(padded, cfg.n_fft)[
            :: cfg.hop_length
        ]  # (T, N)
        spec = np.abs(sp_fft.rfft(frames * _hann(cfg.n_fft), axis=1)) ** cfg.power  # (T, N/2 + 1)
        mel = mel_filterbank(sample_rate_hz, cfg.n_fft, cfg.n_mels) @ spec.T.astype(
            np.float32
        )  # (M, T)
    return (20.0 / cfg.power * np.log10(mel + EPS)).astype(np.float32)


def feature_key(path: Path, rate: int, cfg: DataConfig) -> str:
    """Cache key: the file's identity (absolute path, size, mtime) and every setting that shapes it."""
    st = path.stat()
    text = "|".join(
        map(
            str,
            (
                path.resolve(),
                st.st_size,
                st.st_mtime_ns,
                rate,
                cfg.n_mels,
                cfg.n_fft,
                cfg.hop_length,
                cfg.power,
                cfg.channel,
                cfg.resample,
                cfg.feature_backend,
            ),
        )
    )
    return hashlib.sha1(text.encode()).hexdigest()[:20]


def clip_features(clip: Clip, rate: int, cfg: DataConfig, cache_dir: Path | None) -> np.ndarray:
    """Log-mel of one clip, from the cache when present; a new result is cached atomically."""
    cached = None
    if cache_dir is not None:
        cached = cache_dir / f"{clip.path.stem}-{feature_key(clip.path, rate, cfg)}.npy"
        if cached.is_file():
            try:
                return np.load(cached)
            except (OSError, ValueError) as err:
                log.warning("%s: unreadable cache entry (%s); recomputing", cached, err)
    y, rate = read_audio(clip.path, cfg, rate)
    feats = log_mel(y, rate, cfg)
    if cached is not None:
        tmp = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            np.save(fh, feats)
        os.replace(tmp, cached)
    return feats


def extract_features(
    clips: Sequence[Clip], cfg: DataConfig, cache_dir: Path | None = None, rate: int | None = None
) -> list[np.ndarray]:
    """Log-mel of every clip (threads over cores; numpy's FFT and BLAS release the GIL)."""
    if not clips:
        return []
    rate = rate or common_rate(clips, cfg)
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
    workers = cfg.feature_workers or os.cpu_count() or 1
    if workers <= 1 or len(clips) < 4:
        return [clip_features(c, rate, cfg, cache_dir) for c in clips]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda c: clip_features(c, rate, cfg, cache_dir), clips))


# ------------------------------------------------------------------------------------------- datasets


def scale_to_unit(feats: np.ndarray, cfg: DataConfig) -> np.ndarray:
    """The seed's CAE input scaling: clip((X_dB + 90) / 114, 0, 1)."""
    return np.clip((feats + cfg.db_offset) / cfg.db_range, 0.0, 1.0).astype(np.float32)


class FrameBank:
    """All clips' log-mel frames in one (total frames, M) array plus the start index of every window.

    A window is `width` consecutive frames of one clip (never across clips), taken every `hop` frames;
    `windows(idx)` gathers a batch of them without materialising the (heavily overlapping) whole set.
    `owner[i]` is the clip index of window i.
    """

    def __init__(
        self, features: Sequence[np.ndarray], width: int, hop: int, names: Sequence[str] = ()
    ):
        if not features:
            raise DataError("no clips to build windows from")
        self.width = width
        starts, owners, offsets = [], [], []
        offset = 0
        for i, f in enumerate(features):
            n = f.shape[1]
            if n < width:
                where = names[i] if i < len(names) else f"clip {i}"
                raise DataError(
                    f"{where}: {n} frames, shorter than one window of {width} frames (a longer "
                    f"clip, fewer data.n_mels for the CAE, or fewer data.frames)"
                )
            s = np.arange(0, n - width + 1, hop)
            starts.append(offset + s)
            owners.append(np.full(s.size, i))
            offsets.append(offset)
            offset += n
        self.frames = np.ascontiguousarray(np.concatenate([f.T for f in features]))  # (total, M)
        self.starts = np.concatenate(starts)
        self.owner = np.concatenate(owners)
        self._arange = np.arange(width)

    def __len__(self) -> int:
        return int(self.starts.size)

    def windows(self, idx: np.ndarray) -> np.ndarray:
        return self.frames[self.starts[idx][:, None] + self._arange]  # (B, width, M)


class WindowDataset:
    """Map-style dataset of window indices; `collate` turns a list of them into the model's batch.

    CAE: (B, 1, M, M) patches scaled to [0, 1] (mel on rows, time on columns); embedding model: (B, 1, M,
    T) crops in dB with the (B,) class of each crop's clip (from `clip_labels`); dense AE: (B, P * M) dB
    vectors, frame-major like the baseline. Returning indices keeps per-item Python work to nothing.
    """

    def __init__(self, bank: FrameBank, kind: str, clip_labels: np.ndarray | None = None) -> None:
        self.bank, self.kind, self.clip_labels = bank, kind, clip_labels

    def __len__(self) -> int:
        return len(self.bank)

    def __getitem__(self, i: int) -> int:
        return i

    def gather(self, idx: np.ndarray):  # -> torch.Tensor
        import torch

        w = self.bank.windows(np.asarray(idx))  # (B, width, M)
        if self.kind in ("cae", "embedding"):
            return torch.from_numpy(
                np.ascontiguousarray(w.transpose(0, 2, 1))[:, None]
            )  # (B, 1, M, width)
        return torch.from_numpy(w.reshape(w.shape[0], -1))  # (B, P * M)

    def collate(self, items: list[int]):
        idx = np.asarray(items)
        if self.clip_labels is None:
            return self.gather(idx)
        import torch

        return self.gather(idx), torch.from_numpy(self.clip_labels[self.bank.owner[idx]])


def model_view(
    features: Sequence[np.ndarray], cfg: DataConfig, model_name: str
) -> list[np.ndarray]:
    """The per-clip arrays a model sees: [0, 1]-scaled for the CAE, raw dB for the others."""
    if model_name == "cae":
        return [scale_to_unit(f, cfg) for f in features]
    return list(features)


def window_shape(cfg: DataConfig, model_name: str) -> tuple[int, int]:
    """(width in frames, hop in frames) of the model's windows."""
    if model_name == "cae":
        return cfg.n_mels, cfg.patch_hop_frames
    if model_name == "embedding":
        return cfg.crop_frames, cfg.crop_hop_frames
    return cfg.frames, 1


def make_bank(
    features: Sequence[np.ndarray], cfg: DataConfig, model_name: str, names: Sequence[str] = ()
) -> FrameBank:
    width, hop = window_shape(cfg, model_name)
    return FrameBank(model_view(features, cfg, model_name), width, hop, names)


def split_train_val(n_clips: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Clip indices for training and validation: a seeded random `fraction` of clips is held out.

    Splitting by clip (not by window, as the seed's Keras-style split did) keeps overlapping windows
    of one clip from landing on both sides.
    """
    order = np.random.default_rng(seed).permutation(n_clips)
    n_val = int(round(n_clips * fraction))
    if fraction > 0 and n_clips >= 2:
        n_val = max(1, min(n_val, n_clips - 1))
    else:
        n_val = 0
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def class_labels(clips: Sequence[Clip], classes: str = "auto") -> tuple[np.ndarray, list[str]]:
    """(class index per clip, class names) for the embedding model's auxiliary classification task.

    `attributes`: one class per section and attribute string (`00/car_B1_spd_31V_mic_1`), the labels the
    2021+ data ship with. `clips`: every clip its own class (instance discrimination), the fallback when
    the clips carry a single label, as MIMII's one machine ID does. `auto` picks `attributes` when that
    gives at least two classes.
    """
    names = [f"{c.machine_id}/{c.attributes}" if c.attributes else c.machine_id for c in clips]
    if classes == "clips" or (classes == "auto" and len(set(names)) < 2):
        names = [c.path.stem for c in clips]
    elif classes == "attributes" and len(set(names)) < 2:
        raise DataError(
            f"{clips[0].path.parent}: model.classes=attributes, but every training clip has the "
            f"label {names[0]!r} (use model.classes=auto or clips)"
        )
    vocabulary = sorted(set(names))
    index = {name: i for i, name in enumerate(vocabulary)}
    return np.array([index[n] for n in names], dtype=np.int64), vocabulary
