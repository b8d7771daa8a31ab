"""Reading clips: both layouts, WAV and FLAC, every bad input named; log-mel equal to librosa's."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from dcase_cae.config import DataConfig
from dcase_cae.data import (
    NO_ID,
    FrameBank,
    WindowDataset,
    common_rate,
    extract_features,
    list_clips,
    log_mel,
    machine_dirs,
    mel_filterbank,
    parse_name,
    read_audio,
    split_train_val,
)
from sigzoo_shared import DataError

CFG = DataConfig(n_mels=64)


def _tone(seconds: float = 1.0, rate: int = 16000, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.01 * np.random.default_rng(0).standard_normal(t.size)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def _machine(tmp_path: Path, files: dict[str, tuple[np.ndarray, int]]) -> Path:
    root = tmp_path / "fan"
    for name, (x, rate) in files.items():
        (root / Path(name).parent).mkdir(parents=True, exist_ok=True)
        sf.write(str(root / name), x, rate)
    return root


def test_names_give_label_and_machine_id() -> None:
    clip = parse_name(Path("anomaly_id_04_00000012.wav"), "fan")
    assert (clip.label, clip.machine_id, clip.machine_type) == (1, "04", "fan")
    assert parse_name(Path("normal_00.wav"), "x").label == 0  # the seed's flat names
    assert parse_name(Path("normal_00.wav"), "x").machine_id == NO_ID
    assert parse_name(Path("id_02_00000001.flac"), "x").label is None  # evaluation data: no label


def test_both_layouts_are_found(tiny_data: Path) -> None:
    assert list(machine_dirs(tiny_data)) == ["toy_fan"]  # <root>/<machine_type>/{train,test}
    assert machine_dirs(tiny_data / "toy_fan") == {
        "toy_fan": tiny_data / "toy_fan"
    }  # one machine folder
    clips = list_clips(tiny_data / "toy_fan", "test", "toy_fan")
    assert {c.machine_id for c in clips} == {"00", "02"}
    assert sum(c.label == 1 for c in clips) == 12


def test_wav_and_flac_read_the_same(tmp_path: Path) -> None:
    x = _tone().astype(np.float32)
    root = _machine(
        tmp_path, {"train/normal_id_00_0.wav": (x, 16000), "train/normal_id_00_1.flac": (x, 16000)}
    )
    wav, rate = read_audio(root / "train/normal_id_00_0.wav", CFG)
    flac, _ = read_audio(root / "train/normal_id_00_1.flac", CFG)
    assert rate == 16000
    np.testing.assert_allclose(wav, flac, atol=1e-4)
    assert len(list_clips(root, "train", "fan")) == 2


@pytest.mark.parametrize("problem", ["missing", "empty", "no_audio", "machine_type"])
def test_missing_data_is_named(tmp_path: Path, problem: str) -> None:
    root = tmp_path / "d"
    if problem != "missing":
        (root / "fan" / "train").mkdir(parents=True)
    if problem == "no_audio":
        (root / "fan" / "train" / "readme.txt").write_text("not audio")
    with pytest.raises(DataError) as err:
        dirs = machine_dirs(root, "pump" if problem == "machine_type" else None)
        list_clips(dirs["fan"], "train", "fan")
    message = str(err.value)
    assert str(root) in message
    expected = {
        "missing": "not found",
        "empty": "no audio files",
        "no_audio": "no audio files",
        "machine_type": "'pump' not found",
    }[problem]
    assert expected in message


def test_corrupt_and_truncated_files_are_named(tmp_path: Path) -> None:
    root = _machine(tmp_path, {"train/normal_id_00_0.wav": (_tone(), 16000)})
    bad = root / "train" / "normal_id_00_1.wav"
    bad.write_bytes(b"RIFF\x00\x00garbage" * 10)
    with pytest.raises(DataError, match="normal_id_00_1.wav"):
        read_audio(bad, CFG)
    cut = root / "train" / "normal_id_00_2.wav"
    data = (root / "train" / "normal_id_00_0.wav").read_bytes()
    cut.write_bytes(data[: len(data) // 2])  # header still announces the full length
    with pytest.raises(DataError, match="normal_id_00_2.wav.*truncated"):
        read_audio(cut, CFG)


def test_multichannel_is_an_error_unless_a_channel_is_chosen(tmp_path: Path) -> None:
    root = _machine(tmp_path, {"train/normal_id_00_0.wav": (_tone(channels=2), 16000)})
    path = root / "train" / "normal_id_00_0.wav"
    with pytest.raises(DataError, match=r"normal_id_00_0.wav: 2 channels.*data.channel=0"):
        read_audio(path, CFG)
    x, _ = read_audio(path, DataConfig(n_mels=64, channel=1))
    assert x.ndim == 1


def test_sample_rate_mismatch_is_an_error_unless_resampling(tmp_path: Path) -> None:
    root = _machine(
        tmp_path,
        {
            "train/normal_id_00_0.wav": (_tone(), 16000),
            "train/normal_id_00_1.wav": (_tone(), 16000),
            "train/normal_id_00_2.wav": (_tone(rate=22050), 22050),
        },
    )
    clips = list_clips(root, "train", "fan")
    with pytest.raises(DataError, match="normal_id_00_2.wav: sample rate 22050 Hz, expected 16000"):
        common_rate(clips, CFG)
    resampling = DataConfig(n_mels=64, resample=True)
    assert common_rate(clips, resampling) == 16000
    feats = extract_features(clips, resampling)
    assert len({f.shape for f in feats}) == 1  # the 22.05 kHz clip now has the same frames


def test_silence_and_nan_are_errors(tmp_path: Path) -> None:
    nan = _tone().astype(np.float32)
    nan[100] = np.nan
    root = _machine(tmp_path, {"train/normal_id_00_0.wav": (np.zeros(16000), 16000)})
    sf.write(str(root / "train" / "normal_id_00_1.wav"), nan, 16000, subtype="FLOAT")
    with pytest.raises(DataError, match="normal_id_00_0.wav: silent clip"):
        read_audio(root / "train" / "normal_id_00_0.wav", CFG)
    with pytest.raises(DataError, match="normal_id_00_1.wav: 1 non-finite"):
        read_audio(root / "train" / "normal_id_00_1.wav", CFG)


def test_mel_filterbank_equals_librosa() -> None:
    librosa = pytest.importorskip("librosa")
    for sr, n_fft, n_mels in ((16000, 1024, 128), (16000, 1024, 64), (22050, 2048, 128)):
        np.testing.assert_allclose(
            mel_filterbank(sr, n_fft, n_mels),
            librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels),
            rtol=1e-4,
            atol=1e-7,
        )


def test_log_mel_equals_librosa(librosa_mel, tiny_data: Path) -> None:
    cfg = DataConfig()  # the real settings: 128 mels, n_fft 1024, hop 512, power 2
    for path in sorted((tiny_data / "toy_fan" / "test").glob("*.wav"))[:3]:
        y, rate = read_audio(path, cfg)
        ours = log_mel(y, rate, cfg)
        mel = librosa_mel(y=y, sr=rate, n_fft=1024, hop_length=512, n_mels=128, power=2.0)
        reference = 20.0 / 2.0 * np.log10(mel + np.finfo(float).eps)
        assert ours.shape == reference.shape == (128, 1 + y.size // 512)
        np.testing.assert_allclose(ours, reference, atol=0.02)  # dB; float32 rounding only


def test_features_are_cached_and_reused(tiny_data: Path, tmp_path: Path) -> None:
    clips = list_clips(tiny_data / "toy_fan", "train", "toy_fan")[:3]
    first = extract_features(clips, CFG, tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 3
    mtimes = [p.stat().st_mtime_ns for p in sorted((tmp_path / "cache").glob("*.npy"))]
    again = extract_features(clips, CFG, tmp_path / "cache")
    assert [p.stat().st_mtime_ns for p in sorted((tmp_path / "cache").glob("*.npy"))] == mtimes
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    other = extract_features(
        clips, DataConfig(n_mels=32), tmp_path / "cache"
    )  # settings are in the key
    assert other[0].shape[0] == 32 and len(list((tmp_path / "cache").glob("*.npy"))) == 6


def test_windows_never_cross_clips() -> None:
    a = np.zeros((4, 10), np.float32)
    b = np.ones((4, 7), np.float32)
    bank = FrameBank([a, b], width=5, hop=2)
    assert len(bank) == 3 + 2  # starts 0,2,4 in a; 0,2 in b
    assert bank.owner.tolist() == [0, 0, 0, 1, 1]
    windows = bank.windows(np.arange(len(bank)))
    assert windows.shape == (5, 5, 4)
    assert windows[:3].max() == 0 and windows[3:].min() == 1
    cae = WindowDataset(bank, "cae").gather(np.array([0, 4]))
    dense = WindowDataset(bank, "dense_ae").gather(np.array([0, 4]))
    assert tuple(cae.shape) == (2, 1, 4, 5) and tuple(dense.shape) == (2, 20)
    with pytest.raises(DataError, match="clip.wav: 3 frames, shorter than one window"):
        FrameBank([np.zeros((4, 3))], width=5, hop=1, names=["clip.wav"])


def test_validation_split_is_by_clip_and_seeded() -> None:
    train, val = split_train_val(20, 0.1, seed=1)
    assert len(val) == 2 and len(train) == 18 and not set(train) & set(val)
    assert split_train_val(20, 0.1, seed=1)[1].tolist() == val.tolist()
    assert len(split_train_val(20, 0.0, seed=1)[1]) == 0


def test_cache_copy_does_not_need_the_source(tiny_data: Path, tmp_path: Path) -> None:
    shutil.copytree(tiny_data / "toy_fan", tmp_path / "toy_fan")
    clips = list_clips(tmp_path / "toy_fan", "test", "toy_fan")
    assert all(c.path.is_relative_to(tmp_path) for c in clips)
