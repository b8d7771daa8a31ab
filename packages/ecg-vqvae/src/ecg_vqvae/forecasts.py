"""Point forecasts of every method, and K sampled futures from the latent forecaster.

The forecaster's point forecast is trained for L1 in mV, so it is a damped hedge where beat timing is
uncertain; its beat head (when it has one) is trained to keep sharp beats at their median time (the
`vqvae_beats` forecast, scored beside it). Its futures are sampled from the two sources of uncertainty it was built around:

- beat timing: each sample starts from a repeat-last-beat prior whose RR interval is drawn from the
  context's own RR intervals (the rhythm the patient just showed), instead of the last one only;
- the model's weights: the transformer runs with dropout on (Monte Carlo dropout, Gal & Ghahramani,
  ICML 2016), the frozen VQ-VAE in eval mode.

Each sampled future's latents are snapped to their nearest codes before decoding (`snap`, default): one
plausible future has sharp beats, not the point forecast's damped hedge (docs/ecg-vqvae.md, ablation).

The same RR-drawn priors without the model form the naive ensemble `rr_ensemble`, so CRPS compares the
model's spread with the spread a practitioner gets for free. This is not a prior over code sequences
(no autoregressive prior is trained); see docs/ecg-vqvae.md.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from ecg_vqvae.baselines import (
    analogue_ensemble,
    context_mean,
    context_median,
    context_rr,
    last_rr,
    persistence,
    recent_median,
    repeat_last_beat,
    seasonal,
)
from ecg_vqvae.model import LatentForecaster

NAIVE = (
    "persistence",
    "recent_median",
    "repeat_last_beat",
    "seasonal",
    "context_median",
    "context_mean",
)
# simple methods that read the recording before the context (need the record, not just the window)
HISTORY = ("analogue", "analogue_nearest")


def naive_forecasts(contexts: np.ndarray, horizon: int, fs: float) -> dict[str, np.ndarray]:
    """Forecasts (n, L, horizon) of each naive method for contexts (n, L, Tc)."""
    makers = {
        "persistence": lambda c: persistence(c, horizon),
        "recent_median": lambda c: recent_median(c, horizon, fs),
        "repeat_last_beat": lambda c: repeat_last_beat(c, horizon, fs),
        "seasonal": lambda c: seasonal(c, horizon, fs),
        "context_median": lambda c: context_median(c, horizon),
        "context_mean": lambda c: context_mean(c, horizon),
    }
    return {name: np.stack([make(c) for c in contexts]) for name, make in makers.items()}


def analogue_forecasts(
    segment: np.ndarray, ends: np.ndarray, context: int, horizon: int, fs: float, k: int
) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """From the record `segment` (L, N) up to each forecast origin in `ends`: the point forecasts
    (n, L, horizon) `analogue` (the median of the 25 analogues' futures) and `analogue_nearest` (the
    closest one's future: sharp beats, for where they fall), and (k > 0) the ensemble (k, n, L,
    horizon) of the k closest, repeated where fewer (too early in a record, all three are the
    context's repeat-last-beat)."""
    shape = (len(ends), segment.shape[0], horizon)
    points = {m: np.empty(shape, dtype=np.float32) for m in HISTORY}
    drawn = np.empty((k, *shape), dtype=np.float32) if k else None
    for i, end in enumerate(ends):
        futures = analogue_ensemble(segment[:, :end], horizon, fs, context)  # (m, L, horizon)
        points["analogue"][i] = np.median(futures, axis=0)
        points["analogue_nearest"][i] = futures[0]
        if drawn is not None:
            drawn[:, i] = futures[np.arange(k) % len(futures)]
    return points, drawn


def _batches(
    model: LatentForecaster, contexts: np.ndarray, priors: np.ndarray | None, batch_size: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """(context (b, L, T), prior (b, L, W*T) or None) float32 tensors, `batch_size` at a time."""
    for i in range(0, len(contexts), batch_size):
        c = torch.from_numpy(np.ascontiguousarray(contexts[i : i + batch_size], dtype=np.float32))
        p = None
        if model.use_prior:
            p = torch.from_numpy(np.ascontiguousarray(priors[i : i + batch_size], dtype=np.float32))
        yield c, p


@torch.no_grad()
def model_forecast(
    model: LatentForecaster,
    contexts: np.ndarray,
    priors: np.ndarray | None,
    batch_size: int,
    snap: bool = False,
) -> np.ndarray:
    """(n, L, W*T) point forecasts of contexts (n, L, T); `priors` (n, L, W*T) when the model uses
    them; `snap`: decoded from the nearest codes of the predicted latents."""
    batches = _batches(model, contexts, priors, batch_size)
    return np.concatenate([model(c, p, snap=snap).numpy() for c, p in batches])


@torch.no_grad()
def model_forecasts(
    model: LatentForecaster, contexts: np.ndarray, priors: np.ndarray | None, batch_size: int
) -> dict[str, np.ndarray]:
    """The model's forecasts (n, L, W*T) by method name: `vqvae_forecaster` (the point forecast) and,
    with a beat head, `vqvae_beats`, both from one transformer pass per batch."""
    out: dict[str, list[np.ndarray]] = {"vqvae_forecaster": [], "vqvae_beats": []}
    for c, p in _batches(model, contexts, priors, batch_size):
        point, beats = model(c, p, head="both")
        out["vqvae_forecaster"].append(point.numpy())
        if beats is not None:
            out["vqvae_beats"].append(beats.numpy())
    return {name: np.concatenate(parts) for name, parts in out.items() if parts}


def sampled_priors(
    contexts: np.ndarray, horizon: int, fs: float, k: int, rng: np.random.Generator
) -> np.ndarray:
    """(k, n, L, horizon) repeat-last-beat extrapolations with RR drawn from each context's RR intervals."""
    out = np.empty((k, len(contexts), contexts.shape[1], horizon), dtype=np.float32)
    for i, c in enumerate(contexts):
        rrs = context_rr(c, fs)
        if len(rrs) == 0:
            fallback = last_rr(c, fs)
            rrs = np.asarray([fallback] if fallback else [0])
        for j, rr in enumerate(rng.choice(rrs, size=k)):
            out[j, i] = repeat_last_beat(c, horizon, fs, rr=int(rr) if rr > 0 else None)
    return out


def sample_futures(
    model: LatentForecaster,
    contexts: np.ndarray,
    priors: np.ndarray,
    batch_size: int,
    snap: bool = True,
) -> np.ndarray:
    """(k, n, L, horizon) futures: one forward pass per drawn prior (k, n, L, horizon), dropout on;
    `snap`: each decoded from the nearest codes of its latents."""
    model.train()  # dropout on; LatentForecaster.train keeps the VQ-VAE in eval mode
    try:
        return np.stack([model_forecast(model, contexts, p, batch_size, snap) for p in priors])
    finally:
        model.eval()


def forecast_all(
    model: LatentForecaster | None,
    signal: np.ndarray,
    ends: np.ndarray,
    context: int,
    horizon: int,
    fs: float,
    batch_size: int = 64,
) -> dict[str, np.ndarray]:
    """Point forecasts (n, L, horizon) from each origin in `ends` of the recording `signal` (L, N):
    every naive method (the `context` samples before the origin), the analogue ones (the recording
    before it) and, given one, the forecaster."""
    contexts = np.stack([signal[:, e - context : e] for e in ends])  # (n, L, context)
    out = naive_forecasts(contexts, horizon, fs)
    out.update(analogue_forecasts(signal, ends, context, horizon, fs, 0)[0])
    if model is not None:
        prior = out["repeat_last_beat"] if model.use_prior else None
        model_out = model_forecasts(model, contexts, prior, batch_size)
        out = {name: f[..., :horizon] for name, f in model_out.items()} | out
    return out
