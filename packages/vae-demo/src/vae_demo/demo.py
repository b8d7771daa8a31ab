"""`vae-demo demo`: a short training run on generated data, the encoder test and a one-page report.

Settings come from `configs/demo.yaml`: fewer patterns than the default data and windows aligned to the
pattern grid (each window one whole pattern), so it finishes in a few minutes on a 2-core CPU and the
latent visibly separates the patterns (on the default stride-1 windows it takes ~30 full-scale epochs; docs/vae-demo.md).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from sigzoo_shared import RunDir

from vae_demo.config import Config
from vae_demo.evaluate import encode_test
from vae_demo.train import train

log = logging.getLogger(__name__)


def demo(cfg: Config, run_dir: Path | str | None = None) -> Path:
    t0 = time.perf_counter()
    result = train(cfg, run_dir=run_dir)
    run = RunDir(result.run_dir)
    enc = encode_test(run.path, run)
    final = result.history[-1]
    best_ari = max(result.history, key=lambda h: h.get("val_ari", float("-inf")))
    d, m = cfg.data, cfg.model
    rel = lambda p: os.path.relpath(p, run.path)  # noqa: E731
    last = f"figures/latent_epoch{final['epoch']:04d}.png"
    lines = [
        "# vae-demo report",
        "",
        f"Trained the VAE for {len(result.history)} epochs on a generated series of {d.n_patterns} "
        f"patterns x {d.n_features} channels x {d.pattern_len} samples, tiled {d.repeats} times, plus "
        f"{d.noise_len} noise samples (windows of {d.window}, stride {d.stride}; time_bypass="
        f"{m.time_bypass}, beta={m.beta:g}). Labels were used only for the metrics and plots.",
        "",
        "| metric (validation) | final epoch | epoch with the best ARI |",
        "|---|---|---|",
    ]
    for key in (
        "val_loss",
        "val_recon",
        "val_kl",
        "val_ari",
        "val_nmi",
        "val_silhouette",
        "val_noise_auc",
    ):
        lines.append(
            f"| {key[4:]} | {final.get(key, float('nan')):.4f} | {best_ari.get(key, float('nan')):.4f} |"
        )
    lines += [
        "",
        f"Best ARI at epoch {best_ari['epoch'] + 1}; k-means with k = {d.n_patterns + 1} on the "
        "2-D z_mean; chance ARI is 0.",
        "",
        "## Encoder test",
        "",
        (run / "encode.md").read_text(encoding="utf-8"),
        "## Figures",
        "",
        f"- final latent space: [{last}]({last})",
        "- latent space over epochs: [figures/latent.gif](figures/latent.gif)",
        f"- reconstruction: [figures/reconstruction_epoch{final['epoch']:04d}.png]"
        f"(figures/reconstruction_epoch{final['epoch']:04d}.png)",
        f"- losses and metrics: [figures/history_epoch{final['epoch']:04d}.png]"
        f"(figures/history_epoch{final['epoch']:04d}.png)",
        f"- encoder test: [{rel(enc['figure'])}]({rel(enc['figure'])})",
        "",
        f"![latent]({last})",
        "",
        f"Wall time {time.perf_counter() - t0:.0f} s. Follow a run with `vae-demo watch {run.path}` "
        f"or `tensorboard --logdir {run.path}`.",
    ]
    path = run.write_text("report.md", "\n".join(lines) + "\n")
    log.info("report: %s", path)
    return path
