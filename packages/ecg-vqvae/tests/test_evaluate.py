"""Forecaster training, held-out evaluation against naive forecasters, and the forecast verb."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from ecg_vqvae.cli import main
from ecg_vqvae.evaluate import forecast_metrics, reconstruction_metrics
from ecg_vqvae.train import load_forecaster, load_vqvae
from sigzoo_shared import CheckpointError


def test_metrics_match_hand_computation() -> None:
    rng = np.random.default_rng(0)
    truth, pred = rng.normal(size=(3, 2, 720)), rng.normal(size=(3, 2, 720))
    m = forecast_metrics(truth, pred, 360)
    t, p = truth[..., :360], pred[..., :360]
    assert np.isclose(m["mae_mv"], np.abs(t - p).mean())
    assert np.isclose(m["rmse_mv"], np.sqrt(((t - p) ** 2).mean()))
    assert np.isclose(m["prd_pct"], 100 * np.sqrt(((t - p) ** 2).sum() / (t**2).sum()))
    r = reconstruction_metrics(truth, pred)
    assert np.isclose(r["snr_db"], 10 * np.log10((truth**2).sum() / ((truth - pred) ** 2).sum()))


@pytest.fixture()
def forecaster_run(tiny_overrides, tmp_path: Path) -> Path:
    vq, fc = tmp_path / "vq", tmp_path / "fc"
    assert main(["train", "--run-dir", str(vq), *tiny_overrides, "train.epochs=1"]) == 0
    assert (
        main(["train-forecaster", "--vqvae", str(vq), "--run-dir", str(fc), *tiny_overrides]) == 0
    )
    return fc


def test_evaluate_reports_forecaster_and_baselines_on_unseen_records(
    forecaster_run: Path, tmp_path: Path, capsys
) -> None:
    assert main(["evaluate", "--run-dir", str(forecaster_run)]) == 0
    results = json.loads((forecaster_run / "results.json").read_text())
    assert results["test_records"] == ["s005", "s006"]
    pooled = results["forecast"]["pooled"]
    methods = (
        "vqvae_forecaster",
        "vqvae_beats",  # the beat head's forecast, a deterministic row
        "persistence",
        "recent_median",
        "repeat_last_beat",
        "seasonal",
        "context_median",
        "context_mean",
        "rr_ensemble",
        "analogue",  # reads the record before the context: its k closest analogues are its samples
        "analogue_nearest",  # the closest analogue's future alone
    )
    assert {(r["method"], r["horizon_s"]) for r in pooled} == {
        (m, h) for m in methods for h in (1.0, 3.0)
    }
    assert all(r["mae_mv"] > 0 for r in pooled)
    for r in pooled:  # deterministic methods: CRPS is the MAE; sampled ones score their spread
        if r["method"] in ("rr_ensemble", "analogue"):
            assert 0 < r["crps_mv"] < r["mae_mv"]
        elif r["method"] == "vqvae_forecaster":  # its samples are snapped, its point is not
            assert r["crps_mv"] > 0 and r["crps_mv"] != r["mae_mv"]
        else:
            assert np.isclose(r["crps_mv"], r["mae_mv"])
        assert 0 <= r["timing_error_s"] <= 0.5 and r["beat_aligned_mae_mv"] > 0
        sampled = r["method"] in ("vqvae_forecaster", "rr_ensemble", "analogue")
        assert (r["sample_timing_error_s"] is not None) == sampled
    # continuous samples: only the forecaster's sample scores change, on the same drawn futures
    out = tmp_path / "continuous"
    argv = ["evaluate", "--run-dir", str(forecaster_run), "--out", str(out)]
    assert main([*argv, "evaluate.snap_samples=false"]) == 0
    other = {
        (r["method"], r["horizon_s"]): r
        for r in json.loads((out / "results.json").read_text())["forecast"]["pooled"]
    }
    for r in pooled:
        twin = other[(r["method"], r["horizon_s"])]
        assert twin["mae_mv"] == r["mae_mv"]
        assert (twin["crps_mv"] != r["crps_mv"]) == (r["method"] == "vqvae_forecaster")
    flat_methods = ("context_median", "context_mean", "persistence", "recent_median")
    flat = [r for r in pooled if r["method"] in flat_methods]
    assert all(r["timing_error_s"] == 0.5 for r in flat)  # no peaks: every beat costs the cap
    assert {r["record"] for r in results["forecast"]["per_record"]} == {"s005", "s006"}
    assert 0 < results["reconstruction"]["pooled"]["prd_pct"] < 200
    assert "1" in "".join(results["forecast"]["mae_gain_vs_repeat_last_beat"])
    # the best naive method reads the context only; the analogue one is compared on its own
    best, history = results["forecast"]["best_naive"], results["forecast"]["vs_analogue"]
    assert not best["1.0"]["mae_mv"]["method"].startswith("analogue")
    mae = {(r["method"], r["horizon_s"]): r["mae_mv"] for r in pooled}
    best_history = min(("analogue", "analogue_nearest"), key=lambda m: mae[(m, 1.0)])
    assert history["1.0"]["mae_mv"]["method"] == best_history
    model_vs_history = mae[("vqvae_forecaster", 1.0)] / mae[(best_history, 1.0)]
    assert history["1.0"]["mae_mv"]["ratio"] == model_vs_history
    for name in (
        "test_forecast",
        "test_reconstruction",
        "test_codebook_usage",
        "test_forecast_mae_vs_horizon",
        "test_forecast_spread",
    ):
        assert (forecaster_run / "figures" / f"{name}.png").is_file()
    assert "repeat_last_beat" in (forecaster_run / "results.md").read_text()
    # the core's summarize keeps every (method, horizon) apart: rows are named by both
    capsys.readouterr()
    assert main(["summarize", str(forecaster_run), "--keys", "forecast.pooled.*.mae_mv"]) == 0
    table = capsys.readouterr().out
    for method in methods:
        assert f"forecast.pooled.{method}@1s.mae_mv" in table
        assert f"forecast.pooled.{method}@3s.mae_mv" in table

    # the seed summary: mean ± std over runs, pooled and per record (one run twice: std 0)
    capsys.readouterr()
    assert main(["seed-tables", str(forecaster_run), str(forecaster_run)]) == 0
    table = capsys.readouterr().out
    prd = results["reconstruction"]["per_record"]["s006"]["prd_pct"]
    assert f"| s006 | {prd:.2f} ± 0.00 |" in table
    mae = next(
        r["mae_mv"]
        for r in results["forecast"]["per_record"]
        if r["record"] == "s005" and r["method"] == "repeat_last_beat" and r["horizon_s"] == 1.0
    )
    assert "| rr_ensemble | 1 |" in table and "forecaster / best naive" in table
    assert "Forecast MAE [mV] per record at 1 s" in table and f"{mae:.4f} ± 0.0000" in table
    assert main(["seed-tables", str(forecaster_run), str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(tmp_path / "results.json") in err[0]


def test_forecast_verb_writes_figure_and_csv(
    forecaster_run: Path, ecg_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert (
        main(
            [
                "forecast",
                "--run-dir",
                str(forecaster_run),
                "--record",
                str(ecg_dir / "s005"),
                "--start",
                "10",
                "--out-dir",
                str(out),
            ]
        )
        == 0
    )
    assert (out / "figures" / "forecast_s005_10s.png").is_file()
    rows = list(csv.DictReader((out / "forecast_s005_10s.csv").open()))
    assert len(rows) == 1080 and float(rows[0]["time_s"]) == 10.0
    assert {"truth_lead1", "vqvae_forecaster_lead2", "repeat_last_beat_lead1"} <= rows[0].keys()


def test_forecast_start_before_one_context_is_a_clear_error(
    forecaster_run: Path, ecg_dir: Path, capsys
) -> None:
    assert (
        main(
            [
                "forecast",
                "--run-dir",
                str(forecaster_run),
                "--record",
                str(ecg_dir / "s005"),
                "--start",
                "1",
            ]
        )
        == 2
    )
    assert "--start 1 s" in capsys.readouterr().err


def test_runs_load_through_the_core_and_old_forecasters_keep_learned_queries(
    forecaster_run: Path, tmp_path: Path
) -> None:
    """`load_forecaster`/`load_vqvae` rebuild the stored model (eval mode); a forecaster saved before
    `forecast.prior` existed was trained with learned queries and must run without the prior."""
    fc, cfg = load_forecaster(forecaster_run)
    assert fc.use_prior and cfg.forecast.prior == "repeat_last_beat" and not fc.training
    vq, _ = load_vqvae(forecaster_run)  # a forecaster run holds its frozen VQ-VAE
    own = vq.state_dict()
    assert all(torch.equal(v, own[k]) for k, v in fc.vqvae.state_dict().items())

    state = torch.load(forecaster_run / "checkpoints" / "best.pt", weights_only=True)
    del state["config"]["forecast"]["prior"]
    torch.save(state, tmp_path / "old.pt")
    old, old_cfg = load_forecaster(tmp_path / "old.pt")
    assert not old.use_prior and old_cfg.forecast.prior == "none"
    context = torch.randn(1, 2, cfg.data.window_samples)
    with torch.no_grad():
        assert old(context).shape == context.shape  # no prior needed

    with pytest.raises(CheckpointError, match="not a forecaster checkpoint"):
        load_forecaster(tmp_path / "vq")
