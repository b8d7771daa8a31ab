"""Use a trained or shipped model from Python: encode a series to latents, cluster its windows.

    import vae_demo
    model = vae_demo.load_pretrained()                 # shipped: the demo problem (8 patterns)
    signal, ids = model.sample_series(seed=1)          # (N, 7) fresh series of the trained patterns
    z = model.encode(signal, stride=16)                # (W, 2) z_mean, window w starts at w * 16
    clusters = model.cluster(signal, stride=16)        # (W,) index of the nearest cluster centre
    patterns = model.cluster_patterns[clusters]        # (W,) the pattern each cluster stands for

A series is an array (samples, channels) of raw (unscaled) values with the channels the model was
trained on (`model.n_features`; a 1-D array when that is 1), or a series file (`.npz`/`.csv`, as
`vae-demo generate` writes and `vae-demo encode --input` reads). It gets the checks a series file
gets (shape, NaN/inf, at least one window long) and is cut into windows of `model.window` samples
every `stride` samples, scaled with the training data's ranges, without the training noise: the
same function as `vae-demo encode --input` (`data.series_windows`).

The clusters are k-means with k = n_patterns + 1 on z_mean of the run's validation windows (the
clustering behind the published ARI, `evaluate.fit_kmeans`); `cluster_patterns[k]` is the pattern
id most of cluster k's validation windows hold (-1 = noise).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from sigzoo_shared import ConfigError, DataError

from vae_demo.config import Config
from vae_demo.data import (
    Windows,
    load_series,
    load_splits,
    series_from_array,
    series_windows,
    window_labels,
)
from vae_demo.evaluate import (
    build_stored_model,
    encode_windows,
    fit_kmeans,
    load_trained,
    with_stored_layers,
)
from vae_demo.generator import make_series
from vae_demo.model import TimeSeriesVAE

PACKAGE_MODULE = "vae_demo"
DEFAULT_PRETRAINED = "demo"
SCALING_KEYS = ("lo1", "hi1", "lo2", "hi2")


@dataclass
class PatternModel:
    """A trained VAE with what it needs to read a new series: the training data's min-max ranges
    (`scaling`) and the k-means centres of its validation latent. Make one with `load_run(path)` or
    `load_pretrained(name)`."""

    model: TimeSeriesVAE = field(repr=False)
    config: Config = field(repr=False)
    scaling: dict[str, np.ndarray] = field(repr=False)
    centroids: np.ndarray = field(repr=False)  # (K, D) k-means centres in the latent
    cluster_patterns: np.ndarray = field(repr=False)  # (K,) pattern id per cluster, -1 = noise
    source: str = ""
    card: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def n_features(self) -> int:
        """Signal channels a series must have."""
        return self.config.data.n_features

    @property
    def window(self) -> int:
        """Samples per window (one pattern period by default)."""
        return self.config.data.window

    def windows(self, series: np.ndarray | str | Path, stride: int = 1) -> Windows:
        """The scaled windows (W, C, T) the encoder reads, C = n_features (+ 1 time channel)."""
        if isinstance(series, (str, Path)):
            s = load_series(series)
        else:
            s = series_from_array(series, self.config.data)
        return series_windows(s, self.config.data, self.scaling, stride)

    def encode(self, series: np.ndarray | str | Path, stride: int = 1) -> np.ndarray:
        """z_mean (W, latent_dim) float32 of the series' windows; window w covers samples
        [w * stride, w * stride + window)."""
        return encode_windows(self.model, self.windows(series, stride).x)

    def cluster(self, series: np.ndarray | str | Path, stride: int = 1) -> np.ndarray:
        """Cluster index (W,) in [0, K) of each window: its nearest k-means centre in the latent."""
        return nearest(self.centroids, self.encode(series, stride))

    def sample_series(
        self, repeats: int = 1, seed: int = 1, noise_len: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """A fresh series of the patterns the model was trained on (the generator of its data
        seed, new noise from `seed`): signal (N, n_features) float32 and pattern id (N,) int
        (-1 = noise), N = repeats * n_patterns * pattern_len + noise_len."""
        d = self.config.data
        s = make_series(d, repeats=repeats, noise_len=noise_len, noise_seed=d.seed + 1000 + seed)
        return s.signal, s.pattern_id

    def window_labels(self, pattern_id: np.ndarray, stride: int = 1) -> np.ndarray:
        """The label (W,) of each window of a series with known pattern ids (N,): the pattern that
        fills most of it, as in training (`data.window_labels`)."""
        ids = np.asarray(pattern_id)
        if ids.ndim != 1 or len(ids) < self.window:
            raise DataError(f"pattern_id: shape {ids.shape}, expected (samples >= {self.window},)")
        starts = np.arange(0, len(ids) - self.window + 1, stride)
        return window_labels(ids, starts, self.window)


def nearest(centroids: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Index (N,) of the nearest row of centroids (K, D) for each row of mu (N, D)."""
    d = ((mu[:, None, :] - centroids[None]) ** 2).sum(-1)  # (N, K)
    return d.argmin(axis=1)


def validation_clusters(
    model: TimeSeriesVAE, cfg: Config, val: Windows
) -> tuple[np.ndarray, np.ndarray]:
    """(centroids (K, D), cluster_patterns (K,)): k-means of the validation latent as `score`
    fits it, and the majority label of each cluster (-1 for an empty one)."""
    mu = encode_windows(model, val.x)
    km = fit_kmeans(mu, cfg.data.n_patterns + 1, cfg.train.seed)
    patterns = np.full(len(km.cluster_centers_), -1, dtype=np.int64)
    for k in range(len(patterns)):
        members = val.y[km.labels_ == k]
        if len(members):
            values, counts = np.unique(members, return_counts=True)
            patterns[k] = values[counts.argmax()]
    return km.cluster_centers_.astype(np.float32), patterns


def load_run(path: str | Path, which: Literal["best", "last"] = "last") -> PatternModel:
    """A training run (folder or checkpoint) ready to encode series. The run's data is rebuilt once
    (a few seconds for the default data) for its scaling and validation clusters. `which="last"` by
    default: the published figures (`vae-demo score`) score the last epoch."""
    loaded = load_trained(path, which)
    cfg = loaded.config
    splits = load_splits(cfg.data)
    centroids, patterns = validation_clusters(loaded.model, cfg, splits.val)
    return PatternModel(
        loaded.model, cfg, splits.val.scaling, centroids, patterns, source=str(path)
    )


def pretrained_extra(model: PatternModel) -> dict[str, Any]:
    """What a shipped checkpoint holds beside the weights, so it loads without rebuilding data."""
    return {
        "scaling": {k: torch.from_numpy(np.asarray(model.scaling[k])) for k in SCALING_KEYS},
        "centroids": torch.from_numpy(model.centroids),
        "cluster_patterns": torch.from_numpy(model.cluster_patterns),
    }


def pack_run(
    run: str | Path, dest: str | Path, card_md: str, meta: dict[str, Any], half: bool = False
) -> Path:
    """Ship the last checkpoint of `run` (the one `vae-demo score` scores) into `dest` with its
    card and `pretrained_extra`, through the core's `pack_pretrained` (`vae-demo pretrained pack`)."""
    from sigzoo_shared.pretrained import pack_pretrained

    model = load_run(run, which="last")
    return pack_pretrained(
        run,
        dest,
        card_md=card_md,
        meta=meta,
        extra=pretrained_extra(model),
        which="last",
        half=half,
        package=PACKAGE_MODULE,
    )


def load_pretrained(name: str = DEFAULT_PRETRAINED) -> PatternModel:
    """A model shipped with the package (offline, no data rebuilt); `vae-demo pretrained list`
    names them and `vae-demo pretrained show NAME` prints the card."""
    from sigzoo_shared.pretrained import load_pretrained as load_shipped

    loaded = load_shipped(PACKAGE_MODULE, name, Config, build_stored_model, needs_state=True)
    loaded.config = with_stored_layers(loaded.config, loaded.state)
    state = loaded.state
    missing = [k for k in ("scaling", "centroids", "cluster_patterns") if k not in state]
    if missing:
        raise ConfigError(
            f"{loaded.checkpoint}: no {', '.join(missing)} beside the weights; pack vae-demo "
            "models with `vae-demo pretrained pack` (api.pack_run)"
        )
    return PatternModel(
        loaded.model,
        loaded.config,
        {k: state["scaling"][k].numpy() for k in SCALING_KEYS},
        state["centroids"].numpy(),
        state["cluster_patterns"].numpy(),
        source=f"pretrained {name}",
        card=loaded.card,
    )


__all__ = ["DEFAULT_PRETRAINED", "PatternModel", "load_pretrained", "load_run"]
