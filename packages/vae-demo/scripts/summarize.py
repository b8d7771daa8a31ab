"""Summarise target runs (target.sh) as a markdown table: mean ± std over seeds, with and without bypass.

    python summarize.py OUT_DIR [--precise-bn N]

For every OUT_DIR/{nobypass,bypass}-s<seed> run, the last checkpoint's encoder maps the run's validation
windows to z_mean and the package's `latent_metrics` scores them (k-means with k = n_patterns + 1, seeded
by train.seed), so every run is scored by the same code; losses come from the last line of metrics.jsonl.
With `--precise-bn N` the BatchNorm statistics are first recomputed from N batches of training windows
with the checkpoint's weights (`evaluate.recompute_bn`; runs trained with `train.precise_bn_batches`
already have them) and the validation losses are recomputed with the run's own step function.
"error explained" = 1 - val recon MSE / MSE of the mean validation window (0 = collapsed VAE).
Chance levels: ARI 0, noise AUC 0.5, and the NMI of a uniformly random (n_patterns + 1)-way partition of
the same windows (mean of 20 draws; NMI is not chance-corrected).
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import normalized_mutual_info_score
from vae_demo.config import Config
from vae_demo.data import Windows
from vae_demo.evaluate import (
    add_precise_bn_option,
    encode_windows,
    latent_metrics,
    load_run_for_scoring,
)
from vae_demo.model import TimeSeriesVAE
from vae_demo.train import make_step

RUN_RE = re.compile(r"(nobypass|bypass)-s(\d+)$")
KEYS = ("ari", "nmi", "silhouette", "noise_auc", "val_recon", "explained", "val_kl")


@torch.no_grad()
def val_losses(model: TimeSeriesVAE, cfg: Config, val: Windows) -> dict[str, float]:
    """Validation recon and KL per window of the model as it is, with the run's step function."""
    m = cfg.model
    step = make_step(m.beta, shift_tolerant=m.shift_tolerant, keep=m.keep_fraction)
    sums, n = {"recon": 0.0, "kl": 0.0}, 0
    for i in range(0, len(val.x), 1024):
        x = torch.from_numpy(val.x[i : i + 1024])
        _, parts = step(model, (x, None))
        for k in sums:
            sums[k] += float(parts[k]) * len(x)
        n += len(x)
    return {f"val_{k}": v / n for k, v in sums.items()}


def score(run: Path, precise_bn: int = 0) -> dict[str, float]:
    model, cfg, _, splits = load_run_for_scoring(run / "checkpoints" / "last.pt", precise_bn)
    val = splits.val
    last = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line][
        -1
    ]
    if precise_bn:  # the logged losses were taken with the old statistics
        last = {**last, **val_losses(model, cfg, val)}
    mu = encode_windows(model, val.x)
    out = latent_metrics(mu, val.y, cfg.data.n_patterns + 1, seed=cfg.train.seed)
    target = val.x if cfg.model.reconstruct_time else val.x[:, : cfg.data.n_features]
    mean_window_mse = float(target.var(axis=0).mean())  # the error of a collapsed VAE
    rng = np.random.default_rng(0)
    chance = [
        normalized_mutual_info_score(val.y, rng.integers(0, cfg.data.n_patterns + 1, len(val.y)))
        for _ in range(20)
    ]
    return {
        **out,
        "val_recon": last["val_recon"],
        "val_kl": last["val_kl"],
        "explained": 1 - last["val_recon"] / mean_window_mse,
        "epoch": last["epoch"] + 1,
        "n_val": len(val.y),
        "nmi_chance": float(np.mean(chance)),
    }


def main(out_dir: Path, precise_bn: int = 0) -> None:
    groups: dict[str, list[dict[str, float]]] = defaultdict(list)
    print(
        "| time_bypass | seed | epoch | ARI | NMI | silhouette | noise AUC | val recon MSE "
        "| error explained | val KL (nats) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for run in sorted(p for p in out_dir.iterdir() if RUN_RE.search(p.name)):
        if not (run / "checkpoints" / "last.pt").is_file():
            continue
        mode, seed = RUN_RE.search(run.name).groups()
        r = score(run, precise_bn)
        groups[mode].append(r)
        cells = " | ".join(f"{r[k]:.5f}" if k == "val_recon" else f"{r[k]:.3f}" for k in KEYS)
        print(f"| {mode == 'bypass'} | {seed} | {r['epoch']} | {cells} |")
    for mode, rows in sorted(groups.items(), reverse=True):
        cells = " | ".join(
            f"{np.mean([r[k] for r in rows]):.{5 if k == 'val_recon' else 3}f} ± "
            f"{np.std([r[k] for r in rows]):.{5 if k == 'val_recon' else 3}f}"
            for k in KEYS
        )
        print(f"| {mode == 'bypass'} | mean ± std of {len(rows)} | | {cells} |")
    rows = [r for rs in groups.values() for r in rs]
    if rows:
        print(
            f"\nChance: ARI 0, noise AUC 0.5, NMI of a random partition "
            f"{np.mean([r['nmi_chance'] for r in rows]):.3f} "
            f"({int(np.mean([r['n_val'] for r in rows]))} validation windows per run)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", type=Path)
    add_precise_bn_option(parser)
    args = parser.parse_args()
    main(args.out_dir, args.precise_bn)
