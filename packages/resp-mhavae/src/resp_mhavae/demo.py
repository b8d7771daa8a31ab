"""`resp-mhavae demo`: a synthetic breathing recording, a short two-phase training, detection, report.md."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from resp_mhavae.config import Config

DEMO_OVERRIDES = dict(l_win=48, look_back_num=2)


def demo_config(cfg: Config, data_path: Path) -> Config:
    """Small enough for ~1-2 minutes on two CPU cores; the user's overrides on `cfg` otherwise stay."""
    data = dataclasses.replace(
        cfg.data,
        format="collected",
        path=data_path,
        dataset_config=None,
        recording=None,
        **DEMO_OVERRIDES,
    )
    model = dataclasses.replace(
        cfg.model,
        code_size=8,
        vae_channels=[8, 16],
        num_hidden_units_vae=32,
        num_hidden_units_lstm=32,
        num_layers_lstm=2,
    )
    train = dataclasses.replace(
        cfg.train, epochs=min(cfg.train.epochs, 15), batch_size=16, progress=False
    )
    lstm = dataclasses.replace(
        cfg.lstm, epochs=min(cfg.lstm.epochs, 15), batch_size=16, progress=False
    )
    detect = dataclasses.replace(
        cfg.detect, vis_recon_every_n_epochs=15, vis_lstm_every_n_epochs=15
    )
    return dataclasses.replace(cfg, data=data, model=model, train=train, lstm=lstm, detect=detect)


def demo(cfg: Config, run_dir: Path | None = None, n_rows: int = 6000) -> Path:
    import torch

    from resp_mhavae.evaluate import METHOD_NAMES, detect, fmt
    from resp_mhavae.generator import write_collected
    from resp_mhavae.train import new_run, train

    # The demo's models are tiny: intra-op threads only add synchronisation (on a busy 2-core machine
    # they made the demo ~7x more CPU-hungry), so it runs single-threaded.
    torch.set_num_threads(1)
    with new_run(run_dir, "demo", tensorboard=False) as run:
        csv_path = write_collected(
            run.path / "generated", "synthetic_1", n_rows=n_rows, seed=cfg.train.seed
        )
        cfg = demo_config(cfg, csv_path)
        train(cfg, run.path)
        summary = detect(cfg, run.path)
        lines = [
            "# resp-mhavae demo",
            "",
            f"Generated a {n_rows}-row synthetic nose-sensor recording at 24 Hz (Audio, Temperature, "
            f"Humidity; apnoea, mouth-breathing and sensor-dropout intervals) in `generated/`, trained the "
            f"MHA-VAE-LSTM and the baselines for at most {cfg.train.epochs} + {cfg.lstm.epochs} epochs "
            f"(l_win {cfg.data.l_win}, look_back_num {cfg.data.look_back_num}) and scored the test part "
            f"(last 30 %) under the `{cfg.data.protocol}` protocol.",
            "",
            "| method | threshold on | window F2 | event detection rate | window AUC-PR | window ROC-AUC |",
            "|---|---|---|---|---|---|",
        ]
        for r in summary["results"]:
            if r["primary"]:
                lines.append(
                    f"| {METHOD_NAMES[r['method']]} | {r['threshold_rule']} | {fmt(r['window_f2'])} | "
                    f"{fmt(r['event_detection_rate'])} | {fmt(r['window_auc_pr'])} | {fmt(r['window_roc_auc'])} |"
                )
        prevalence = summary["results"][0]["window_prevalence"]
        lines += [
            "",
            f"Chance level: AUC-PR = prevalence of anomalous test windows ({prevalence:.3f}), "
            "ROC-AUC 0.5. Full table: [results.md](results.md).",
            "",
            "![comparison](figures/anomaly_detection_comparison.png)",
            "",
            "![scores](figures/scores.png)",
            "",
        ]
        return run.write_text("report.md", "\n".join(lines))
