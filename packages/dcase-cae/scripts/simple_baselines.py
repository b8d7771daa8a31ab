"""Non-learned baselines a practitioner would try first, scored with the package's official metrics.

Each clip becomes its mean log-mel spectrum (128 bands, dB, averaged over time), standardised per band by
the training clips. Two scores, no training, no seed:

- `mel_knn`: cosine distance to the nearest training clip (source and target clips together), the
  embedding method's k-NN without the learned embedding;
- `mel_mahalanobis`: Mahalanobis distance to the training clips' mean (Ledoit-Wolf covariance).

Usage (from the repository root; `--cache-dir` reuses the log-mel cache of the training runs):

    python packages/dcase-cae/scripts/simple_baselines.py ../shared/data/dcase2023t2-toycar/ToyCar \
        --cache-dir runs/dcase-cae/table/cache --out runs/dcase-cae/table/simple-toycar.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from dcase_cae.config import DataConfig
from dcase_cae.data import extract_features, list_clips
from dcase_cae.evaluate import ranking_figures
from dcase_cae.official import bootstrap_intervals
from dcase_cae.scores import knn_cosine_distance
from sklearn.covariance import LedoitWolf


def mean_spectra(folder: Path, split: str, cfg: DataConfig, cache: Path | None):
    clips = list_clips(folder, split, folder.name)
    feats = extract_features(clips, cfg, cache)
    return clips, np.stack([f.mean(axis=1) for f in feats])  # (clips, M)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("machine_dir", type=Path)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    cfg = DataConfig(feature_workers=1)
    _, train = mean_spectra(args.machine_dir, "train", cfg, args.cache_dir)
    clips, test = mean_spectra(args.machine_dir, "test", cfg, args.cache_dir)
    mu, sd = train.mean(axis=0), train.std(axis=0) + 1e-6
    train_z, test_z = (train - mu) / sd, (test - mu) / sd

    def unit(x: np.ndarray) -> np.ndarray:
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    lw = LedoitWolf().fit(train_z)
    scores = {
        "mel_knn": knn_cosine_distance(unit(test_z), unit(train_z), k=1),
        "mel_mahalanobis": lw.mahalanobis(test_z),
    }
    labels = np.array([c.label for c in clips])
    domains = np.array([c.domain or "" for c in clips], dtype=object)
    out = {}
    for name, s in scores.items():
        figures = ranking_figures(labels, domains, s, 0.1)
        figures["ci95"] = bootstrap_intervals(
            labels, domains, s, lambda y, d, x: ranking_figures(y, d, x, 0.1), n_boot=1000
        )
        out[name] = figures
        shown = {k: round(v, 3) for k, v in figures.items() if isinstance(v, float)}
        print(name, shown)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
