"""How the embedding method's test figures move with training length and with its k-NN choices.

Trains one seed through the package's own `train_machine` (the `embedding` config plus KEY=VALUE
overrides) and, after each epoch in `--eval-epochs`, embeds the training and test clips and scores the
test clips several ways, each with the package's official figures (no bootstrap: this is a sweep of
settings; the published table runs `dcase-cae test`). Scoring variants:

- `knn1`: cosine distance to the nearest training clip, source and target together (the package's score);
- `knn1_source_only`: the same without the target training clips in the bank;
- `knn3`: the mean distance to the 3 nearest training clips;
- `kmeans16_source`: the source clips replaced by 16 k-means centres of their embeddings, the target
  clips kept (Wilkinghoff, ICASSP 2023 / DCASE 2022 technical report), so both domains weigh alike.

Also records the CPU seconds of training (excluding the evaluations) at each evaluated epoch.

Usage (from the repository root, one thread):

    OMP_NUM_THREADS=1 nice -n 10 python packages/dcase-cae/scripts/embedding_ablation.py \
        ../shared/data/dcase2023t2-toycar/ToyCar --cache-dir runs/dcase-cae/table/cache \
        --run-dir runs/dcase-cae/ablation/toycar-s1 --eval-epochs 5,10,15,20 train.epochs=20 train.seed=1
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from dcase_cae.config import Config
from dcase_cae.data import common_rate, extract_features, list_clips, machine_dirs
from dcase_cae.evaluate import ranking_figures
from dcase_cae.scores import clip_embeddings, knn_cosine_distance
from dcase_cae.train import train_machine
from sigzoo_shared import Callback, RunDir, load_config
from sigzoo_shared.cli import packaged_config


def kmeans_bank(train: np.ndarray, domains: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Unit-norm bank: k-means centres of the source embeddings, then every target embedding."""
    from sklearn.cluster import KMeans

    source = train[domains != "target"]
    centres = KMeans(min(k, len(source)), n_init=5, random_state=seed).fit(source).cluster_centers_
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    return np.concatenate([centres, train[domains == "target"]])  # (k + n_target, D)


def score_variants(
    train: np.ndarray, test: np.ndarray, domains: np.ndarray, seed: int
) -> dict[str, np.ndarray]:
    return {
        "knn1": knn_cosine_distance(test, train, 1),
        "knn1_source_only": knn_cosine_distance(test, train[domains != "target"], 1),
        "knn3": knn_cosine_distance(test, train, 3),
        "kmeans16_source": knn_cosine_distance(test, kmeans_bank(train, domains, 16, seed), 1),
    }


class EvaluateAt(Callback):
    """After the listed epochs, score the test clips with every variant and keep the figures."""

    def __init__(self, epochs: set[int], cfg: Config, data: dict[str, Any]) -> None:
        self.epochs, self.cfg, self.data = epochs, cfg, data
        self.rows: list[dict[str, Any]] = []
        self.eval_cpu = 0.0
        self.start = time.process_time()

    def on_epoch_end(self, trainer, model: torch.nn.Module, metrics: dict[str, Any]) -> None:
        epoch = trainer.epoch + 1
        if epoch not in self.epochs:
            return
        t0 = time.process_time()
        d = self.data
        train = clip_embeddings(model, d["train_feats"], self.cfg)
        test = clip_embeddings(model, d["test_feats"], self.cfg)
        model.train()
        variants = score_variants(train, test, d["train_domains"], self.cfg.train.seed)
        row: dict[str, Any] = {
            "epoch": epoch,
            "train_cpu_s": round(t0 - self.start - self.eval_cpu, 1),
            "train_accuracy": metrics.get("train_accuracy"),
        }
        for name, s in variants.items():
            figures = ranking_figures(d["labels"], d["test_domains"], s, self.cfg.decision.max_fpr)
            row[name] = {k: round(v, 4) for k, v in figures.items() if isinstance(v, float)}
        self.eval_cpu += time.process_time() - t0
        self.rows.append(row)
        print(f"epoch {epoch}: train CPU {row['train_cpu_s']} s, knn1 {row['knn1']}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "machine_dir", type=Path, help="e.g. ../shared/data/dcase2023t2-toycar/ToyCar"
    )
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--eval-epochs", required=True, help="comma-separated, e.g. 5,10,20")
    parser.add_argument("overrides", nargs="*", help="KEY=VALUE over the embedding config")
    args = parser.parse_intermixed_args()
    torch.set_num_threads(1)
    cfg = load_config(
        Config,
        base=packaged_config("dcase_cae", "embedding.yaml"),
        overrides=[*args.overrides, "figures.enabled=false", "train.progress=false"],
    )
    ((machine, machine_dir),) = machine_dirs(args.machine_dir).items()
    train_clips = list_clips(machine_dir, "train", machine)
    test_clips = list_clips(machine_dir, "test", machine)
    rate = common_rate(train_clips, cfg.data)
    data = {
        "train_feats": extract_features(train_clips, cfg.data, args.cache_dir, rate),
        "test_feats": extract_features(test_clips, cfg.data, args.cache_dir, rate),
        "train_domains": np.array([c.domain or "source" for c in train_clips]),
        "test_domains": np.array([c.domain or "" for c in test_clips], dtype=object),
        "labels": np.array([c.label for c in test_clips]),
    }
    evaluate = EvaluateAt({int(e) for e in args.eval_epochs.split(",")}, cfg, data)
    root = RunDir.create("dcase-cae", run_dir=args.run_dir, verb="ablation", tensorboard=False)
    root.save_config(cfg)
    wall = time.time()
    train_machine(
        cfg, machine, machine_dir, RunDir(root.path / machine), args.cache_dir,
        torch.device("cpu"), callbacks=[evaluate],
    )  # fmt: skip
    out = {
        "overrides": args.overrides,
        "wall_s": round(time.time() - wall, 1),
        "rows": evaluate.rows,
    }
    root.write_json("ablation.json", out)
    print(json.dumps(out["rows"][-1]))


if __name__ == "__main__":
    main()
