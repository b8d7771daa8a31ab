"""Which grouping of the stride-1 windows does an error prefer: by majority pattern, or by junction?

    python partition_spread.py [--seeds 85 86 ...]

A stride-1 window that starts at offset o of pattern block c holds c's tail and the head of c + 1. Its
label (the majority) is c for o < 64 and c + 1 above; the *junction* it holds (c | c + 1) is its start
block c. Both groupings have one cluster per pattern of the same size, and the aligned, shift-tolerant
time-domain error hardly prefers either (docs/lab/vae-demo.md "Which junction, or which
majority"). A decoder that gives each cluster one output can at best output the cluster's mean, so the
cost of a grouping under an error is its within-cluster spread about the mean. This script computes that
spread for the magnitude spectrum (`model.spectral_errors`' space, |rfft| / sqrt(T)) on one tile of the
clean series of each data seed (min-max scaled per channel, no extra noise, noise block left out) and
prints the two groupings' spreads and their ratio.
"""

from __future__ import annotations

import argparse

import numpy as np
from vae_demo.config import DataConfig
from vae_demo.data import minmax, window_labels
from vae_demo.generator import make_series


def spectra_and_groupings(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(M, F, T/2 + 1) magnitude spectra of every window starting in the second tile, and (M,)
    majority labels and (M,) start blocks (junctions) of the same windows."""
    cfg = DataConfig(seed=seed)
    series = make_series(cfg, repeats=3, noise_len=0)
    signal, _, _ = minmax(series.signal, axis=(0,))  # (N, F)
    T, tile = cfg.window, cfg.n_patterns * cfg.pattern_len
    starts = np.arange(tile, 2 * tile)  # (M,)
    windows = np.stack([signal[s : s + T].T for s in starts])  # (M, F, T)
    spectra = np.abs(np.fft.rfft(windows, axis=-1)) / np.sqrt(T)  # (M, F, T/2 + 1)
    majority = window_labels(series.pattern_id, starts, T)
    junction = series.pattern_id[starts]
    return spectra, majority, junction


def within_spread(x: np.ndarray, groups: np.ndarray) -> float:
    """Mean over windows of the mean squared difference between x and its group's mean."""
    total = 0.0
    for g in np.unique(groups):
        xg = x[groups == g]
        total += ((xg - xg.mean(axis=0)) ** 2).mean(axis=tuple(range(1, x.ndim))).sum()
    return total / len(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[85, 86, 87, 88, 89, 90])
    args = parser.parse_args()
    print("| data seed | spread, majority groups | spread, junction groups | ratio |")
    print("|---|---|---|---|")
    for seed in args.seeds:
        spectra, majority, junction = spectra_and_groupings(seed)
        a, b = within_spread(spectra, majority), within_spread(spectra, junction)
        print(f"| {seed} | {a:.3e} | {b:.3e} | {a / b:.3f} |")


if __name__ == "__main__":
    main()
