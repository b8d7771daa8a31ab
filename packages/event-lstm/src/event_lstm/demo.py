"""`event-lstm demo`: generate, pre-train briefly, fine-tune, evaluate, stream-detect, write report.md.

Sized to finish in about three minutes on two busy CPU cores: small generated sets, a small
event-specific model (so the report can show its learned templates), a few epochs. The numbers it prints
show the pipeline working, not the model's accuracy (see docs/event-lstm.md for that).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
from sigzoo_shared import RunDir
from sigzoo_shared.config import replace

from event_lstm.config import Config

log = logging.getLogger(__name__)

DEMO_OVERRIDES = (
    "generator.n_train=960",
    "generator.n_val=64",
    "generator.n_test=96",
    "generator.n_unlabelled=128",
    "generator.stream_s=30",
    "model.arch=event_specific",
    "model.hidden_size=48",
    "model.frontend_channels=32",
    "model.attention_heads=8",
    "model.num_layers=2",  # the pre-trained encoder's upper layer transfers (not the first)
    "model.cnn_channels=4",
    "model.cnn_out_per_event=2",
    "model.timing_head_dim=16",
    "model.dropout=0.1",
    "train.epochs=10",
    "train.batch_size=32",
    "train.lr=0.003",
    "train.progress=false",
)


def run_demo(cfg: Config, run_dir: Path | str | None = None, pretrain_epochs: int = 1) -> Path:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the demo's small model is fastest on one thread (no contention)
    try:
        return _run_demo(cfg, run_dir, pretrain_epochs)
    finally:
        torch.set_num_threads(threads)


def _run_demo(cfg: Config, run_dir: Path | str | None, pretrain_epochs: int) -> Path:
    with RunDir.created("event-lstm", run_dir=run_dir, verb="demo", tensorboard=False) as run:
        return _demo_into(run, cfg, pretrain_epochs)


def _demo_into(run: RunDir, cfg: Config, pretrain_epochs: int) -> Path:
    from event_lstm.data import load_recording
    from event_lstm.detect import detect_signal
    from event_lstm.evaluate import evaluate, load_classifier, summary
    from event_lstm.generator import generate_dataset
    from event_lstm.plots import stream_figure, template_grid
    from event_lstm.train import pretrain, train

    paths = generate_dataset(run / "data", cfg.generator, cfg.data)
    cfg = replace(
        cfg,
        data=replace(
            cfg.data,
            train_path=paths["train"],
            val_path=paths["val"],
            unlabelled_path=paths["unlabelled"],
        ),
    )
    pre_cfg = replace(cfg, train=replace(cfg.train, epochs=pretrain_epochs))
    pre = pretrain(pre_cfg, "ae", run / "pretrain-ae")
    fit = train(cfg, run / "finetune", pretrained=pre.run_dir, verb="finetune")
    win = evaluate(fit.run_dir, paths["test"], run / "evaluate-windows", cfg)
    stream = evaluate(fit.run_dir, paths["stream"], run / "evaluate-stream", cfg)

    loaded = load_classifier(fit.run_dir)
    model, mcfg = loaded.model, loaded.config
    rec = load_recording(paths["stream"])
    dets, _ = detect_signal(model, rec.signal, mcfg.generator.window_samples, cfg.detect)
    run.save_figure(stream_figure(rec.signal, rec.fs_hz, rec.events, dets, 0.0, 6.0), "detections")
    if mcfg.model.arch == "event_specific":
        run.save_figure(template_grid(model), "templates")
    shutil.copy(
        run / "evaluate-windows" / "figures" / "confusion_5ms.png",
        run.figures / "confusion_5ms.png",
    )

    w, s = summary(win), summary(stream)
    rows = [("windowed test set", w), ("continuous stream (streaming detect)", s)]
    keys = [
        "f1_2ms",
        "f1_5ms",
        "f1_10ms",
        "f1_20ms",
        "onset_median_ms",
        "onset_p95_ms",
        "refractory_violations",
    ]
    lines = [
        "# event-lstm demo",
        "",
        f"Generated data under `data/` (generator seed {cfg.generator.seed}); pre-trained an LSTM "
        f"autoencoder for {pretrain_epochs} epoch(s) (`pretrain-ae/`), fine-tuned a small "
        f"`{mcfg.model.arch}` classifier for {fit.epochs_completed} epochs (`finetune/`), evaluated on "
        "the windowed test set and by streaming detection over a 30 s recording.",
        "",
        "| set | " + " | ".join(keys) + " |",
        "|---" * (len(keys) + 1) + "|",
    ]
    for name, r in rows:
        lines.append(
            f"| {name} | "
            + " | ".join(f"{r[k]:.3g}" if isinstance(r[k], float) else str(r[k]) for k in keys)
            + " |"
        )
    lines += [
        "",
        f"Streaming real-time factor: {s.get('real_time_factor', float('nan')):.0f}x.",
        "This is a few-minute smoke run; trained results are in docs/event-lstm.md.",
        "",
        "Figures: [stream detections](figures/detections.png) · [confusion](figures/confusion_5ms.png)"
        + (" · [templates](figures/templates.png)" if mcfg.model.arch == "event_specific" else ""),
        "",
    ]
    report = run.write_text("report.md", "\n".join(lines))
    log.info("demo report: %s (test F1 at 5 ms %.3f)", report, float(np.nan_to_num(w["f1_5ms"])))
    return report
