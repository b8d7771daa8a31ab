"""Figures of vae-demo (matplotlib object API, no display) and the latent-space GIF.

Figure functions take data and return a `Figure`; the caller saves it through `RunDir.save_figure`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from sigzoo_shared.plots import draw_loss_panels

NOISE_COLOR = "black"


def _label_colors(labels: np.ndarray) -> np.ndarray:
    ids = np.unique(labels[labels >= 0])
    cmap = colormaps["hsv"]
    lut = {int(k): cmap(i / max(len(ids), 1)) for i, k in enumerate(ids)}
    return np.array([lut[int(v)] for v in labels[labels >= 0]]).reshape(-1, 4)


def draw_latent(
    ax: Any,
    mu: np.ndarray,
    labels: np.ndarray,
    *,
    title: str = "",
    lims: tuple[float, float, float, float] | None = None,
) -> None:
    """z_mean scatter coloured by label; noise windows (label -1) as black crosses on top."""
    pattern = labels >= 0
    ax.scatter(
        mu[pattern, 0], mu[pattern, 1], c=_label_colors(labels), s=3, alpha=0.6, linewidths=0
    )
    ax.scatter(
        mu[~pattern, 0],
        mu[~pattern, 1],
        c=NOISE_COLOR,
        s=6,
        marker="x",
        linewidths=0.5,
        alpha=0.7,
        label="noise",
    )
    if lims is not None:
        ax.set_xlim(lims[0], lims[1])
        ax.set_ylim(lims[2], lims[3])
    ax.set_xlabel("z_mean[0]")
    ax.set_ylabel("z_mean[1]")
    ax.set_title(title, fontsize=9)
    if (~pattern).any():
        ax.legend(loc="upper right", fontsize=7, markerscale=2)


def latent_figure(
    mu: np.ndarray,
    labels: np.ndarray,
    title: str = "",
    lims: tuple[float, float, float, float] | None = None,
) -> Figure:
    fig = Figure(figsize=(5, 5))
    draw_latent(fig.add_subplot(1, 1, 1), mu, labels, title=title, lims=lims)
    return fig


def reconstruction_figure(
    x: np.ndarray, recon: np.ndarray, label: int, n_features: int, title: str = ""
) -> Figure:
    """Per-channel original (C, T) vs reconstruction (C_out, T) of one window; channels past
    `n_features` are the time encoding."""
    n = x.shape[0]
    fig = Figure(figsize=(8, 1.2 * n + 0.6))
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0]
    for c, ax in enumerate(axes):
        ax.plot(x[c], color="tab:blue", lw=1, label="original")
        if c < recon.shape[0]:
            ax.plot(recon[c], color="tab:orange", lw=1, label="reconstruction")
        ax.set_ylabel(f"ch{c}" if c < n_features else "time", fontsize=7)
        ax.set_ylim(-0.05, 1.05)
        ax.tick_params(labelsize=6)
    axes[0].legend(loc="upper right", fontsize=7, ncol=2)
    axes[0].set_title(f"{title} (label {'noise' if label < 0 else label})", fontsize=9)
    axes[-1].set_xlabel("sample")
    return fig


def history_figure(history: Sequence[dict[str, Any]]) -> Figure:
    """Loss curves (total / reconstruction / KL, train and validation) and clustering metrics per epoch."""
    fig = Figure(figsize=(12, 3.2))
    axes = fig.subplots(1, 4)
    epochs = [h["epoch"] + 1 for h in history]
    draw_loss_panels(
        axes[:3], history, ["loss", "recon", "kl"], ["total loss", "reconstruction (MSE)", "KL"]
    )
    ax = axes[3]
    for key in ("val_ari", "val_nmi", "val_silhouette", "val_noise_auc"):
        ys = [h.get(key) for h in history]
        if any(y is not None for y in ys):
            ax.plot(epochs, [np.nan if y is None else y for y in ys], marker=".", label=key[4:])
    ax.set_ylim(-1.05, 1.05)
    ax.set_title("latent clustering (validation)", fontsize=9)
    ax.set_xlabel("epoch")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def encode_test_figure(
    mu_val: np.ndarray, y_val: np.ndarray, sets: dict[str, np.ndarray]
) -> Figure:
    """Validation latent in the background, each test set's z_mean on top."""
    fig = Figure(figsize=(6, 6))
    ax = fig.add_subplot(1, 1, 1)
    draw_latent(ax, mu_val, y_val, title="encoder test: new signals on the validation latent")
    for (name, mu), color in zip(sets.items(), ("tab:blue", "tab:red", "tab:green", "tab:purple")):
        ax.scatter(
            mu[:, 0],
            mu[:, 1],
            s=10,
            marker="^",
            color=color,
            alpha=0.8,
            label=name,
            edgecolors="white",
            linewidths=0.3,
        )
    ax.legend(loc="upper right", fontsize=7, markerscale=1.5)
    return fig


def make_gif(frames: Sequence[Path], out: Path, frame_ms: int = 400) -> Path | None:
    """An animated GIF of PNG `frames` (resized to the first frame's size); None when there are none."""
    from PIL import Image

    frames = list(frames)
    if not frames:
        return None
    with Image.open(frames[0]) as first:
        size = first.size
    images = []
    for path in frames:
        with Image.open(path) as img:
            images.append(
                img.convert("RGB").resize(size).convert("P", palette=Image.Palette.ADAPTIVE)
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    images[0].save(
        tmp, format="GIF", save_all=True, append_images=images[1:], duration=frame_ms, loop=0
    )
    tmp.replace(out)
    return out


def epoch_frames(figures_dir: Path, name: str = "latent") -> list[Path]:
    """`figures/<name>_epochNNNN.png` files in epoch order."""
    pattern = re.compile(rf"^{re.escape(name)}_epoch(\d+)\.png$")
    found = [
        (int(m.group(1)), p)
        for p in figures_dir.glob(f"{name}_epoch*.png")
        if (m := pattern.match(p.name))
    ]
    return [p for _, p in sorted(found)]
