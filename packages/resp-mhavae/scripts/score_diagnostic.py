"""Why the detectors rank labelled breathing windows low: score vs how much the window moves.

    python packages/resp-mhavae/scripts/score_diagnostic.py docs/figures/resp-mhavae RUN [RUN ...]

RUN is a finished `resp-mhavae run` directory (scores.npz + data/prepared-*.npz). Prints, per run, the
window ROC-AUC of the MHA-VAE-LSTM score and of its reconstruction and prediction parts, the rank
correlation of the score with the window's variability (sum over channels of the within-window std of the
z-scored signal), and the ROC-AUC of that variability itself; draws score vs variability.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from resp_mhavae.data import TEST, Prepared
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score


def diagnose(run: Path) -> tuple[str, Prepared, np.ndarray, np.ndarray, np.ndarray]:
    prepared = Prepared.load(next((run / "data").glob("prepared-*.npz")))
    scores = np.load(run / "scores.npz")
    s = scores["mhavae__score"]
    ok = np.isfinite(s)
    test = ok & (prepared.split == TEST)
    y = prepared.labels
    variability = prepared.windows.std(-1).sum(1)  # (W,)
    parts = {
        "score": s,
        "reconstruction": scores["mhavae__recon_error"],
        "prediction": scores["mhavae__pred_error"],
        "variability": variability,
    }
    cells = []
    for label, mask in (("test part", test), ("all scored windows", ok)):
        aucs = ", ".join(f"{k} {roc_auc_score(y[mask], v[mask]):.2f}" for k, v in parts.items())
        rho = spearmanr(s[mask], variability[mask]).statistic
        cells.append(
            f"{label} ({int(mask.sum())} windows, {int(y[mask].sum())} labelled): ROC-AUC {aucs}; "
            f"Spearman(score, variability) {rho:.2f}"
        )
    return f"{prepared.name}: " + "; ".join(cells), prepared, s, variability, ok


def main(out: Path, runs: list[Path]) -> None:
    fig = Figure(figsize=(5 * len(runs), 4))
    axes = fig.subplots(1, len(runs), squeeze=False)[0]
    for ax, run in zip(axes, runs):
        text, prepared, s, variability, ok = diagnose(run)
        print(text)
        y = prepared.labels == 1
        ax.scatter(variability[ok & ~y], s[ok & ~y], s=10, color="0.4", label="no labelled anomaly")
        ax.scatter(
            variability[ok & y], s[ok & y], s=14, color="red", label="holds a labelled anomaly"
        )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("window variability (sum of per-channel std, z-units)")
        ax.set_ylabel("MHA-VAE-LSTM score")
        ax.set_title(f"{prepared.name} (every scored window, seed 0, honest)", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "breathing_score_vs_variability.png", dpi=90)


if __name__ == "__main__":
    main(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]])
