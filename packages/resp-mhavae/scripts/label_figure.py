"""What the labelled anomalies of the nose-sensor recordings look like (docs/resp-mhavae.md, "Why ...").

    python packages/resp-mhavae/scripts/label_figure.py ../shared/data/resp-collected docs/figures/resp-mhavae

Per recording: raw channels with the labelled intervals, the 4-s humidity and temperature change, and the
numbers quoted in the docs (how distinctive the labelled stretches are). A diagnostic chosen after looking
at the labels, not a detector.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from resp_mhavae.config import DataConfig
from resp_mhavae.data import load_recording
from sklearn.metrics import roc_auc_score

L_WIN = 96  # the docs' window; only used to mark where validation and test start


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    d = np.diff(np.r_[0, mask.astype(int), 0])
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def change(x: np.ndarray, w: int) -> np.ndarray:
    return np.r_[np.full(w, np.nan), x[w:] - x[:-w]]


def describe(name: str, root: Path, out: Path) -> str:
    rec = load_recording(
        DataConfig(path=root / f"sensor_data_{name}_with_anomalies.csv", l_win=L_WIN)
    )
    v, y, fs = rec.values, rec.labels.astype(bool), rec.sample_rate_hz
    t = np.arange(len(v)) / fs
    w = int(round(4 * fs))
    dt, dh = change(v[:, 1], w), change(v[:, 2], w)
    ok = ~np.isnan(dh)
    thr = float(np.nanmedian(dh[y]))  # the typical labelled humidity fall over 4 s
    falling = np.nan_to_num(dh, nan=0.0) <= thr
    unlabelled = [(s, e) for s, e in runs(falling & ~y) if e - s >= 2 * fs]
    quiet = [np.std(v[max(0, i - w) : i + 1, 0]) for i in range(0, len(v), 5)]
    quiet = np.array(quiet)
    lab5 = y[::5]
    n_windows = len(v) // L_WIN
    train_w = int(n_windows * 0.7)
    fit_w = train_w - max(1, round(train_w * 0.2))
    text = (
        f"{name}: {len(runs(y))} intervals, {y.mean():.1%} of rows, lasting "
        f"{min(e - s for s, e in runs(y)) / fs:.0f}-{max(e - s for s, e in runs(y)) / fs:.0f} s; "
        f"median 4-s humidity change inside {thr:.2f} %RH; rows falling at least that fast: "
        f"{falling[y].mean():.0%} of labelled, {falling[~y].mean():.0%} of unlabelled rows; unlabelled "
        f"stretches >= 2 s falling that fast: {len(unlabelled)} ({sum(e - s for s, e in unlabelled) / fs:.0f} s); "
        f"row ROC-AUC of the 4-s fall: humidity {roc_auc_score(y[ok], -dh[ok]):.2f}, temperature "
        f"{roc_auc_score(y[ok], -dt[ok]):.2f}; microphone 4-s std median inside / outside "
        f"{np.median(quiet[lab5]):.0f} / {np.median(quiet[~lab5]):.0f} ADC units"
    )
    fig = Figure(figsize=(10, 8))
    axes = fig.subplots(5, 1, sharex=True)
    panels = [
        (v[:, 0], "Audio (ADC)"),
        (v[:, 1], "Temperature (°C)"),
        (v[:, 2], "Humidity (%RH)"),
        (dt, "4-s temperature\nchange (°C)"),
        (dh, "4-s humidity\nchange (%RH)"),
    ]
    for ax, (x, label) in zip(axes, panels):
        for s, e in runs(y):
            ax.axvspan(t[s], t[e - 1], color="red", alpha=0.25, lw=0)
        for s, e in unlabelled:
            ax.axvspan(t[s], t[e - 1], color="0.5", alpha=0.35, lw=0)
        ax.plot(t, x, "k", lw=0.6)
        ax.set_ylabel(label, fontsize=8)
        for b in (fit_w, train_w):
            ax.axvline(b * L_WIN / fs, color="b", ls="--", lw=0.8)
    axes[4].axhline(thr, color="red", ls=":", lw=1)
    axes[0].set_title(
        f"{name} (raw units): red = labelled anomaly; grey = unlabelled stretch (>= 2 s) where humidity "
        "falls\nas fast as in the median labelled row (dotted line); dashed = validation / test start",
        fontsize=9,
    )
    axes[-1].set_xlabel("time (s)")
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / f"{name}_labels.png", dpi=90)
    return text


if __name__ == "__main__":
    root, out = Path(sys.argv[1]), Path(sys.argv[2])
    for name in ("nosein_noseout_1", "nosein_noseout_3"):
        print(describe(name, root, out))
