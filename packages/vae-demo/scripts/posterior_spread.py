"""How wide is a trained run's posterior, next to how far a pattern's windows spread in z_mean?

    python posterior_spread.py RUN [RUN ...]

For each run (its last checkpoint, its own stored config and validation windows): the median posterior
std sigma = exp(logvar / 2) of pattern windows and of noise windows, the median over patterns of the rms
distance of a pattern's z_mean to the pattern's centre, and the median distance from a pattern's centre
to the nearest other one. Why: the decoder only has to tell apart what the posterior noise leaves
distinguishable, so a sigma far below the within-pattern spread means nothing pulls a pattern's windows
together (see `model.min_posterior_std`). Labels are used here for the diagnosis only.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from vae_demo.data import load_splits
from vae_demo.evaluate import load_trained


@torch.no_grad()
def spread(run: Path, batch: int = 1024) -> dict[str, float]:
    loaded = load_trained(run / "checkpoints" / "last.pt")  # eval mode
    model, cfg, state = loaded.model, loaded.config, loaded.state
    val = load_splits(cfg.data).val
    parts = [
        model.encode(torch.from_numpy(val.x[i : i + batch])) for i in range(0, len(val.y), batch)
    ]
    mu = torch.cat([m for m, _ in parts]).double().numpy()  # (N, D)
    sigma = torch.cat([(0.5 * lv).exp() for _, lv in parts]).double().numpy()  # (N, D)
    y, labels = val.y, np.unique(val.y[val.y >= 0])
    centres = np.stack([mu[y == c].mean(0) for c in labels])  # (P, D)
    rms = [np.sqrt(((mu[y == c] - centres[i]) ** 2).sum(1).mean()) for i, c in enumerate(labels)]
    dist = np.sqrt(((centres[:, None] - centres[None]) ** 2).sum(-1))
    np.fill_diagonal(dist, np.inf)
    return {
        "epoch": float(state.get("epoch", -1)),
        "sigma_pattern": float(np.median(sigma[y >= 0])),
        "sigma_noise": float(np.median(sigma[y < 0])) if (y < 0).any() else float("nan"),
        "pattern_rms_spread": float(np.median(rms)),
        "nearest_centre": float(np.median(dist.min(1))),
    }


def main(runs: list[str]) -> None:
    print(
        "| run | epoch | median sigma, pattern windows | median sigma, noise windows "
        "| median rms spread of a pattern | median nearest-centre distance |"
    )
    print("|---|---|---|---|---|---|")
    for run in runs:
        s = spread(Path(run))
        print(
            f"| {run} | {s['epoch']:.0f} | {s['sigma_pattern']:.3f} | {s['sigma_noise']:.3f} "
            f"| {s['pattern_rms_spread']:.3f} | {s['nearest_centre']:.3f} |"
        )


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    torch.set_num_threads(1)
    main(sys.argv[1:])
