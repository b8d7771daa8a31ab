"""A forecaster on the analogue prior: trained, evaluated and used from Python on the record's past."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import ecg_vqvae
import numpy as np
import pytest
import torch
from ecg_vqvae.baselines import analogue, analogue_ensemble
from ecg_vqvae.cli import main
from ecg_vqvae.data import record_segment
from ecg_vqvae.train import forecast_datasets


@pytest.fixture(scope="module")
def analogue_run(
    tiny_runs: tuple[Path, Path], ecg_dir: Path, tiny_settings: list[str], tmp_path_factory
) -> Path:
    run = tmp_path_factory.mktemp("analogue") / "fc"
    settings = [f"data.data_dir={ecg_dir}", *tiny_settings, "forecast.prior=analogue"]
    argv = ["train-forecaster", "--vqvae", str(tiny_runs[0]), "--run-dir", str(run), *settings]
    assert main(argv) == 0
    return run


def test_training_examples_carry_the_analogue_of_their_past(analogue_run: Path, ecg_dir) -> None:
    model = ecg_vqvae.load_run(analogue_run)
    cfg = model.config
    assert cfg.forecast.prior == "analogue" and model.forecaster.use_prior
    seg = record_segment(ecg_dir, "s001", cfg.data)
    ds = forecast_datasets(cfg, {"s001": seg})
    w = cfg.data.window_samples
    name, start = ds.index[-1]
    context, future, prior = ds[len(ds) - 1]
    expected = analogue(seg[:, : start + w], future.shape[-1], cfg.data.samples_per_second, w)
    np.testing.assert_allclose(prior.numpy(), expected, atol=1e-6)
    assert len(analogue_ensemble(seg[:, : start + w], future.shape[-1], 360, w)) >= 3


def test_forecast_reads_the_signal_before_the_window(
    analogue_run: Path, ecg_dir: Path, tmp_path: Path
) -> None:
    model = ecg_vqvae.load_run(analogue_run)
    x = model.read_record(ecg_dir / "s005")
    w, f, end = model.window_samples, model.horizon_samples, 15 * 360
    fc = model.forecast(x, start_s=15, samples=4, seed=1)
    prior = analogue(x[:, :end], f, model.fs, w).astype(np.float32)  # (L, F)
    with torch.no_grad():
        direct = model.forecaster(
            torch.from_numpy(x[None, :, end - w : end]), torch.from_numpy(prior[None])
        )
    np.testing.assert_allclose(fc.point, direct[0].numpy(), atol=1e-5)
    assert fc.samples.shape == (4, 2, f)
    # the forecast verb reads the record the same way
    args = ["--run-dir", str(analogue_run), "--record", str(ecg_dir / "s005"), "--start", "15"]
    assert main(["forecast", *args, "--out-dir", str(tmp_path)]) == 0
    rows = list(csv.DictReader((tmp_path / "forecast_s005_15s.csv").open()))
    cli = np.array([[float(r[f"vqvae_forecaster_lead{i}"]) for r in rows] for i in (1, 2)])
    np.testing.assert_allclose(cli, fc.point, atol=1e-5)
    ana = np.array([[float(r[f"analogue_lead{i}"]) for r in rows] for i in (1, 2)])
    np.testing.assert_allclose(ana, prior, atol=1e-5)
    # the window alone has no analogues: its prior is repeat-last-beat, so the forecast differs
    alone = model.forecast(x[:, end - w : end], samples=0)
    assert not np.allclose(alone.point, fc.point, atol=1e-4)


def test_evaluate_scores_it_against_the_analogue_forecast(
    analogue_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ev"
    assert main(["evaluate", "--run-dir", str(analogue_run), "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    methods = {r["method"] for r in results["forecast"]["pooled"]}
    assert {"vqvae_forecaster", "analogue", "recent_median"} <= methods
    vs = results["forecast"]["vs_analogue"]["1.0"]["mae_mv"]
    assert vs["method"] == "analogue" and vs["ratio"] > 0
    assert "with the record's past, analogue" in (out / "results.md").read_text()
