"""What a 2-D latent of the default data can score, and what the reconstruction loss rewards.

    python latent_ceiling.py [key=value ...]      (config overrides, e.g. data.seed=86)

Two tables on the default data (stride-1 windows), no training involved:

1. Reconstruction error left when a latent carries only some information about a pattern window: the
   MSE of predicting each window (signal channels, as the decoder does by default) by the mean window of
   its group, for groups = the label (dominant pattern), the offset in the 128-sample grid, the time value
   the bypass gives the decoder, and combinations. A VAE's reconstruction term only rewards information in
   proportion to the error it removes.
2. The issue's clustering score (k-means, k = n_patterns + 1, ARI/NMI/silhouette/noise AUC, the package's
   `latent_metrics`, mean ± std over 5 k-means seeds) of hand-made latents: one blob per label (the target), the windows' position in
   the repeating cycle drawn on a circle (what a latent that encodes the whole window does at best with
   a continuous map), PCA of the raw windows, PCA of their shift-invariant magnitude spectra, and k-means
   on the full-dimensional raw windows and spectra (no 2-D bottleneck).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch
from sigzoo_shared.config import load_config
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score
from vae_demo.config import Config
from vae_demo.data import load_splits
from vae_demo.evaluate import latent_metrics
from vae_demo.model import cyclic_shift_errors


def within_group_mse(x: np.ndarray, keys: np.ndarray) -> tuple[float, int]:
    """MSE of x (N, E) against the mean of its group (rows of `keys`), and the number of groups."""
    _, inv = np.unique(keys.reshape(len(keys), -1), return_inverse=True, axis=0)
    inv = inv.reshape(-1)
    means = np.zeros((inv.max() + 1, x.shape[1]))
    np.add.at(means, inv, x)
    means /= np.bincount(inv)[:, None]
    return float(((x - means[inv]) ** 2).mean()), int(inv.max() + 1)


def shift_tolerant_table(x: np.ndarray, y: np.ndarray, offset: np.ndarray, total: float) -> None:
    """Table 1b: the same question under `model.shift_tolerant` (error of the best cyclic shift).

    x (N, F, T) pattern windows, y labels, offset = start % pattern_len. The label's prototype is the mean
    of its aligned windows (offset 0: the whole pattern, extra noise averaged out)."""
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))

    def tolerant_mse(ref: np.ndarray) -> float:  # ref (N, F, T): one decoded window per window
        errs = [
            cyclic_shift_errors(torch.from_numpy(ref[i : i + 4096]), xt[i : i + 4096]).min(dim=1)
            for i in range(0, len(xt), 4096)
        ]
        return float(torch.cat([e.values for e in errs]).mean())

    mean = np.broadcast_to(x.mean(axis=0, dtype=np.float64).astype(np.float32), x.shape)
    protos = {c: x[(y == c) & (offset == 0)].mean(axis=0) for c in np.unique(y)}
    base = tolerant_mse(np.ascontiguousarray(mean))
    label = tolerant_mse(np.stack([protos[c] for c in y]))
    print(
        "\n### 1b. The same windows under the shift-tolerant error (best cyclic shift of the output)\n"
    )
    print("| the decoder outputs | shift-tolerant MSE | error explained |")
    print("|---|---|---|")
    print(f"| the mean window (no information) | {base:.5f} | 0 % (plain MSE {total:.5f}) |")
    print(f"| the whole pattern named by the label | {label:.5f} | {1 - label / base:.1%} |")


def main(argv: list[str]) -> None:
    cfg = load_config(Config, overrides=argv)
    t0 = time.process_time()
    splits = load_splits(cfg.data)
    d = cfg.data
    L, cycle = d.pattern_len, d.n_patterns * d.pattern_len

    w = splits.train
    pat = w.y >= 0
    x = w.x[pat, : d.n_features].reshape(int(pat.sum()), -1).astype(np.float64)
    start, y = w.start[pat], w.y[pat]
    offset = start % L
    t_last = np.round(0.5 * (np.cos(2 * np.pi * (start + L - 1) / L) + 1), 6)
    total = float(x.var(axis=0).mean())
    print(
        f"## 1. Reconstruction error explained ({len(y)} training pattern windows, stride {d.stride})"
    )
    print(f"\nMSE of the mean window (a collapsed VAE): {total:.5f}\n")
    print("| the latent knows | groups | MSE of the group mean | error explained |")
    print("|---|---|---|---|")
    for name, keys in [
        ("the label (dominant pattern)", y),
        ("the offset in the pattern grid (0-127)", offset),
        ("the bypass time value (last step)", t_last),
        ("label + bypass time value", np.stack([y, t_last], 1)),
        ("label + offset (= position in the cycle)", np.stack([y, offset], 1)),
    ]:
        mse, n = within_group_mse(x, keys)
        print(f"| {name} | {n} | {mse:.5f} | {1 - mse / total:.1%} |")

    shift_tolerant_table(w.x[pat, : d.n_features], y, offset, total)

    v = splits.val
    rng = np.random.default_rng(0)
    idx = rng.choice(len(v.y), min(5000, len(v.y)), replace=False)
    yv, sv = v.y[idx], v.start[idx]
    noise = yv < 0
    k = d.n_patterns + 1
    print(
        f"\n## 2. k-means (k = {k}) scores of hand-made 2-D latents ({len(idx)} validation windows)\n"
    )
    print("| latent | ARI | NMI | silhouette | noise AUC |")
    print("|---|---|---|---|---|")

    def row(name: str, mu: np.ndarray) -> None:
        """Mean +- std over 5 k-means seeds: on a latent without gaps the cuts fall anywhere."""
        runs = [latent_metrics(mu, yv, k, seed=s) for s in range(5)]

        def cell(key: str) -> str:
            values = [r[key] for r in runs]
            return f"{np.mean(values):.3f} ± {np.std(values):.3f}"

        m = runs[0]
        print(
            f"| {name} | {cell('ari')} | {cell('nmi')} | {m['silhouette']:.3f} | {m['noise_auc']:.3f} |"
        )

    def on_circle(angle: np.ndarray) -> np.ndarray:
        mu = np.stack([np.cos(angle), np.sin(angle)], 1)
        mu[noise] = rng.normal(0, 0.05, size=(int(noise.sum()), 2))  # noise: a blob at the centre
        return mu

    row(
        "one blob per label, noise at the centre (the target)",
        on_circle(2 * np.pi * yv / d.n_patterns) + rng.normal(0, 0.02, (len(yv), 2)),
    )
    row(
        "position in the cycle on a circle, noise at the centre",
        on_circle(2 * np.pi * (sv % cycle) / cycle),
    )
    sig = v.x[idx, : d.n_features]
    raw = sig.reshape(len(idx), -1)
    spec = np.abs(np.fft.rfft(sig - sig.mean(-1, keepdims=True), axis=-1)).reshape(len(idx), -1)
    row("PCA-2 of the raw windows", PCA(2, random_state=0).fit_transform(raw))
    row(
        "PCA-2 of the magnitude spectra (shift-invariant)",
        PCA(2, random_state=0).fit_transform(spec),
    )
    for name, feats in [("raw windows", raw), ("magnitude spectra", spec)]:
        aris = [
            adjusted_rand_score(yv, KMeans(k, n_init=4, random_state=s).fit_predict(feats))
            for s in range(5)
        ]
        print(
            f"| k-means on the full-dimensional {name} (no 2-D bottleneck) | "
            f"{np.mean(aris):.3f} ± {np.std(aris):.3f} | | | |"
        )
    print(f"\n(CPU {time.process_time() - t0:.1f} s)")


if __name__ == "__main__":
    main(sys.argv[1:])
