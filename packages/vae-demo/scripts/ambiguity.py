"""How much of the remaining clustering error is windows that hold two patterns almost equally?

    python ambiguity.py RUN [RUN ...] [--precise-bn N]

A stride-1 window of the default data holds its label's pattern (the majority) and a part of a
neighbour. The label's share p of the window runs from 0.5 to 1. Near p = 0.5 the two patterns fill the
window almost equally and the label is close to arbitrary for any model of the signal.

Part 1 (no model, the validation windows of each run's data seed): the ARI of the true labels against
the same labels with every window of share p < threshold moved to its neighbour's label, i.e. the
score of a latent that is perfect except on the near-ties.

Part 2 (each run's last checkpoint, its own stored config): k-means (k = n_patterns + 1) on z_mean as
in the run's metrics, its ARI, and by share bin the fraction of pattern windows that k-means puts in
their neighbour's cluster (the cluster holding most of the neighbour's windows), and how many labels
share their home cluster (the cluster holding most of their windows) with another label: merged
patterns. Labels are used here for the diagnosis only.

Part 3 (same latents): do a label's windows trail towards the neighbour they are mixed with? By share
bin, the median distance of z_mean from the label's core (the median z_mean of its windows with
p >= 0.9) in units of the gap from that core to the nearest other core, and the mean cosine between
(z_mean - own core) and (neighbour's core - own core): ~0 for a round blob, towards 1 for a stroke
pointing at the neighbour.

Part 4 (same latents): how close the cores of consecutive patterns (k and k + 1, which share the mixed
windows) sit, in z units: the three closest pairs, and the median gap between nearest cores.

Part 5 (same latents): where, as a window's start moves through a pattern block, the latent makes its
largest move (`transition_offsets`): at offset pattern_len / 2 the window's majority, its label,
changes; at offset 0 the junction it holds changes (from c-1 | c to c | c+1). How many blocks put the
transition at the label change, how many at the block start.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from vae_demo.config import DataConfig
from vae_demo.data import load_series
from vae_demo.evaluate import add_precise_bn_option, encode_windows, load_run_for_scoring
from vae_demo.generator import make_series

BINS = (0.5, 0.55, 0.6, 0.7, 0.85, 1.0001)
THRESHOLDS = (0.55, 0.6, 0.65)


def shares(cfg: DataConfig, start: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each window: the label's share of its samples and the other pattern id in it (-1 = noise).

    Windows of one pattern only get share 1 and neighbour = label.
    """
    series = load_series(cfg.series_path) if cfg.series_path is not None else make_series(cfg)
    ids = series.pattern_id[start[:, None] + np.arange(cfg.window)]  # (N, W)
    share = (ids == y[:, None]).mean(axis=1)
    # the neighbour: the most frequent id other than the label (windows hold at most two here)
    neighbour = y.copy()
    for i in np.flatnonzero(share < 1):
        others = ids[i][ids[i] != y[i]]
        values, counts = np.unique(others, return_counts=True)
        neighbour[i] = values[counts.argmax()]
    return share, neighbour


def flipped_ari(y: np.ndarray, share: np.ndarray, neighbour: np.ndarray, threshold: float) -> float:
    moved = np.where((y >= 0) & (share < threshold), neighbour, y)
    return float(adjusted_rand_score(y, moved))


def with_neighbour(
    mu: np.ndarray, y: np.ndarray, neighbour: np.ndarray, n_clusters: int, seed: int
) -> tuple[np.ndarray, float, list[list[int]]]:
    """k-means on z_mean as in `latent_metrics`; True where a pattern window's cluster is the one
    holding most of its neighbour's windows rather than most of its own label's. Also the ARI and the
    groups of labels (noise = -1 included) that share a home cluster (merged labels)."""
    pred = KMeans(n_clusters=n_clusters, n_init=16, random_state=seed).fit_predict(
        mu.astype(np.float64)
    )
    labels = np.unique(y)
    # the cluster that holds most windows of each label
    home = {c: np.bincount(pred[y == c], minlength=n_clusters).argmax() for c in labels}
    own = np.array([home[c] for c in y])
    nb = np.array([home.get(c, -1) for c in neighbour])
    by_home: dict[int, list[int]] = {}
    for c, h in home.items():
        by_home.setdefault(int(h), []).append(int(c))
    merged = [group for group in by_home.values() if len(group) > 1]
    return (pred == nb) & (nb != own), float(adjusted_rand_score(y, pred)), merged


def pattern_cores(
    mu: np.ndarray, y: np.ndarray, share: np.ndarray, core_share: float = 0.9
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pattern labels (L,), their cores (L, 2): the median z_mean of the label's windows with
    p >= `core_share`, and each core's gap (L,): the distance to the nearest other core."""
    labels = np.unique(y[y >= 0])
    cores = np.stack([np.median(mu[(y == c) & (share >= core_share)], axis=0) for c in labels])
    between = np.linalg.norm(cores[:, None] - cores[None], axis=-1)  # (L, L)
    np.fill_diagonal(between, np.inf)
    return labels, cores, between.min(axis=1)


def trailing(
    mu: np.ndarray, y: np.ndarray, share: np.ndarray, neighbour: np.ndarray, core_share: float = 0.9
) -> tuple[np.ndarray, np.ndarray]:
    """Per pattern window (y >= 0, in order): distance from its label's core over the core's gap to the
    nearest other core, and the cosine of its offset from the core with the direction of its
    neighbour's core (NaN for pure windows and noise neighbours)."""
    labels, cores, gap = pattern_cores(mu, y, share, core_share)
    pat = np.flatnonzero(y >= 0)
    own = np.searchsorted(labels, y[pat])
    offset = mu[pat] - cores[own]  # (N, 2)
    dist = np.linalg.norm(offset, axis=1) / gap[own]
    has_nb = (neighbour[pat] >= 0) & (neighbour[pat] != y[pat])
    towards = np.zeros_like(offset)
    towards[has_nb] = cores[np.searchsorted(labels, neighbour[pat][has_nb])] - cores[own[has_nb]]
    norms = np.linalg.norm(offset, axis=1) * np.linalg.norm(towards, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where(has_nb, (offset * towards).sum(axis=1) / norms, np.nan)
    return dist, cos


def transition_offsets(
    mu: np.ndarray,
    start: np.ndarray,
    y: np.ndarray,
    pattern_len: int,
    n_patterns: int,
    bin_len: int = 8,
) -> np.ndarray:
    """For each pattern block c, the window offset at which the latent moves furthest: the latent's
    transition from pattern c's windows to pattern c + 1's, in samples (0 .. pattern_len).

    The pattern windows are grouped by start block and by offset o = start mod pattern_len in bins of
    `bin_len`; the path of the bins' median z_mean is followed from o = 0 of block c to o = 0 of block
    c + 1, and the returned offset is the end of its longest step (NaN where a bin is empty). A window's
    label (its majority) changes at o = pattern_len / 2; a transition near 0 or pattern_len means the
    encoder groups the windows by the junction they hold (their start block) instead.
    """
    n_bins = pattern_len // bin_len
    block = (start // pattern_len) % n_patterns
    b = (start % pattern_len) // bin_len
    path = np.full((n_patterns * n_bins, mu.shape[1]), np.nan)  # bin medians in series order
    for c in range(n_patterns):
        for k in range(n_bins):
            sel = (y >= 0) & (block == c) & (b == k)
            if sel.any():
                path[c * n_bins + k] = np.median(mu[sel], axis=0)
    steps = np.linalg.norm(np.roll(path, -1, axis=0) - path, axis=1)  # step i: bin i -> bin i + 1
    out = np.full(n_patterns, np.nan)
    for c in range(n_patterns):
        block_steps = steps[c * n_bins : (c + 1) * n_bins]
        if not np.isnan(block_steps).any():
            out[c] = (block_steps.argmax() + 1) * bin_len  # the offset the longest step arrives at
    return out


def main(runs: list[Path], precise_bn: int = 0) -> None:
    done_seeds: set[int] = set()
    rows, trail, close, jumps = [], [], [], []
    for run in runs:
        # eval mode; with --precise-bn the BatchNorm statistics of the checkpoint's weights
        model, cfg, state, splits = load_run_for_scoring(
            run / "checkpoints" / "last.pt", precise_bn
        )
        val = splits.val
        share, neighbour = shares(cfg.data, val.start, val.y)
        pat = val.y >= 0
        if cfg.data.seed not in done_seeds:
            done_seeds.add(cfg.data.seed)
            cells = " | ".join(f"{flipped_ari(val.y, share, neighbour, t):.3f}" for t in THRESHOLDS)
            near = " | ".join(f"{np.mean(pat & (share < t)):.3f}" for t in THRESHOLDS)
            print(
                f"data seed {cfg.data.seed}: share of windows with p < {THRESHOLDS}: {near}; "
                f"ARI with them moved to the neighbour: {cells}"
            )
        mu = encode_windows(model, val.x)
        wrong, ari, merged = with_neighbour(
            mu, val.y, neighbour, cfg.data.n_patterns + 1, seed=cfg.train.seed
        )
        in_bin = [(share >= lo) & (share < hi) for lo, hi in zip(BINS, BINS[1:])]  # (N,) each
        by_bin = [wrong[pat & b].mean() for b in in_bin]
        rows.append((run, int(state.get("epoch", -1)) + 1, ari, merged, wrong[pat].mean(), by_bin))
        dist, cos = trailing(mu, val.y, share, neighbour)  # pattern windows only
        trail.append((run, [(np.median(dist[b[pat]]), np.nanmean(cos[b[pat]])) for b in in_bin]))
        _, cores, gap = pattern_cores(mu, val.y, share)
        # pattern k is followed by k + 1 in the series (and the last by the first: the block repeats)
        consecutive = np.linalg.norm(cores - np.roll(cores, -1, axis=0), axis=1)  # (L,)
        close.append((run, np.sort(consecutive)[:3], np.median(gap)))
        P = cfg.data.pattern_len
        where = transition_offsets(mu, val.start, val.y, P, cfg.data.n_patterns)
        offset_from_half = np.abs(where - P / 2)  # 0: at the label change; P / 2: at a block start
        jumps.append((run, offset_from_half, where))
    head = " | ".join(f"p {lo:.2f}-{min(hi, 1):.2f}" for lo, hi in zip(BINS, BINS[1:]))
    print(
        f"\n| run | epoch | k-means ARI | merged labels | in the neighbour's cluster, all | {head} |"
    )
    print("|---|---|---|---|---|" + "---|" * (len(BINS) - 1))
    for run, epoch, ari, merged, all_, by_bin in rows:
        cells = " | ".join(f"{b:.3f}" for b in by_bin)
        n_merged = sum(len(group) for group in merged)
        print(f"| {run} | {epoch} | {ari:.3f} | {n_merged} | {all_:.3f} | {cells} |")
    for run, *_, merged, _all, _bins in rows:
        print(f"{run}: labels sharing a cluster: {merged}")
    print(f"\n| run | distance from the core / gap, and cosine towards the neighbour: {head} |")
    print("|---|" + "---|" * (len(BINS) - 1))
    for run, cells in trail:
        print(f"| {run} | " + " | ".join(f"{d:.2f}, {c:+.2f}" for d, c in cells) + " |")
    print("\n| run | closest three pairs of consecutive cores (k, k + 1), z units | median gap |")
    print("|---|---|---|")
    for run, nearest, gap in close:
        print(f"| {run} | " + ", ".join(f"{d:.2f}" for d in nearest) + f" | {gap:.2f} |")
    print(
        "\n| run | blocks whose longest latent step is within 16 samples of the label change "
        "(offset 64 of 128) | within 16 of the block start (offset 0 / 128) | elsewhere |"
    )
    print("|---|---|---|---|")
    for run, off, where in jumps:
        at_half, at_start = np.sum(off <= 16), np.sum(off >= 48)
        rest = np.sum(~np.isnan(off)) - at_half - at_start
        print(f"| {run} | {at_half} | {at_start} | {rest} |")
        print(f"{run}: transition offset per block: {where.astype(int).tolist()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", type=Path, nargs="+")
    add_precise_bn_option(parser)
    args = parser.parse_args()
    main(args.runs, args.precise_bn)
