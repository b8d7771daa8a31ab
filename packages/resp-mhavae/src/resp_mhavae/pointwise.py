"""Point-wise scores: every time step of a series gets a score, for the learned models and the detectors.

Windows of `l_win` samples slide over the whole z-scored series with a small stride; each method scores
every window, and a time step's score is the mean (or max) of the scores of the windows that cover it.
The stride divides `l_win`, so the `look_back_num` windows that precede a window on the model's own grid
(start - j * l_win) are on the sliding grid too and the VAE-LSTM encodes each window once. Steps no window
covers (the series' last few, fewer than a stride) take the nearest covered step's score.
"""

from __future__ import annotations

import numpy as np
import torch

from resp_mhavae.config import Config, resolved_modality_weights
from resp_mhavae.model import MHAVAE, SequenceLSTM, weighted_squared_error


def resolve_stride(l_win: int, stride: int | None) -> int:
    """The configured stride (default l_win // 8), lowered to the nearest divisor of l_win."""
    want = max(1, l_win // 8) if stride is None else min(stride, l_win)
    return max(d for d in range(1, want + 1) if l_win % d == 0)


def window_starts(n_rows: int, l_win: int, stride: int) -> np.ndarray:
    """Start rows 0, stride, 2 stride, ... of every window that fits inside the series."""
    return np.arange(0, n_rows - l_win + 1, stride)


def sliding_windows(z: np.ndarray, starts: np.ndarray, l_win: int) -> np.ndarray:
    """(N, C) series -> (W, C, L) float32 windows starting at `starts` (a view where possible)."""
    view = np.lib.stride_tricks.sliding_window_view(z, l_win, axis=0)  # (N - L + 1, C, L)
    return np.ascontiguousarray(view[starts], dtype=np.float32)


def spread(
    scores: np.ndarray, starts: np.ndarray, l_win: int, n_rows: int, how: str = "mean"
) -> np.ndarray:
    """Window scores (W,) -> step scores (N,): mean or max over the finite-scored windows covering a step."""
    ok = np.isfinite(scores)
    s, st = scores[ok], starts[ok]
    if not s.size:
        raise ValueError("no window has a finite score")
    if how == "mean":
        total, count = np.zeros(n_rows + 1), np.zeros(n_rows + 1)
        np.add.at(total, st, s)
        np.add.at(total, st + l_win, -s)
        np.add.at(count, st, 1.0)
        np.add.at(count, st + l_win, -1.0)
        total, count = np.cumsum(total)[:n_rows], np.cumsum(count)[:n_rows]
        out = np.where(count > 0.5, total / np.maximum(count, 1.0), np.nan)
    else:
        out = np.full(n_rows, -np.inf)
        for start, value in zip(st, s):
            np.maximum(out[start : start + l_win], value, out=out[start : start + l_win])
        out[np.isinf(out)] = np.nan
    return fill_nearest(out)


def fill_nearest(x: np.ndarray) -> np.ndarray:
    """Replace NaNs by the value of the nearest finite step (ties: the earlier one)."""
    ok = np.flatnonzero(np.isfinite(x))
    idx = np.arange(len(x))
    pos = np.clip(np.searchsorted(ok, idx), 1, max(len(ok) - 1, 1))
    left, right = ok[pos - 1], ok[np.minimum(pos, len(ok) - 1)]
    nearest = np.where(np.abs(idx - left) <= np.abs(right - idx), left, right)
    return x[nearest]


@torch.no_grad()
def vae_lstm_window_scores(
    vae: MHAVAE,
    lstm: SequenceLSTM,
    windows: np.ndarray,
    per_window: int,
    look_back_num: int,
    weights: torch.Tensor,
    prediction_weight: float,
    device: torch.device,
    batch_size: int = 128,
) -> np.ndarray:
    """Scores (W,) of sliding windows (W, C, L) on a grid with `per_window` = l_win / stride starts per window.

    Window i's history is windows i - j * per_window (j = k..1), the model's own non-overlapping grid;
    windows without a full history score NaN. Score = reconstruction error + w * prediction error.
    """
    vae.eval(), lstm.eval()
    w = weights.to(device)
    x_all = torch.from_numpy(windows)
    mus, rec = [], []
    for i in range(0, len(x_all), batch_size):
        x = x_all[i : i + batch_size].to(device)
        mu, _ = vae.encode(x)
        mus.append(mu)
        rec.append(weighted_squared_error(x, vae.decode(mu), w))
    mu = torch.cat(mus)  # (W, D, L)
    recon = torch.cat(rec)  # (W,)
    score = torch.full_like(recon, float("nan"))
    offsets = torch.arange(look_back_num, 0, -1, device=device) * per_window  # (k,)
    targets = torch.arange(look_back_num * per_window, len(windows), device=device)
    if prediction_weight == 0:  # the same windows score, without the LSTM's autoregressive decoding
        score[targets] = recon[targets]
        return score.cpu().numpy().astype(np.float64)
    for i in range(0, len(targets), batch_size):
        t = targets[i : i + batch_size]
        history = mu[t[:, None] - offsets[None, :]]  # (B, k, D, L)
        pred = weighted_squared_error(
            x_all[t.cpu()].to(device), vae.decode(lstm.generate(history)), w
        )
        score[t] = recon[t] + prediction_weight * pred
    return score.cpu().numpy().astype(np.float64)


def learned_window_scores(
    vae: MHAVAE,
    lstm: SequenceLSTM,
    windows: np.ndarray,
    stride: int,
    cfg: Config,
    device: torch.device,
) -> np.ndarray:
    """Scores (W,) of z-scored sliding windows (W, C, L) `stride` apart, under the run's config
    (window centring, modality weights, prediction weight): what `leaderboard` and the API score."""
    if cfg.data.center_windows:
        windows = windows - windows.mean(-1, keepdims=True)
    weights = torch.tensor(
        resolved_modality_weights(cfg.model, windows.shape[1]), dtype=torch.float32
    )
    per_window = cfg.data.l_win // stride
    return vae_lstm_window_scores(
        vae,
        lstm,
        windows,
        per_window,
        cfg.data.look_back_num,
        weights,
        cfg.detect.prediction_weight,
        device,
    )


def step_scores(
    vae: MHAVAE, lstm: SequenceLSTM, z: np.ndarray, cfg: Config, device: torch.device
) -> np.ndarray:
    """Point-wise scores (N,) of a z-scored series (N, C): slide, score every window, spread."""
    L = cfg.data.l_win
    stride = resolve_stride(L, cfg.score.stride)
    starts = window_starts(len(z), L, stride)
    windows = sliding_windows(z, starts, L)
    scores = learned_window_scores(vae, lstm, windows, stride, cfg, device)
    return spread(scores, starts, L, len(z), cfg.score.spread)
