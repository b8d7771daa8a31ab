"""Figures of ecg-vqvae: reconstructions, forecasts, codebook usage, error against horizon.

Each function takes arrays and returns a matplotlib `Figure` (object API, no display); the caller saves it
through `RunDir.save_figure`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

LEADS = ("lead 1 (MLII)", "lead 2 (V1)")


def reconstruction_figure(x: np.ndarray, x_hat: np.ndarray, fs: float, title: str = "") -> Figure:
    """Original vs reconstruction of one window (L, T), one panel per lead, in mV."""
    t = np.arange(x.shape[-1]) / fs
    fig = Figure(figsize=(9, 4.5))
    axes = fig.subplots(x.shape[0], 1, sharex=True, squeeze=False)[:, 0]
    for lead, ax in enumerate(axes):
        ax.plot(t, x[lead], color="k", lw=1.0, label="original")
        ax.plot(t, x_hat[lead], color="tab:red", lw=1.0, alpha=0.8, label="reconstruction")
        ax.set_ylabel(f"{LEADS[lead] if lead < 2 else lead} [mV]")
    axes[0].legend(loc="upper right", fontsize=8)
    axes[-1].set_xlabel("time [s]")
    if title:
        axes[0].set_title(title)
    fig.tight_layout()
    return fig


def forecast_figure(
    context: np.ndarray,
    future: np.ndarray,
    forecasts: Mapping[str, np.ndarray],
    fs: float,
    title: str = "",
    leads: Sequence[int] = (0, 1),
) -> Figure:
    """Context (L, Tc) and true future (L, Tf) in black, each forecast (L, Tf) in colour."""
    tc = (np.arange(context.shape[-1]) - context.shape[-1]) / fs
    tf = np.arange(future.shape[-1]) / fs
    fig = Figure(figsize=(10, 2.6 * len(leads)))
    axes = fig.subplots(len(leads), 1, sharex=True, squeeze=False)[:, 0]
    colours = (
        "tab:red",
        "tab:blue",
        "tab:green",
        "tab:orange",
        "tab:purple",
        "tab:brown",
        "tab:pink",
    )
    for ax, lead in zip(axes, leads):
        ax.plot(tc, context[lead], color="0.4", lw=1.0, label="context")
        ax.plot(tf, future[lead], color="k", lw=1.0, label="truth")
        for (name, pred), colour in zip(forecasts.items(), colours):
            ax.plot(tf, pred[lead], color=colour, lw=1.0, alpha=0.8, label=name)
        ax.axvline(0.0, color="0.6", ls="--", lw=0.8)
        ax.set_ylabel(f"{LEADS[lead] if lead < 2 else lead} [mV]")
    axes[0].legend(loc="upper left", fontsize=7, ncol=len(forecasts) + 2)
    axes[-1].set_xlabel("time from forecast start [s]")
    if title:
        axes[0].set_title(title)
    fig.tight_layout()
    return fig


def spread_figure(
    context: np.ndarray,
    future: np.ndarray,
    points: Mapping[str, np.ndarray],
    samples: Mapping[str, np.ndarray],
    fs: float,
    title: str = "",
    lead: int = 0,
) -> Figure:
    """Sampled futures (K, L, Tf) of each sampled method against the truth, one panel per method.

    Thin lines are the K samples, the band their 10-90 % range, the thick line the point forecast: a
    spread that covers the truth's beats where the point forecast is flat is what CRPS rewards.
    """
    tc = (np.arange(context.shape[-1]) - context.shape[-1]) / fs
    tf = np.arange(future.shape[-1]) / fs
    fig = Figure(figsize=(10, 2.8 * len(samples)))
    axes = fig.subplots(len(samples), 1, sharex=True, sharey=True, squeeze=False)[:, 0]
    for ax, (name, draws) in zip(axes, samples.items()):
        ax.plot(tc, context[lead], color="0.4", lw=1.0, label="context")
        lo, hi = np.percentile(draws[:, lead], [10, 90], axis=0)
        ax.fill_between(tf, lo, hi, color="tab:orange", alpha=0.25, label="10-90 % of samples")
        for draw in draws:
            ax.plot(tf, draw[lead], color="tab:orange", lw=0.5, alpha=0.5)
        ax.plot(tf, future[lead], color="k", lw=1.2, label="truth")
        if name in points:
            ax.plot(tf, points[name][lead], color="tab:red", lw=1.4, label="point forecast")
        ax.axvline(0.0, color="0.6", ls="--", lw=0.8)
        ax.set_ylabel(f"{LEADS[lead] if lead < 2 else lead} [mV]")
        ax.set_title(name, fontsize=9, loc="left")
    axes[0].legend(loc="upper left", fontsize=7, ncol=4)
    axes[-1].set_xlabel("time from forecast start [s]")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def codebook_usage_figure(counts: np.ndarray, title: str = "") -> Figure:
    """Sorted code-usage histogram (log scale): a long flat head means a healthy codebook."""
    fig = Figure(figsize=(6, 3.2))
    ax = fig.subplots()
    sorted_counts = np.sort(np.asarray(counts))[::-1]
    ax.bar(
        np.arange(len(sorted_counts)), np.maximum(sorted_counts, 0.5), width=1.0, color="tab:blue"
    )
    ax.set_yscale("log")
    ax.set_xlabel("code (sorted by use)")
    ax.set_ylabel("assignments")
    ax.set_title(title or f"{int((sorted_counts > 0).sum())}/{len(sorted_counts)} codes used")
    fig.tight_layout()
    return fig


def horizon_figure(rows: Sequence[Mapping[str, float]], metric: str = "mae_mv") -> Figure:
    """Pooled error against horizon, one line per method; rows carry method, horizon_s and the metric."""
    fig = Figure(figsize=(5.5, 3.5))
    ax = fig.subplots()
    methods = list(dict.fromkeys(r["method"] for r in rows))
    for method in methods:
        pts = sorted((r["horizon_s"], r[metric]) for r in rows if r["method"] == method)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=method)
    ax.set_xlabel("horizon [s]")
    ax.set_ylabel(metric.replace("_mv", " [mV]").replace("_pct", " [%]"))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
