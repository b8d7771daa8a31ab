"""Figures (matplotlib object API, no display): reconstructions, loss curves, score histograms, ROC curves.

Each function takes data and returns a `Figure`; the caller saves it through `RunDir.save_figure`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from dcase_cae.config import Config


def _as_image(window: np.ndarray, cfg: Config) -> np.ndarray:
    """A CAE patch (1, M, M) or a dense vector (P * M,) as a (M, frames) image."""
    if window.ndim == 3:
        return window[0]
    return window.reshape(cfg.data.frames, cfg.data.n_mels).T


def reconstruction_figure(
    x: np.ndarray, x_hat: np.ndarray, cfg: Config, title: str = "", labels: Sequence[str] = ()
) -> Figure:
    """One row per window: input | reconstruction | squared error, side by side on one axis.

    Input and reconstruction share a colour scale; the error panel is rescaled to the same range so the
    three read as one image (its mean is in the row title). One axis per row keeps this cheap to draw,
    which matters because training draws it every few epochs.
    """
    n = len(x)
    fig = Figure(figsize=(7.5, 2.0 * n + 0.3))
    axes = fig.subplots(n, 1, squeeze=False)[:, 0]
    for i, ax in enumerate(axes):
        a, b = _as_image(x[i], cfg), _as_image(x_hat[i], cfg)
        lo, hi = float(min(a.min(), b.min())), float(max(a.max(), b.max()))
        err = (a - b) ** 2
        err_img = lo + (hi - lo) * err / max(float(err.max()), 1e-12)
        gap = np.full((a.shape[0], max(1, a.shape[1] // 16)), np.nan)
        ax.imshow(
            np.hstack([a, gap, b, gap, err_img]),
            origin="lower",
            aspect="auto",
            interpolation="nearest",
            vmin=lo,
            vmax=hi,
        )
        name = labels[i] if i < len(labels) else f"window {i}"
        ax.set_title(
            f"{name}: input | reconstruction | squared error (mean {err.mean():.3g})", fontsize=8
        )
        ax.set_xticks([])
        ax.set_ylabel("mel band", fontsize=7)
        ax.tick_params(labelsize=6)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def score_histogram_figure(
    per_id: Mapping[str, Mapping[str, np.ndarray]], threshold: float | None, title: str = ""
) -> Figure:
    """One panel per machine ID: anomaly-score histograms of normal and anomalous test clips."""
    ids = list(per_id)
    fig = Figure(figsize=(4 * len(ids), 3.2))
    axes = fig.subplots(1, len(ids), squeeze=False)[0]
    for ax, machine_id in zip(axes, ids):
        scores, labels = per_id[machine_id]["scores"], per_id[machine_id]["labels"]
        bins = np.histogram_bin_edges(scores, bins=min(30, max(5, len(scores) // 2)))
        if labels is None:
            ax.hist(scores, bins=bins, alpha=0.7, label="test (unlabelled)")
        else:
            ax.hist(scores[labels == 0], bins=bins, alpha=0.6, label="normal")
            ax.hist(scores[labels == 1], bins=bins, alpha=0.6, label="anomaly")
        if threshold is not None:
            ax.axvline(threshold, color="k", ls="--", lw=1, label="threshold")
        ax.set_title(f"id {machine_id}", fontsize=9)
        ax.set_xlabel("anomaly score (mean squared error)")
        ax.set_ylabel("clips")
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def roc_figure(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray, float]], max_fpr: float, title: str = ""
) -> Figure:
    """ROC curve per machine ID (fpr, tpr, AUC), with the pAUC region shaded."""
    fig = Figure(figsize=(4.2, 4))
    ax = fig.subplots()
    ax.axvspan(0, max_fpr, color="0.9", label=f"pAUC region (FPR <= {max_fpr:g})")
    for machine_id, (fpr, tpr, auc) in curves.items():
        ax.plot(fpr, tpr, lw=1.5, label=f"id {machine_id} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], "k:", lw=1, label="chance")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title or "ROC", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig
