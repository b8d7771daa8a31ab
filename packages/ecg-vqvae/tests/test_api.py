"""The Python API computes what the CLI computes, on arrays and on WFDB records, with the CLI's checks."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import ecg_vqvae
import numpy as np
import pytest
from ecg_vqvae.baselines import analogue
from ecg_vqvae.cli import main
from scipy.signal import resample_poly
from sigzoo_shared import ConfigError, DataError


@pytest.fixture(scope="module")
def model(tiny_runs: tuple[Path, Path]) -> ecg_vqvae.ECGModel:
    return ecg_vqvae.load_run(tiny_runs[1])


def test_reconstruction_is_what_evaluate_scores(
    model: ecg_vqvae.ECGModel, tiny_runs: tuple[Path, Path], ecg_dir: Path, tmp_path: Path
) -> None:
    assert main(["evaluate", "--run-dir", str(tiny_runs[1]), "--out", str(tmp_path / "ev")]) == 0
    results = json.loads((tmp_path / "ev" / "results.json").read_text())
    x = model.read_record(ecg_dir / "s005")  # the first 6 windows (data.signals_per_patient=6)
    assert x.shape == (2, 30 * 360) and model.fs == 360
    x = x[:, : 6 * model.window_samples]
    x_hat = model.reconstruct(x)
    assert x_hat.shape == x.shape
    prd = 100 * np.linalg.norm(x.astype(np.float64) - x_hat) / np.linalg.norm(x)
    expected = results["reconstruction"]["per_record"]["s005"]["prd_pct"]
    assert prd == pytest.approx(expected, rel=1e-5)


def test_a_tail_shorter_than_a_window_is_reconstructed_too(model: ecg_vqvae.ECGModel) -> None:
    x = model.read_record(_record(model))[:, : 2 * model.window_samples + 100]  # (2, 2W + 100)
    x_hat = model.reconstruct(x)
    assert x_hat.shape == x.shape
    whole = model.reconstruct(x[:, : 2 * model.window_samples])
    np.testing.assert_allclose(x_hat[:, : whole.shape[1]], whole, atol=1e-6)
    last = model.reconstruct(x[:, -model.window_samples :])  # the window the tail is cut from
    np.testing.assert_allclose(x_hat[:, -100:], last[:, -100:], atol=1e-6)


def test_forecast_point_is_the_forecast_verbs(
    model: ecg_vqvae.ECGModel, tiny_runs: tuple[Path, Path], ecg_dir: Path, tmp_path: Path
) -> None:
    args = ["--run-dir", str(tiny_runs[1]), "--record", str(ecg_dir / "s005"), "--start", "10"]
    assert main(["forecast", *args, "--out-dir", str(tmp_path)]) == 0
    rows = list(csv.DictReader((tmp_path / "forecast_s005_10s.csv").open()))
    cli = np.array([[float(r[f"vqvae_forecaster_lead{i}"]) for r in rows] for i in (1, 2)])

    # beside it, the analogue forecast of the record before the start (the context's analogues)
    x = model.read_record(ecg_dir / "s005")
    ana = np.array([[float(r[f"analogue_lead{i}"]) for r in rows] for i in (1, 2)])
    expected = analogue(x[:, : 10 * 360], cli.shape[1], 360, model.window_samples)
    np.testing.assert_allclose(ana, expected, atol=1e-5)

    fc = model.forecast(ecg_dir / "s005", start_s=10, samples=0)
    np.testing.assert_allclose(fc.analogue, ana, atol=1e-5)  # the API returns the same analogues
    assert fc.analogue_nearest.shape == fc.point.shape
    assert not np.allclose(fc.analogue_nearest, fc.analogue)
    assert fc.samples is None and fc.fs == 360 and fc.horizon_s == 3.0
    np.testing.assert_allclose(fc.point, cli, atol=1e-5)
    x = model.read_record(ecg_dir / "s005")
    from_array = model.forecast(x[:, : 10 * 360], samples=0)  # an array: its last window
    np.testing.assert_allclose(from_array.point, fc.point, atol=1e-6)


def test_sampled_futures_follow_the_seed(model: ecg_vqvae.ECGModel) -> None:
    x = model.read_record(_record(model))[:, : model.window_samples]
    a, b = model.forecast(x, samples=4, seed=3), model.forecast(x, samples=4, seed=3)
    assert a.samples.shape == (4, 2, model.horizon_samples)
    np.testing.assert_array_equal(a.samples, b.samples)
    c = model.forecast(x, samples=4, seed=4)
    assert not np.array_equal(a.samples, c.samples)
    np.testing.assert_array_equal(a.point, c.point)  # the point forecast has no randomness


def test_other_sampling_rates_are_resampled_like_records(model: ecg_vqvae.ECGModel) -> None:
    x = model.read_record(_record(model))[:, : 4 * model.window_samples]  # (2, 4W) at 360 Hz
    x250 = resample_poly(x, 25, 36, axis=1)  # the same signal at 250 Hz
    x_hat = model.reconstruct(x250, fs=250)
    assert x_hat.shape == x.shape  # back at the model's rate
    prd = 100 * np.linalg.norm(x - x_hat) / np.linalg.norm(x)
    assert prd < 100
    assert model.forecast(x250, fs=250, samples=0).point.shape == (2, model.horizon_samples)


@pytest.mark.parametrize(
    ("signal", "fs", "message"),
    [
        (np.zeros((3, 2000)), 360, r"shape \(3, 2000\), expected \(2, samples\)"),
        (np.zeros(2000), 360, r"shape \(2000,\), expected \(2, samples\)"),
        (np.zeros((2, 2000)), 50, "50 Hz, below the 100 Hz"),
        (np.zeros((2, 500)), 360, r"1.39 s long, need at least 3 s"),
        (np.full((2, 2000), np.nan), 360, "2000 NaN/invalid samples, first at 0.00 s"),
        ([["a"] * 2000] * 2, 360, "not an array of numbers"),
        (np.zeros((2, 2000)), "fast", "fs='fast' is not a sampling rate"),
    ],
)
def test_bad_input_is_one_error_naming_the_value(
    model: ecg_vqvae.ECGModel, signal: object, fs: object, message: str
) -> None:
    with pytest.raises(DataError, match=message):
        model.reconstruct(signal, fs=fs)


def test_forecast_refuses_what_it_cannot_do(
    model: ecg_vqvae.ECGModel, tiny_runs: tuple[Path, Path], ecg_dir: Path
) -> None:
    x = np.zeros((2, 2 * model.window_samples))
    with pytest.raises(ConfigError, match="samples=1: must be 0"):
        model.forecast(x, samples=1)
    with pytest.raises(ConfigError, match="start_s=1: must be between 3 s"):
        model.forecast(x, start_s=1)
    vqvae_only = ecg_vqvae.load_run(tiny_runs[0])
    assert vqvae_only.forecaster is None
    assert vqvae_only.reconstruct(x).shape == x.shape
    with pytest.raises(ConfigError, match="holds a VQ-VAE only"):
        vqvae_only.forecast(x)
    with pytest.raises(DataError, match="nothing.hea: record header not found"):
        model.read_record(ecg_dir / "nothing")


def _record(model: ecg_vqvae.ECGModel) -> Path:
    return Path(model.config.data.data_dir) / "s001"
