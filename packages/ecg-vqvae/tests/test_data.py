"""Reading WFDB records like real ones; every bad input is a DataError naming the record."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import wfdb
from ecg_vqvae.config import DataConfig
from ecg_vqvae.data import (
    ForecastDataset,
    find_records,
    read_record,
    record_segment,
    split_records,
    windows,
)
from sigzoo_shared import DataError


def copy_record(src: Path, dst: Path, name: str = "s001") -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for ext in (".hea", ".dat", ".atr"):
        shutil.copy(src / f"{name}{ext}", dst / f"{name}{ext}")
    return dst


def test_generated_records_read_as_two_leads_in_mv(ecg_dir: Path) -> None:
    assert find_records(ecg_dir) == [f"s{i:03d}" for i in range(1, 7)]
    x = read_record(ecg_dir, "s001", 360)
    assert x.shape == (30 * 360, 2) and x.dtype == np.float32
    assert 0.5 < np.ptp(x[:, 0]) < 5.0  # QRS-sized excursions in mV


def test_other_sampling_rate_is_resampled(tmp_path: Path) -> None:
    t = np.arange(250 * 10) / 250
    sig = np.stack([np.sin(2 * np.pi * 1.2 * t), np.cos(2 * np.pi * 1.2 * t)], axis=1)
    wfdb.wrsamp(
        "r250",
        fs=250,
        units=["mV", "mV"],
        sig_name=["a", "b"],
        p_signal=sig,
        fmt=["16", "16"],
        write_dir=str(tmp_path),
    )
    x = read_record(tmp_path, "r250", 360)
    assert x.shape == (3600, 2)
    assert np.allclose(
        x[100:-100, 0], np.sin(2 * np.pi * 1.2 * np.arange(3600) / 360)[100:-100], atol=0.02
    )


def test_missing_header_and_missing_dat_name_the_record(ecg_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nope.hea"):
        read_record(ecg_dir, "nope", 360)
    folder = copy_record(ecg_dir, tmp_path)
    (folder / "s001.dat").unlink()
    with pytest.raises(DataError, match=r"s001\.dat.*not found"):
        read_record(folder, "s001", 360)


def test_truncated_dat_is_an_error_not_a_short_record(ecg_dir: Path, tmp_path: Path) -> None:
    folder = copy_record(ecg_dir, tmp_path)
    data = (folder / "s001.dat").read_bytes()
    (folder / "s001.dat").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"s001\.dat.*truncated"):
        read_record(folder, "s001", 360)


def test_single_lead_record_is_rejected(tmp_path: Path) -> None:
    wfdb.wrsamp(
        "one",
        fs=360,
        units=["mV"],
        sig_name=["MLII"],
        p_signal=np.zeros((3600, 1)) + 0.1,
        fmt=["16"],
        write_dir=str(tmp_path),
    )
    with pytest.raises(DataError, match=r"one: 1 lead\(s\), expected 2"):
        read_record(tmp_path, "one", 360)


def test_nan_run_is_an_error_never_zero_filled(tmp_path: Path) -> None:
    sig = np.random.default_rng(0).normal(size=(3600, 2)) * 0.1
    sig[1800:1900, 1] = np.nan
    wfdb.wrsamp(
        "gap",
        fs=360,
        units=["mV", "mV"],
        sig_name=["a", "b"],
        p_signal=sig,
        fmt=["16", "16"],
        write_dir=str(tmp_path),
    )
    with pytest.raises(DataError, match=r"gap: 100 NaN.*5.00 s"):
        read_record(tmp_path, "gap", 360)


def test_windows_are_the_first_non_overlapping_ones(ecg_dir: Path) -> None:
    cfg = DataConfig(data_dir=ecg_dir, signals_per_patient=4)
    seg = record_segment(ecg_dir, "s002", cfg)
    full = read_record(ecg_dir, "s002", 360).T
    w = windows(seg, 1080)
    assert w.shape == (4, 2, 1080)
    assert np.array_equal(w[2], full[:, 2160:3240])


def test_cache_returns_the_same_segment(ecg_dir: Path, tmp_path: Path) -> None:
    cfg = DataConfig(data_dir=ecg_dir, signals_per_patient=3, cache_dir=tmp_path / "cache")
    first = record_segment(ecg_dir, "s003", cfg)
    assert len(list((tmp_path / "cache").glob("s003-*.npy"))) == 1
    assert np.array_equal(record_segment(ecg_dir, "s003", cfg), first)


def test_splits_are_patient_wise() -> None:
    names = [f"{i:03d}" for i in range(100, 110)]
    split = split_records(names, DataConfig())
    assert split["test"] == names[7:]  # first 70 % of records train, as the seed
    assert not set(split["train"]) & set(split["val"]) and split["val"]
    de_chazal = split_records(
        ["101", "106", "100", "103"], DataConfig(split="de_chazal", val_fraction=0.0)
    )
    assert de_chazal["train"] == ["101", "106"] and de_chazal["test"] == ["100", "103"]
    with pytest.raises(DataError, match="DS2"):
        split_records(["101", "106"], DataConfig(split="de_chazal"))


def test_forecast_pairs_are_contiguous(ecg_dir: Path) -> None:
    seg = record_segment(ecg_dir, "s001", DataConfig(signals_per_patient=5))
    ds = ForecastDataset({"s001": seg}, 1080, 1080, stride=540)
    context, future = ds[1]
    assert context.shape == future.shape == (2, 1080)
    assert np.array_equal(np.concatenate([context, future], axis=1), seg[:, 540 : 540 + 2160])
    assert len(ds) == (5 * 1080 - 2160) // 540 + 1
