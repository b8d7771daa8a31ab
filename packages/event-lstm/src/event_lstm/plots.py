"""Figures (matplotlib object API, no display): template grid, a window's detections, a stream excerpt,
the event-type confusion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn


def template_grid(model: nn.Module) -> Figure:
    """4x4 grid of the 16 learned templates (6 channels offset vertically), delays in the titles."""
    bank = model.template_bank
    with torch.no_grad():
        w = bank.shifted_templates().cpu().numpy()  # (E, C, L)
        delays = bank.delays.cpu().numpy()  # (E, C)
    E, C, L = w.shape
    cols = int(np.ceil(np.sqrt(E)))
    rows = int(np.ceil(E / cols))
    fig = Figure(figsize=(3 * cols, 2.4 * rows))
    t_ms = np.arange(L) / 2.0
    for e in range(E):
        ax = fig.add_subplot(rows, cols, e + 1)
        scale = np.abs(w[e]).max() + 1e-9
        for c in range(C):
            ax.plot(t_ms, w[e, c] / scale - 2.2 * c, lw=0.8)
        ax.set_title(
            f"event {e}: delays " + " ".join(f"{d / 2:+.1f}" for d in delays[e]) + " ms", fontsize=6
        )
        ax.set_yticks([])
        ax.tick_params(labelsize=6)
    fig.suptitle("learned templates (channels F0-F5 top to bottom; x in ms)")
    fig.tight_layout()
    return fig


def visualize_learned_templates(model: nn.Module, save_path: Path | str) -> Path:
    """The seed's helper: write the 4x4 template grid PNG to `save_path`."""
    path = Path(save_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    template_grid(model).savefig(path, dpi=100, bbox_inches="tight")
    return path


def detection_figure(
    model: nn.Module,
    x: torch.Tensor,
    labels: np.ndarray,
    timings: np.ndarray,
    threshold: float = 0.5,
) -> Figure:
    """One window (1, T, C): signals, true onsets (dashed) and detections (solid) with event ids."""
    out = model.predict_events(x, threshold=threshold)
    sig = x[0].cpu().numpy()
    fig = Figure(figsize=(10, 4))
    ax = fig.add_subplot(1, 1, 1)
    t = np.arange(sig.shape[0]) / 2.0
    for c in range(sig.shape[1]):
        ax.plot(t, sig[:, c] - 3 * c, lw=0.5, color="0.3")
    for e in np.flatnonzero(labels > 0.5):
        ax.axvline(timings[e] / 2.0, color="tab:green", ls="--", lw=1)
        ax.text(timings[e] / 2.0, 1.5, f"{e}", color="tab:green", fontsize=7)
    for e in np.flatnonzero(out["present"][0].cpu().numpy()):
        on = float(out["onsets"][0, e]) / 2.0
        ax.axvline(on, color="tab:red", lw=1)
        ax.text(on, -3 * sig.shape[1], f"{e}", color="tab:red", fontsize=7)
    ax.set_xlabel("time (ms)")
    ax.set_yticks([])
    ax.set_title("true onsets (green, dashed) and detections (red)")
    return fig


def stream_figure(
    signal: np.ndarray,
    fs_hz: int,
    true_events: np.ndarray | None,
    detections: list,
    start_s: float = 0.0,
    length_s: float = 5.0,
) -> Figure:
    """An excerpt of a continuous recording with true events and streaming detections by type."""
    a, b = int(start_s * fs_hz), int((start_s + length_s) * fs_hz)
    seg = signal[a:b]
    t = np.arange(a, a + len(seg)) / fs_hz
    fig = Figure(figsize=(11, 5))
    ax = fig.add_subplot(2, 1, 1)
    for c in range(seg.shape[1]):
        ax.plot(t, seg[:, c] - 3 * c, lw=0.4, color="0.3")
    ax.set_yticks([])
    ax.set_title("stream excerpt")
    ax2 = fig.add_subplot(2, 1, 2, sharex=ax)
    if true_events is not None:
        m = (true_events[:, 0] >= a) & (true_events[:, 0] < b)
        ax2.scatter(
            true_events[m, 0] / fs_hz,
            true_events[m, 1],
            marker="o",
            s=40,
            facecolors="none",
            edgecolors="tab:green",
            label="true",
        )
    ds = [d for d in detections if a <= d.sample < b]
    ax2.scatter(
        [d.sample / fs_hz for d in ds],
        [d.event for d in ds],
        marker="x",
        color="tab:red",
        label="detected",
    )
    ax2.set_ylabel("event type")
    ax2.set_xlabel("time (s)")
    ax2.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    return fig


def confusion_figure(cm: np.ndarray) -> Figure:
    """(E + 1) x (E + 1) counts; last row = false alarms, last column = misses."""
    fig = Figure(figsize=(6, 5))
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(np.log1p(cm), cmap="viridis")
    n = cm.shape[0]
    labels = [str(i) for i in range(n - 1)] + ["none"]
    ax.set_xticks(range(n), labels, fontsize=6)
    ax.set_yticks(range(n), labels, fontsize=6)
    ax.set_xlabel("predicted type")
    ax.set_ylabel("true type")
    ax.set_title("event-type confusion at +-5 ms (log1p counts)")
    fig.colorbar(im, ax=ax)
    return fig
