"""Anomaly scores of clips for every model: reconstruction error (MSE, the seed's and DCASE 2020's),
selective Mahalanobis distance of the reconstruction error (DCASE 2023 baseline), and the k-NN cosine
distance of attribute embeddings (the DCASE 2022-2024 top systems).

Selective Mahalanobis (Harada et al., DCASE 2023 baseline, "MAHALA" mode): the error vector x - x_hat of
every training window gives a mean and covariance per domain (source and target training clips); a test
window's score is its Mahalanobis distance to the closer domain, a clip's score the mean over its windows.
As in the baseline the "covariance" is the second moment of the errors about zero (a reconstruction
error of a normal window should be zero); we add a small ridge (1e-6 of the mean variance) so that the
few target clips' matrix inverts.

k-NN (Wilkinghoff, ICASSP 2023, Sec. 2.3): a clip's embedding is the normalised mean of its crops'
normalised embeddings; its score is the mean cosine distance to its k nearest training clips, source
and target clips together, so the few target clips pull their own neighbourhood and one score serves
both domains without a per-domain threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from sigzoo_shared import DataError
from sigzoo_shared.heap import heap_reuse
from torch import nn

from dcase_cae.config import Config
from dcase_cae.data import WindowDataset, make_bank
from dcase_cae.model import WindowScorer


def _check_finite(scores: np.ndarray, names: Sequence[str]) -> np.ndarray:
    bad = [names[i] if i < len(names) else str(i) for i in np.flatnonzero(~np.isfinite(scores))]
    if bad:
        raise DataError(f"{bad[0]}: non-finite anomaly score ({len(bad)} clips affected)")
    return scores


def _per_clip_mean(values: np.ndarray, owner: np.ndarray, n_clips: int) -> np.ndarray:
    sums = np.bincount(owner, weights=values, minlength=n_clips)
    return sums / np.maximum(np.bincount(owner, minlength=n_clips), 1)


# ------------------------------------------------------------------------------------ embeddings


@torch.no_grad()
def clip_embeddings(
    model: nn.Module,
    features: Sequence[np.ndarray],
    cfg: Config,
    names: Sequence[str] = (),
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """(n_clips, D) unit-norm clip embeddings: the normalised mean of each clip's normalised crops."""
    model.eval()
    bank = make_bank(features, cfg.data, "embedding", names)
    ds = WindowDataset(bank, "embedding")
    batch = cfg.decision.score_batch_size
    scorer, crops = WindowScorer(model), []
    for start in range(0, len(ds), batch):
        z = scorer(ds.gather(np.arange(start, min(start + batch, len(ds)))).to(device))  # (b, D)
        crops.append(z.double().cpu().numpy())
    z = np.concatenate(crops)  # (crops, D)
    clips = np.zeros((len(features), z.shape[1]))
    np.add.at(clips, bank.owner, z)
    return clips / np.maximum(np.linalg.norm(clips, axis=1, keepdims=True), 1e-12)


def knn_cosine_distance(
    queries: np.ndarray, reference: np.ndarray, k: int = 1, exclude_self: bool = False
) -> np.ndarray:
    """(n_queries,) mean cosine distance to the k nearest reference rows (all rows unit-norm).

    `exclude_self` scores the reference against itself leaving each row out (training-clip scores for
    the decision threshold, which would otherwise all be 0).
    """
    distance = 1.0 - queries @ reference.T  # (Q, R)
    if exclude_self:
        np.fill_diagonal(distance, np.inf)
    k = min(k, reference.shape[0] - int(exclude_self))
    if k < 1:
        raise DataError("k-NN scoring needs at least two training clips")
    return np.sort(distance, axis=1)[:, :k].mean(axis=1)


# ----------------------------------------------------------------------------- reconstruction


@torch.no_grad()
def window_errors(
    model: nn.Module, dataset: WindowDataset, batch_size: int, device: torch.device | str = "cpu"
) -> np.ndarray:
    """Mean squared reconstruction error of every window, (N,), model in eval mode."""
    model.eval()
    scorer = WindowScorer(model)
    out = np.empty(len(dataset), dtype=np.float64)
    with heap_reuse(torch.device(device).type == "cpu"):
        for start in range(0, len(dataset), batch_size):
            idx = np.arange(start, min(start + batch_size, len(dataset)))
            x = dataset.gather(idx).to(device)
            out[idx] = ((scorer(x) - x) ** 2).flatten(1).mean(dim=1).double().cpu().numpy()
    return out


def clip_scores(
    model: nn.Module,
    features: Sequence[np.ndarray],
    cfg: Config,
    names: Sequence[str] = (),
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """Anomaly score per clip: the mean of its windows' reconstruction errors, (n_clips,)."""
    bank = make_bank(features, cfg.data, cfg.model.name, names)
    errors = window_errors(
        model, WindowDataset(bank, cfg.model.name), cfg.decision.score_batch_size, device
    )
    return _check_finite(_per_clip_mean(errors, bank.owner, len(features)), names)


@torch.no_grad()
def _window_error_vectors(
    model: nn.Module, features: Sequence[np.ndarray], cfg: Config, names: Sequence[str], device
):
    """Yield (window owners, (b, dim) error vectors x - x_hat) batch by batch, model in eval mode."""
    model.eval()
    bank = make_bank(features, cfg.data, cfg.model.name, names)
    ds = WindowDataset(bank, cfg.model.name)
    batch = cfg.decision.score_batch_size
    for start in range(0, len(ds), batch):
        idx = np.arange(start, min(start + batch, len(ds)))
        x = ds.gather(idx).to(device)
        yield bank.owner[idx], (x - WindowScorer(model)(x)).flatten(1).double().cpu().numpy()


def fit_error_gaussians(
    model: nn.Module,
    features: Sequence[np.ndarray],
    domains: Sequence[str | None],
    cfg: Config,
    names: Sequence[str] = (),
    device: torch.device | str = "cpu",
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(centre, inverse second moment) of the training windows' error vectors, one pair per domain
    (the centre is zero, as in the baseline; kept so another centre can be tried)."""
    groups = sorted({d or "" for d in domains})
    index = np.array([groups.index(d or "") for d in domains])
    sums: dict[int, list] = {}
    for owner, err in _window_error_vectors(model, features, cfg, names, device):
        for g in np.unique(index[owner]):
            e = err[index[owner] == g]
            acc = sums.setdefault(int(g), [0, None, 0.0])
            acc[0] += e.shape[0]
            acc[2] = acc[2] + e.T @ e
    out = []
    for g in sorted(sums):
        n, _, s2 = sums[g]
        mean = np.zeros(s2.shape[0])
        cov = s2 / max(n - 1, 1)
        cov += np.eye(cov.shape[0]) * 1e-6 * max(float(np.trace(cov)) / cov.shape[0], 1e-12)
        out.append((mean, np.linalg.inv(cov)))
    return out


def selective_mahalanobis_scores(
    model: nn.Module,
    features: Sequence[np.ndarray],
    gaussians: Sequence[tuple[np.ndarray, np.ndarray]],
    cfg: Config,
    names: Sequence[str] = (),
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """(n_clips,) mean over windows of the Mahalanobis distance to the closest domain's error Gaussian."""
    owners, values = [], []
    for owner, err in _window_error_vectors(model, features, cfg, names, device):
        # (x A) . x row by row: one BLAS product, where a three-operand einsum loops in C
        d = [np.einsum("bi,bi->b", (err - mu) @ inv, err - mu) for mu, inv in gaussians]
        owners.append(owner)
        values.append(np.sqrt(np.maximum(np.min(d, axis=0), 0.0)))
    scores = _per_clip_mean(np.concatenate(values), np.concatenate(owners), len(features))
    return _check_finite(scores, names)


# ---------------------------------------------------------------------- one entry for every model


@dataclass
class Reference:
    """What a model's clip scores are measured against, fitted on its training clips.

    k-NN (embedding model): `embeddings`, the (n_train, D) unit-norm training-clip embeddings.
    Selective Mahalanobis: `gaussians`, one (centre, inverse second moment) per domain. MSE: nothing.
    """

    embeddings: np.ndarray | None = None
    gaussians: list[tuple[np.ndarray, np.ndarray]] | None = None


def needs_training_clips(cfg: Config) -> bool:
    """True when a clip score is a distance to the training clips (k-NN, selective Mahalanobis)."""
    return cfg.model.name == "embedding" or cfg.model.score == "selective_mahalanobis"


def fit_reference(
    model: nn.Module,
    cfg: Config,
    train_features: Sequence[np.ndarray],
    train_domains: Sequence[str | None],
    names: Sequence[str] = (),
    device: torch.device | str = "cpu",
) -> Reference:
    """The `Reference` of the configured score from the training clips' log-mels (all of them)."""
    if cfg.model.name == "embedding":
        return Reference(embeddings=clip_embeddings(model, train_features, cfg, names, device))
    if cfg.model.score == "selective_mahalanobis":
        gaussians = fit_error_gaussians(model, train_features, train_domains, cfg, names, device)
        return Reference(gaussians=gaussians)
    return Reference()


def score_clips(
    model: nn.Module,
    cfg: Config,
    features: Sequence[np.ndarray],
    reference: Reference,
    names: Sequence[str] = (),
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """(n_clips,) anomaly scores of log-mel clips (each (M, T) in dB), higher = more anomalous."""
    if cfg.model.name == "embedding":
        if reference.embeddings is None:
            raise DataError("k-NN scores need the training clips' embeddings (none given)")
        queries = clip_embeddings(model, features, cfg, names, device)
        return knn_cosine_distance(queries, reference.embeddings, cfg.model.knn_k)
    if cfg.model.score == "selective_mahalanobis":
        if reference.gaussians is None:
            raise DataError("selective Mahalanobis scores need the training clips' error Gaussians")
        return selective_mahalanobis_scores(
            model, features, reference.gaussians, cfg, names, device
        )
    return clip_scores(model, features, cfg, names, device)


def threshold_clip_indices(n_clips: int, cfg: Config) -> np.ndarray:
    """Which training clips fit the decision threshold: all of them, or a sample of
    `decision.threshold_clips` drawn with `train.seed` (sorted), so `test` costs the same on 100
    clips as on 10,000."""
    limit = cfg.decision.threshold_clips
    if limit is None or n_clips <= limit:
        return np.arange(n_clips)
    rng = np.random.default_rng(cfg.train.seed)
    return np.sort(rng.choice(n_clips, size=limit, replace=False))


def training_scores(
    model: nn.Module,
    cfg: Config,
    train_features: Sequence[np.ndarray],
    reference: Reference,
    keep: np.ndarray,
    names: Sequence[str] = (),
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """Scores of the training clips `keep` (indices into `train_features`) for the threshold.

    A clip's own embedding is left out of its k-NN (its distance to itself would be 0); with k-NN,
    `train_features` are the clips `reference` was fitted on, in order.
    """
    if cfg.model.name == "embedding":
        if reference.embeddings is None:
            raise DataError("k-NN scores need the training clips' embeddings (none given)")
        emb = reference.embeddings
        return knn_cosine_distance(emb, emb, cfg.model.knn_k, exclude_self=True)[keep]
    kept = [train_features[i] for i in keep]
    kept_names = [names[i] for i in keep] if names else []
    return score_clips(model, cfg, kept, reference, kept_names, device)


__all__ = [
    "Reference",
    "clip_embeddings",
    "clip_scores",
    "fit_reference",
    "needs_training_clips",
    "score_clips",
    "threshold_clip_indices",
    "training_scores",
    "window_errors",
    "fit_error_gaussians",
    "knn_cosine_distance",
    "selective_mahalanobis_scores",
]
