"""Figures every package draws the same way: loss curves from the epoch history.

Figure functions take data and return a matplotlib `Figure` (object API, no pyplot, no display); the
caller saves it with `RunDir.save_figure`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.figure import Figure


def loss_curves(
    history: Sequence[dict[str, Any]], names: Sequence[str] | None = None, title: str = ""
) -> Figure:
    """One panel per metric name, train and validation curves over epochs (log scale when positive).

    `names` are the bare names (`loss`, `recon`, ...); by default every `train_*` key of the history.
    """
    if not history:
        raise ValueError("loss_curves: empty history (no epoch finished)")
    if names is None:
        names = [k[len("train_") :] for k in history[0] if k.startswith("train_")]
    names = list(names) or ["loss"]
    fig = Figure(figsize=(4.0 * len(names), 3.2), layout="constrained")
    draw_loss_panels(fig.subplots(1, len(names), squeeze=False)[0], history, names)
    if title:
        fig.suptitle(title)
    return fig


def draw_loss_panels(
    axes: Sequence[Any],
    history: Sequence[dict[str, Any]],
    names: Sequence[str],
    titles: Sequence[str] | None = None,
) -> None:
    """Train (solid) and validation (dashed) curves of each name into the given axes.

    For a package figure that puts other panels beside the losses (e.g. clustering metrics).
    """
    epochs = [h["epoch"] + 1 for h in history]
    for i, (ax, name) in enumerate(zip(axes, names)):
        for split, style in (("train", "-"), ("val", "--")):
            values = [h.get(f"{split}_{name}") for h in history]
            if any(v is not None for v in values):
                ax.plot(
                    epochs,
                    [float("nan") if v is None else v for v in values],
                    style,
                    marker=".",
                    label=split,
                )
        finite = [h.get(f"train_{name}") for h in history if h.get(f"train_{name}") is not None]
        if finite and min(finite) > 0:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_title(titles[i] if titles else name)
        ax.legend()
