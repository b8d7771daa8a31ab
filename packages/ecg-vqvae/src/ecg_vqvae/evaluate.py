"""Held-out-patient evaluation: reconstruction quality, codebook health, and forecast errors vs baselines.

Every figure is computed on the test records of the run's own split (patients never seen in training or
validation). Forecast errors are over the first h seconds after the context ends ("horizon h"), per record
and pooled over all test examples, for the VQ-VAE latent forecaster and the two naive forecasters of
`baselines.py` on exactly the same examples. Metrics come from `sigzoo_shared.metrics` (MAE, RMSE in mV,
PRD in %, SNR in dB).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sigzoo_shared import ConfigError, RunDir
from sigzoo_shared.bench import markdown_table
from sigzoo_shared.metrics import mae, prd, rmse, snr_db

from ecg_vqvae import plots
from ecg_vqvae.baselines import context_median, persistence, repeat_last_beat
from ecg_vqvae.data import WindowDataset, read_record
from ecg_vqvae.model import VQVAE, LatentForecaster
from ecg_vqvae.quantizer import perplexity
from ecg_vqvae.train import (
    forecast_datasets,
    is_forecaster_run,
    load_forecaster,
    load_splits,
    load_vqvae,
)

log = logging.getLogger(__name__)
METHODS = ("vqvae_forecaster", "persistence", "repeat_last_beat", "context_median")


def _batches(x: torch.Tensor, size: int = 64):
    for i in range(0, len(x), size):
        yield x[i : i + size]


@torch.no_grad()
def reconstruct(model: VQVAE, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Reconstructions (n, L, T) and codes (n, N) of windows x (n, L, T)."""
    outs, codes = [], []
    for xb in _batches(x):
        x_hat, _, c = model(xb)
        outs.append(x_hat.numpy())
        codes.append(c.numpy())
    return np.concatenate(outs), np.concatenate(codes)


def reconstruction_metrics(x: np.ndarray, x_hat: np.ndarray) -> dict[str, float]:
    return {
        "mse_mv2": float(np.mean((x - x_hat) ** 2)),
        "prd_pct": prd(x, x_hat),
        "prdn_pct": prd(x, x_hat, mean_removed=True),
        "snr_db": snr_db(x, x_hat),
        "n_windows": len(x),
    }


@torch.no_grad()
def forecast_all(
    model: LatentForecaster | None, contexts: torch.Tensor, horizon: int, fs: float
) -> dict[str, np.ndarray]:
    """Forecasts (n, L, horizon) of every method for contexts (n, L, Tc)."""
    ctx = contexts.numpy()
    out = {
        "persistence": np.stack([persistence(c, horizon) for c in ctx]),
        "repeat_last_beat": np.stack([repeat_last_beat(c, horizon, fs) for c in ctx]),
        "context_median": np.stack([context_median(c, horizon) for c in ctx]),
    }
    if model is not None:
        prior = (
            torch.from_numpy(out["repeat_last_beat"].astype(np.float32))
            if model.use_prior
            else None
        )
        preds = [
            model(cb, None if prior is None else prior[i : i + len(cb)]).numpy()
            for i, cb in zip(range(0, len(contexts), 64), _batches(contexts))
        ]
        out["vqvae_forecaster"] = np.concatenate(preds)[..., :horizon]
    return out


def forecast_metrics(truth: np.ndarray, pred: np.ndarray, horizon_samples: int) -> dict[str, float]:
    t, p = truth[..., :horizon_samples], pred[..., :horizon_samples]
    return {"mae_mv": mae(t, p), "rmse_mv": rmse(t, p), "prd_pct": prd(t, p)}


def evaluate_run(run_dir: Path | str, max_examples_per_record: int | None = None) -> dict[str, Any]:
    """Evaluate a VQ-VAE or forecaster run on its test records; write results.{json,csv,md} + figures."""
    run_dir = Path(run_dir)
    forecaster_run = is_forecaster_run(run_dir)
    forecaster: LatentForecaster | None = None
    if forecaster_run:
        forecaster, cfg = load_forecaster(run_dir)
        vqvae = forecaster.vqvae
    else:
        vqvae, cfg = load_vqvae(run_dir)
    run = RunDir(run_dir, tensorboard=False)
    split, segments = load_splits(cfg)
    test = segments["test"]
    fs = cfg.data.samples_per_second
    results: dict[str, Any] = {
        "run_dir": str(run_dir),
        "test_records": split["test"],
        "variant": cfg.model.variant,
        "parameters": sum(p.numel() for p in vqvae.parameters()),
    }

    # --- reconstruction and codebook health
    windows = WindowDataset(test, cfg.data.window_samples)
    x = windows.x
    x_hat, codes = reconstruct(vqvae, x)
    xn = x.numpy()
    per_record = {}
    records = np.asarray(windows.record)
    for name in split["test"]:
        sel = records == name
        per_record[name] = reconstruction_metrics(xn[sel], x_hat[sel])
    counts = np.bincount(codes.ravel(), minlength=cfg.model.n_embed)
    flat = np.broadcast_to(
        xn.mean(axis=-1, keepdims=True), xn.shape
    )  # reference: each window's mean
    results["reconstruction"] = {
        "pooled": reconstruction_metrics(xn, x_hat),
        "per_record": per_record,
        "window_mean_reference": reconstruction_metrics(xn, flat),
    }
    results["codebook"] = {
        "codes_used": int((counts > 0).sum()),
        "n_embed": cfg.model.n_embed,
        "perplexity": perplexity(torch.from_numpy(counts)),
    }
    run.save_figure(plots.codebook_usage_figure(counts), "test_codebook_usage")
    run.save_figure(
        plots.reconstruction_figure(xn[0], x_hat[0], fs, f"test record {records[0]}"),
        "test_reconstruction",
    )

    # --- forecasting
    horizon_total = cfg.data.window_samples * cfg.forecast.forecast_predictions
    horizons = [h for h in cfg.forecast.horizons_s if round(h * fs) <= horizon_total]
    if len(horizons) < len(cfg.forecast.horizons_s):
        raise ConfigError(
            f"forecast.horizons_s {cfg.forecast.horizons_s} exceed the forecast length "
            f"{horizon_total / fs:g} s (raise forecast.forecast_predictions)"
        )
    rows, pooled_truth, pooled_pred = [], [], {m: [] for m in METHODS}
    example = None
    for name, seg in test.items():
        ds = forecast_datasets(cfg, {name: seg})
        if len(ds) == 0:
            continue
        idx = np.arange(len(ds))
        if max_examples_per_record is not None and len(idx) > max_examples_per_record:
            idx = np.linspace(0, len(ds) - 1, max_examples_per_record).round().astype(int)
        contexts = torch.stack([ds[i][0] for i in idx])
        futures = torch.stack([ds[i][1] for i in idx]).numpy()
        preds = forecast_all(forecaster, contexts, horizon_total, fs)
        if example is None:
            example = (name, contexts[0].numpy(), futures[0], {m: p[0] for m, p in preds.items()})
        pooled_truth.append(futures)
        for method, pred in preds.items():
            pooled_pred[method].append(pred)
            for h in horizons:
                rows.append(
                    {
                        "record": name,
                        "method": method,
                        "horizon_s": h,
                        "n_examples": len(idx),
                        **forecast_metrics(futures, pred, int(round(h * fs))),
                    }
                )
    truth = np.concatenate(pooled_truth)
    pooled_rows = []
    for method in METHODS:
        if not pooled_pred[method]:
            continue
        pred = np.concatenate(pooled_pred[method])
        for h in horizons:
            pooled_rows.append(
                {
                    "record": "pooled",
                    "method": method,
                    "horizon_s": h,
                    "n_examples": len(truth),
                    **forecast_metrics(truth, pred, int(round(h * fs))),
                }
            )
    results["forecast"] = {
        "pooled": pooled_rows,
        "per_record": rows,
        "horizons_s": horizons,
        "context_s": cfg.data.input_signal_duration,
        "stride_s": cfg.data.forecast_stride_s,
    }
    if forecaster is not None:
        rlb = {
            r["horizon_s"]: r["mae_mv"] for r in pooled_rows if r["method"] == "repeat_last_beat"
        }
        model = {
            r["horizon_s"]: r["mae_mv"] for r in pooled_rows if r["method"] == "vqvae_forecaster"
        }
        results["forecast"]["mae_gain_vs_repeat_last_beat"] = {
            h: 1 - model[h] / rlb[h] for h in horizons
        }
    if example is not None:
        name, ctx, fut, preds = example
        run.save_figure(
            plots.forecast_figure(ctx, fut, preds, fs, f"test record {name}"), "test_forecast"
        )
    run.save_figure(plots.horizon_figure(pooled_rows), "test_forecast_mae_vs_horizon")

    run.write_json("results.json", results)
    run.write_csv(
        "results.csv",
        [
            [
                r[k]
                for k in (
                    "record",
                    "method",
                    "horizon_s",
                    "n_examples",
                    "mae_mv",
                    "rmse_mv",
                    "prd_pct",
                )
            ]
            for r in pooled_rows + rows
        ],
        header=["record", "method", "horizon_s", "n_examples", "mae_mv", "rmse_mv", "prd_pct"],
    )
    run.write_text("results.md", results_markdown(results))
    return results


def results_markdown(results: dict[str, Any]) -> str:
    rec = results["reconstruction"]["pooled"]
    cb = results["codebook"]
    lines = [
        f"# ecg-vqvae evaluation ({results['variant']}, {results['parameters']:,} parameters)",
        "",
        f"Test records (unseen patients): {', '.join(results['test_records'])}",
        "",
        "## Reconstruction (pooled over test windows)",
        "",
        markdown_table(
            [
                {
                    "MSE [mV^2]": rec["mse_mv2"],
                    "PRD [%]": rec["prd_pct"],
                    "PRDN [%]": rec["prdn_pct"],
                    "SNR [dB]": rec["snr_db"],
                    "codes used": f"{cb['codes_used']}/{cb['n_embed']}",
                    "perplexity": cb["perplexity"],
                    "windows": rec["n_windows"],
                }
            ]
        ),
        "## Forecast errors (pooled; error over the first h seconds after the context)",
        "",
        markdown_table(
            results["forecast"]["pooled"],
            ["method", "horizon_s", "n_examples", "mae_mv", "rmse_mv", "prd_pct"],
        ),
    ]
    gain = results["forecast"].get("mae_gain_vs_repeat_last_beat")
    if gain:
        lines += [
            "",
            "MAE gain of the forecaster over repeat-last-beat: "
            + ", ".join(f"{h:g} s: {100 * g:+.1f} %" for h, g in gain.items()),
        ]
    return "\n".join(lines) + "\n"


def forecast_record(
    run_dir: Path | str, record: Path | str, start_s: float, out_dir: Path | str | None = None
) -> tuple[Path, Path]:
    """Forecast one record from `start_s` (the end of the context) on; write a figure and a CSV."""
    forecaster, cfg = load_forecaster(run_dir)
    record = Path(record)
    fs = cfg.data.samples_per_second
    signal = read_record(record.parent, record.name.removesuffix(".hea"), fs).T  # (2, n)
    w = cfg.data.window_samples
    horizon = w * cfg.forecast.forecast_predictions
    start = int(round(start_s * fs))
    if start < w or start > signal.shape[1]:
        raise ConfigError(
            f"--start {start_s:g} s: must be between {w / fs:g} s (one context window) and the "
            f"record's end ({signal.shape[1] / fs:.1f} s)"
        )
    context = torch.from_numpy(np.ascontiguousarray(signal[:, start - w : start]))
    truth = signal[:, start : start + horizon]
    preds = {m: p[0] for m, p in forecast_all(forecaster, context[None], horizon, fs).items()}
    out = RunDir(Path(out_dir) if out_dir is not None else Path(run_dir), tensorboard=False)
    stem = f"forecast_{record.name.removesuffix('.hea')}_{start_s:g}s"
    fig_path = out.save_figure(
        plots.forecast_figure(
            context.numpy(), truth, preds, fs, f"{record.name} from {start_s:g} s"
        ),
        stem,
    )
    t = start_s + np.arange(horizon) / fs
    header = (
        ["time_s"]
        + [f"truth_lead{i + 1}" for i in range(2)]
        + [f"{m}_lead{i + 1}" for m in preds for i in range(2)]
    )
    rows = []
    for k in range(horizon):
        row = [round(float(t[k]), 6)]
        row += [float(truth[i, k]) if k < truth.shape[1] else "" for i in range(2)]
        row += [float(p[i, k]) for p in preds.values() for i in range(2)]
        rows.append(row)
    csv_path = out.write_csv(f"{stem}.csv", rows, header=header)
    return fig_path, csv_path
