"""Numbers for what the original demo only showed, and its encoder test.

`latent_metrics`: k-means (k = n_patterns + 1) on the 2-D z_mean of validation windows, scored against the
true labels with the adjusted Rand index and NMI (scikit-learn); the silhouette of the true labels in the
latent (how well the classes separate there, independent of k-means' luck); and noise-vs-pattern
separation, the ROC-AUC of the distance from the latent origin (the prior's centre, where the original
demo's noise collapses) with pattern windows as positives.

`encode_test` (the notebook's encoder test): windows of new signals - fresh in-distribution windows of the
trained patterns, the same patterns shifted half a pattern against the time grid, and patterns with
frequencies above the training band - encoded and drawn over the validation latent; each set is scored by
nearest-centroid accuracy against the validation clusters and by its mean distance from the origin.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from sigzoo_shared import RunDir, recompute_batchnorm
from sigzoo_shared.metrics import roc_auc
from sigzoo_shared.runs import LoadedRun, load_run
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_score

from vae_demo.config import Config, check_run, stored_layers
from vae_demo.data import (
    Splits,
    Windows,
    load_series,
    load_splits,
    make_windows,
    series_windows,
)
from vae_demo.generator import make_series
from vae_demo.model import Layers, TimeSeriesVAE

log = logging.getLogger(__name__)


def build_model(cfg: Config) -> TimeSeriesVAE:
    m, d = cfg.model, cfg.data
    return TimeSeriesVAE(
        d.n_features,
        d.window,
        time_channel=d.time_encoding,
        time_bypass=m.time_bypass,
        reconstruct_time=m.reconstruct_time,
        latent_dim=m.latent_dim,
        layers=Layers(
            m.channels,
            m.kernel_size,
            m.n_heads,
            m.key_dim,
            m.dense_units,
            m.gru_units,
            m.out_kernel_size,
            m.encoder,
            m.decoder,
            m.spectrum_units,
            m.dense_decoder_units,
        ),
        init_log_var=m.init_log_var,
        encoder_pool=m.encoder_pool,
        min_posterior_std=m.min_posterior_std,
        center_input=m.center_input,
    )


@torch.no_grad()
def encode_windows(
    model: TimeSeriesVAE, x: np.ndarray, device: torch.device | str = "cpu", batch_size: int = 1024
) -> np.ndarray:
    """z_mean (N, D) of windows x (N, C, T), in eval mode."""
    was_training = model.training
    model.eval()
    out = [
        model.encode(torch.from_numpy(x[i : i + batch_size]).to(device))[0].cpu()
        for i in range(0, len(x), batch_size)
    ]
    model.train(was_training)
    return torch.cat(out).numpy() if out else np.zeros((0, 2), np.float32)


def fit_kmeans(mu: np.ndarray, n_clusters: int, seed: int = 0) -> KMeans:
    """k-means on latents mu (N, D): the clustering every ARI/NMI here and `api.cluster` use."""
    # 16 restarts: with few, k-means can merge two of 31 perfectly separated blobs (a test checks
    # that it does not); restarts are cheap on 2-D points
    return KMeans(n_clusters=n_clusters, n_init=16, random_state=seed).fit(mu.astype(np.float64))


def latent_metrics(
    mu: np.ndarray,
    labels: np.ndarray,
    n_clusters: int,
    seed: int = 0,
    silhouette_points: int = 3000,
) -> dict[str, float]:
    """ARI and NMI of k-means on `mu` vs `labels`, silhouette of `labels`, noise-vs-pattern AUC."""
    out = {
        "ari": float("nan"),
        "nmi": float("nan"),
        "silhouette": float("nan"),
        "noise_auc": float("nan"),
    }
    if len(mu) > n_clusters and np.isfinite(mu).all():
        pred = fit_kmeans(mu, n_clusters, seed).labels_
        out["ari"] = float(adjusted_rand_score(labels, pred))
        out["nmi"] = float(normalized_mutual_info_score(labels, pred))
    n_labels = len(np.unique(labels))
    if 1 < n_labels < len(mu) and np.isfinite(mu).all():
        out["silhouette"] = float(
            silhouette_score(
                mu, labels, sample_size=min(silhouette_points, len(mu)), random_state=seed
            )
        )
    is_pattern = labels >= 0
    if is_pattern.any() and (~is_pattern).any():
        out["noise_auc"] = float(roc_auc(is_pattern.astype(int), np.linalg.norm(mu, axis=1)))
    return out


def subset(w: Windows, n: int) -> Windows:
    """The first n windows (the windows are already shuffled)."""
    return Windows(w.x[:n], w.y[:n], w.start[:n], w.scaling)


def with_stored_layers(cfg: Config, state: Mapping[str, Any]) -> Config:
    """`cfg` read from checkpoint `state`, with the layers its run had where its stored config
    predates the layer keys (`config.stored_layers`)."""
    stored = state.get("config")
    missing = stored_layers(stored) if isinstance(stored, Mapping) else {}
    if not missing:
        return cfg
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, **missing))


def build_stored_model(cfg: Config, state: Mapping[str, Any]) -> TimeSeriesVAE:
    """`build_model` for a stored run (the core's loaders with `needs_state=True`)."""
    return build_model(with_stored_layers(cfg, state))


def load_trained(
    run_or_checkpoint: Path | str, which: Literal["best", "last"] = "best"
) -> LoadedRun:
    """A run's model (eval mode) and config through the core's `load_run`, after `check_run` has
    refused a run that today's code would rebuild differently."""
    check_run(run_or_checkpoint)
    loaded = load_run(Config, run_or_checkpoint, build_stored_model, which=which, needs_state=True)
    loaded.config = with_stored_layers(loaded.config, loaded.state)
    return loaded


def recompute_bn(
    model: TimeSeriesVAE,
    x: np.ndarray,
    n_batches: int,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
) -> int:
    """BatchNorm statistics of the model's current weights from the first `n_batches` batches of
    training windows x (N, C, T): precise BN after the fact, for checkpoints trained without
    `train.precise_bn_batches`. Training with it gives the same weights (the recomputation neither
    trains nor draws random numbers), so scoring an old checkpoint this way is scoring the run it
    would have been. Returns the number of batches used."""
    batches = (
        torch.from_numpy(x[i : i + batch_size]).to(device) for i in range(0, len(x), batch_size)
    )
    return recompute_batchnorm(model, model.batchnorm_forward, batches, n_batches)


def load_run_for_scoring(
    run_dir: Path | str, precise_bn: int = 0
) -> tuple[TimeSeriesVAE, Config, dict[str, Any], Splits]:
    """A run's checkpoint, config and data splits for the diagnosis scripts; with `precise_bn` > 0 the
    BatchNorm statistics are first recomputed from that many training batches (`recompute_bn`)."""
    loaded = load_trained(run_dir)
    model, cfg, state = loaded.model, loaded.config, loaded.state
    splits = load_splits(cfg.data)
    if precise_bn > 0:
        recompute_bn(model, splits.train.x, precise_bn, cfg.train.batch_size)
    return model, cfg, state, splits


def add_precise_bn_option(parser: argparse.ArgumentParser) -> None:
    """`--precise-bn N` for the scripts that rescore checkpoints."""
    parser.add_argument(
        "--precise-bn",
        type=int,
        default=0,
        metavar="N",
        help="recompute BatchNorm statistics from N training batches first",
    )


def nearest_centroid(mu_ref: np.ndarray, y_ref: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Label of the nearest class centroid of the reference latent for each row of mu."""
    classes = np.unique(y_ref)
    centroids = np.stack([mu_ref[y_ref == c].mean(axis=0) for c in classes])  # (K, D)
    d = ((mu[:, None, :] - centroids[None]) ** 2).sum(-1)  # (N, K)
    return classes[d.argmin(axis=1)]


def encode_test(
    run_dir: Path | str,
    out: RunDir | Path | str | None = None,
    input_path: Path | None = None,
    n_val: int = 3000,
) -> dict[str, Any]:
    """The encoder test of a trained run (see the module docstring); writes encode.{json,md}, a figure
    and, with `input_path`, the latent of that series as latent.csv, into `out` (default: the run).

    The last checkpoint, the one `score` and `vae_demo.load_run` use, so `latent.csv` holds what the
    Python API gives for the same series. The run is checked before `out` is made, and a bad input
    file leaves no new `out` behind."""
    loaded = load_trained(run_dir, which="last")
    model, cfg = loaded.model, loaded.config
    target = Path(out) if out is not None else Path(run_dir)
    with RunDir.created("vae-demo", run_dir=target, verb="encode") as run:
        return _encode_sets(model, cfg, run, run_dir, input_path, n_val)


def _encode_sets(
    model: TimeSeriesVAE,
    cfg: Config,
    out: RunDir,
    run_dir: Path | str,
    input_path: Path | None,
    n_val: int,
) -> dict[str, Any]:
    d = cfg.data
    splits = load_splits(d)
    val = subset(splits.val, n_val)
    mu_val = encode_windows(model, val.x)
    rng = np.random.default_rng(d.seed + 99)
    stride = max(1, d.pattern_len // 8)
    test_cfg = dataclasses.replace(d, stride=stride)
    sets: dict[str, Windows] = {
        "in-distribution": make_windows(
            make_series(d, repeats=1, noise_len=0, noise_seed=d.seed + 1000),
            test_cfg,
            rng,
            scaling=val.scaling,
        ),
        "time-shifted": make_windows(
            make_series(
                d, repeats=1, noise_len=0, shift=d.pattern_len // 2, noise_seed=d.seed + 1001
            ),
            test_cfg,
            rng,
            scaling=val.scaling,
        ),
    }
    low = d.freq_max_hz + 1
    high = min(int(np.ceil(d.fs_hz / 2)) - 1, low + (d.freq_max_hz - d.freq_min_hz))
    n_out = min(d.n_patterns, high - low + 1)
    if n_out >= 1 and high - low + 1 >= d.n_sines:
        out_cfg = dataclasses.replace(test_cfg, n_patterns=n_out, freq_max_hz=d.freq_max_hz)
        sets[f"out-of-range ({low}-{high} Hz)"] = make_windows(
            make_series(
                out_cfg, band_hz=(low, high), repeats=1, noise_len=0, noise_seed=d.seed + 1002
            ),
            test_cfg,
            rng,
            scaling=val.scaling,
        )
    if input_path is not None:
        series = load_series(input_path)
        sets[f"input {Path(input_path).name}"] = series_windows(series, d, val.scaling)
    centre_val = float(np.linalg.norm(mu_val[val.y >= 0], axis=1).mean())
    noise_val = (
        float(np.linalg.norm(mu_val[val.y < 0], axis=1).mean()) if (val.y < 0).any() else None
    )
    rows, encoded = [], {}
    for name, w in sets.items():
        mu = encode_windows(model, w.x)
        encoded[name] = mu
        row: dict[str, Any] = {
            "set": name,
            "windows": len(mu),
            "mean_distance_from_origin": float(np.linalg.norm(mu, axis=1).mean()),
        }
        if name in ("in-distribution", "time-shifted"):
            row["nearest_centroid_accuracy"] = float(
                (nearest_centroid(mu_val, val.y, mu) == w.y).mean()
            )
        rows.append(row)
        if name.startswith("input "):
            out.write_csv(
                "latent.csv",
                [
                    {
                        "start": int(s),
                        "label": int(y),
                        **{f"z{i}": float(v) for i, v in enumerate(m)},
                    }
                    for s, y, m in zip(w.start, w.y, mu)
                ],
            )
    from vae_demo.plots import encode_test_figure

    shown = {k: v[:600] for k, v in encoded.items()}
    figure = out.save_figure(encode_test_figure(mu_val, val.y, shown), "encode_test")
    result = {
        "run": str(run_dir),
        "validation_pattern_distance": centre_val,
        "validation_noise_distance": noise_val,
        "sets": rows,
        "figure": str(figure),
    }
    out.write_json("encode.json", result)
    lines = [
        "| set | windows | nearest-centroid accuracy | mean distance from origin |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['set']} | {r['windows']} | {r.get('nearest_centroid_accuracy', float('nan')):.3f} | "
        f"{r['mean_distance_from_origin']:.3f} |"
        for r in rows
    ]
    out.write_text("encode.md", "\n".join(lines) + "\n")
    return result
