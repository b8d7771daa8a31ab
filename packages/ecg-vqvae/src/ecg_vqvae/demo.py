"""`demo`: synthetic ECG records -> short VQ-VAE and forecaster training -> evaluation -> report.md.

Runs in a few minutes on two CPU cores. `DEMO_OVERRIDES` are applied before the user's own overrides, so
`ecg-vqvae demo train.epochs=1` still wins.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from sigzoo_shared import RunDir

from ecg_vqvae.config import Config
from ecg_vqvae.evaluate import evaluate_run
from ecg_vqvae.generator import write_records
from ecg_vqvae.train import train_forecaster, train_vqvae

DEMO_OVERRIDES = (
    "data.signals_per_patient=20",
    "data.forecast_stride_s=2.0",
    "train.epochs=10",
    "train.batch_size=16",
    "forecast.train.epochs=4",
    "forecast.train.batch_size=16",
    "figure_every_n_epochs=5",
)
DEMO_RECORDS, DEMO_SECONDS = 8, 60.0


def run_demo(cfg: Config, run_dir: Path | None = None) -> Path:
    """Write data, train, evaluate; return the path of `report.md`."""
    run = RunDir.create("ecg-vqvae", run_dir=run_dir, verb="demo", tensorboard=False)
    data_dir = run.path / "data"
    write_records(
        data_dir, DEMO_RECORDS, DEMO_SECONDS, cfg.data.samples_per_second, seed=cfg.train.seed
    )
    cfg = dataclasses.replace(
        cfg, data=dataclasses.replace(cfg.data, data_dir=data_dir, records=[])
    )
    vq = train_vqvae(cfg, run.path / "vqvae")
    fc = train_forecaster(cfg, vq.run_dir, run.path / "forecaster")
    results = evaluate_run(fc.run_dir)
    shown = {
        "reconstruction (test record)": fc.run_dir / "figures" / "test_reconstruction.png",
        "forecast (test record)": fc.run_dir / "figures" / "test_forecast.png",
        "forecast MAE vs horizon": fc.run_dir / "figures" / "test_forecast_mae_vs_horizon.png",
        "codebook usage (test)": fc.run_dir / "figures" / "test_codebook_usage.png",
    }
    links = []
    for title, src in shown.items():
        if src.is_file():
            dst = run.figures / src.name
            shutil.copyfile(src, dst)
            links.append(f"- [{title}](figures/{src.name})")
    rec = results["reconstruction"]["pooled"]
    text = [
        "# ecg-vqvae demo",
        "",
        f"Synthetic two-lead ECG ({DEMO_RECORDS} records x {DEMO_SECONDS:g} s, sums of Gaussian waves with RR "
        f"variability, baseline wander, noise and PVCs, written as WFDB into `data/`). Patient-wise split: "
        f"test records {', '.join(results['test_records'])}.",
        f"VQ-VAE ({cfg.model.variant}, {results['parameters']:,} parameters) trained {len(vq.history)} epochs "
        f"(`vqvae/`), latent forecaster {len(fc.history)} epochs (`forecaster/`).",
        "",
        "| test reconstruction | value |",
        "|---|---|",
        f"| PRD [%] | {rec['prd_pct']:.2f} |",
        f"| PRDN [%] | {rec['prdn_pct']:.2f} |",
        f"| SNR [dB] | {rec['snr_db']:.2f} |",
        f"| codes used | {results['codebook']['codes_used']}/{results['codebook']['n_embed']} |",
        f"| perplexity | {results['codebook']['perplexity']:.1f} |",
        "",
        "| forecaster | horizon [s] | MAE [mV] | RMSE [mV] | PRD [%] |",
        "|---|---|---|---|---|",
    ]
    text += [
        f"| {r['method']} | {r['horizon_s']:g} | {r['mae_mv']:.4f} | {r['rmse_mv']:.4f} | "
        f"{r['prd_pct']:.1f} |"
        for r in results["forecast"]["pooled"]
    ]
    text += [
        "",
        "A demo this short shows the pipeline, not the model's quality; see docs/ecg-vqvae.md for "
        "MIT-BIH results.",
        "",
        "Figures:",
        *links,
        "",
        "Full tables: `forecaster/results.md`, `forecaster/results.csv`.",
    ]
    return run.write_text("report.md", "\n".join(text) + "\n")
