"""Figures: loss curves, VAE reconstructions, LSTM predictions, the detection comparison and scores.

matplotlib object API only (no pyplot state); every function returns a Figure or the saved path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from sigzoo_shared import RunDir
from sigzoo_shared.metrics import label_ranges
from sigzoo_shared.plots import loss_curves

from resp_mhavae.data import TEST, VAL, Prepared


def save_loss_curves(run: RunDir, history: list[dict[str, Any]]) -> Path | None:
    """The core's train/validation loss figure for one training phase (None before an epoch ends)."""
    if not history:
        return None
    return run.save_figure(
        loss_curves(history, ["loss"], title=f"{run.path.name} loss"), "loss_curves"
    )


def reconstruction_figure(vae: torch.nn.Module, x: torch.Tensor, channels: list[str]) -> Figure:
    """Input vs reconstruction (from the mean) of the first sample window, one panel per channel."""
    mu, _ = vae.encode(x)
    recon = vae.decode(mu)
    C = x.shape[1]
    fig = Figure(figsize=(7, 1.6 * C + 0.5))
    axes = fig.subplots(C, 1, sharex=True, squeeze=False)[:, 0]
    for c, ax in enumerate(axes):
        ax.plot(x[0, c].cpu().numpy(), lw=1, label="input")
        ax.plot(recon[0, c].cpu().numpy(), lw=1, label="reconstruction")
        ax.set_ylabel(channels[c] if c < len(channels) else f"ch{c}", fontsize=8)
    axes[0].legend(fontsize=7, loc="upper right")
    axes[-1].set_xlabel("sample in window")
    return fig


def lstm_prediction_figure(lstm: torch.nn.Module, seq: torch.Tensor) -> Figure:
    """True next-window latents vs autoregressive and teacher-forced predictions (first 3 latent dims)."""
    true = seq[0, -1].cpu().numpy()  # (D, L)
    auto = lstm.generate(seq[:, :-1])[0].cpu().numpy()
    forced = lstm(seq)[0].cpu().numpy()
    n = min(3, true.shape[0])
    fig = Figure(figsize=(7, 1.6 * n + 0.5))
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0]
    for d, ax in enumerate(axes):
        ax.plot(true[d], lw=1, label="true")
        ax.plot(auto[d], lw=1, label="autoregressive")
        ax.plot(forced[d], lw=1, ls=":", label="teacher-forced")
        ax.set_ylabel(f"z[{d}]", fontsize=8)
    axes[0].legend(fontsize=7, loc="upper right")
    axes[-1].set_xlabel("step in window")
    return fig


def comparison_figure(
    run: RunDir,
    prepared: Prepared,
    flags: np.ndarray,
    title: str,
    name: str = "anomaly_detection_comparison",
) -> Path:
    """All channels over the recording: labelled intervals (red), flagged windows (orange), split marks."""
    W, C, L = prepared.windows.shape
    series = prepared.windows.transpose(0, 2, 1).reshape(W * L, C)
    t = np.arange(W * L) / prepared.sample_rate_hz
    fig = Figure(figsize=(11, 1.5 * C + 1))
    axes = fig.subplots(C, 1, sharex=True, squeeze=False)[:, 0]
    for c, ax in enumerate(axes):
        ax.plot(t, series[:, c], lw=0.6, color="black")
        for s, e in label_ranges(prepared.row_labels):
            ax.axvspan(t[s], t[e - 1], color="red", alpha=0.25, lw=0)
        for w in np.flatnonzero(flags):
            ax.axvspan(
                w * L / prepared.sample_rate_hz,
                (w + 1) * L / prepared.sample_rate_hz,
                ymin=0,
                ymax=0.12,
                color="orange",
                alpha=0.9,
                lw=0,
            )
        for split in (VAL, TEST):
            first = np.flatnonzero(prepared.split == split)
            if first.size:
                ax.axvline(first[0] * L / prepared.sample_rate_hz, color="blue", ls="--", lw=0.8)
        ax.set_ylabel(prepared.channels[c], fontsize=8)
    axes[0].set_title(
        f"{prepared.name}: {title}\nred = labelled anomaly, orange = flagged window, "
        "dashed = validation / test start",
        fontsize=9,
    )
    axes[-1].set_xlabel("time (s)")
    return run.save_figure(fig, name)


def score_figure(
    run: RunDir,
    prepared: Prepared,
    scores: dict[str, dict[str, np.ndarray]],
    thresholds: dict[str, float],
    name: str = "scores",
) -> Path:
    """Window scores of each method with its threshold; anomalous windows in red."""
    fig = Figure(figsize=(10, 1.6 * len(scores) + 0.6))
    axes = fig.subplots(len(scores), 1, sharex=True, squeeze=False)[:, 0]
    idx = np.arange(len(prepared.labels))
    for ax, (method, sc) in zip(axes, scores.items()):
        s = sc["score"]
        ax.plot(idx, s, lw=0.8, color="gray")
        bad = prepared.labels == 1
        ax.scatter(idx[bad], s[bad], s=8, color="red", zorder=3)
        if method in thresholds:
            ax.axhline(thresholds[method], color="orange", ls="--", lw=0.8)
        ax.set_ylabel(method, fontsize=7)
        finite = s[np.isfinite(s)]
        if finite.size and finite.min() > 0:
            ax.set_yscale("log")  # errors span decades; log keeps the quiet windows visible
        for start in np.flatnonzero(np.diff(prepared.split.astype(int)) != 0) + 0.5:
            ax.axvline(start, color="blue", ls="--", lw=0.8)
    axes[0].set_title(
        "window scores; red = window holds a labelled anomaly, orange = threshold, "
        "blue = validation / test start",
        fontsize=8,
    )
    axes[-1].set_xlabel("window")
    return run.save_figure(fig, name)
