"""Range-aware, threshold-free metrics of point-wise scores, from the `tsadmetrics` library.

VUS-PR and VUS-ROC (Paparrizos et al., "Volume Under the Surface", VLDB 2022; VUS-PR is what TSB-AD,
Liu & Paparrizos, NeurIPS 2024, recommends) average range-based PR/ROC areas over label buffers of 0..l
steps; R-AUC-PR and R-AUC-ROC are the same curves at the full buffer l. All come from one call of
tsadmetrics' copy of the VUS reference code (`RangeAUC_volume_opt_mem`, 250 thresholds). The `vus` and
`TSB-AD` packages themselves are not usable as dependencies: `vus` 0.0.6 requires tensorflow and tsfresh,
`TSB-AD` 1.5 pins numpy < 2 (no wheels for Python 3.13; this workspace has numpy 2) and pulls
transformers and torch. Point-wise AUC-PR/ROC-AUC come from the core (scikit-learn), the affiliation F1
(Huet et al., KDD 2022) from tsadmetrics at the best of a few quantile thresholds (an oracle threshold: a
secondary figure, generous by construction).

A test part without a labelled anomaly (or with nothing else) cannot be scored: every metric is None and
`scorable` is False, never 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sigzoo_shared import metrics as M
from tsadmetrics.metrics.tem.tstm.AffiliationbasedFScore import AffiliationbasedFScore
from tsadmetrics.utils.functions_vus import RangeAUC_volume_opt_mem

METRIC_NAMES = {
    "vus_pr": "VUS-PR",
    "vus_roc": "VUS-ROC",
    "range_auc_pr": "R-AUC-PR",
    "range_auc_roc": "R-AUC-ROC",
    "point_auc_pr": "point AUC-PR",
    "point_roc_auc": "point ROC-AUC",
    "affiliation_f1": "affiliation F1 (best thr.)",
}


def scorable(labels: np.ndarray) -> bool:
    """True when the labels hold both anomalous and normal steps."""
    return bool(labels.any() and not labels.all())


def vus(labels: np.ndarray, scores: np.ndarray, buffer: int) -> dict[str, float]:
    """VUS-PR, VUS-ROC and the range AUCs at the full buffer, from tsadmetrics' VUS implementation."""
    tpr, fpr, prec, _, vus_roc, vus_pr = RangeAUC_volume_opt_mem(
        np.asarray(labels, dtype=int), np.asarray(scores, dtype=float), buffer
    )
    # the library's own area formulas, for the surface's last slice (buffer = l)
    r_auc_roc = float(np.dot(fpr[-1][1:] - fpr[-1][:-1], (tpr[-1][1:] + tpr[-1][:-1]) / 2))
    r_auc_pr = float(np.dot(tpr[-1][1:-1] - tpr[-1][:-2], prec[-1][1:]))
    return {
        "vus_pr": float(vus_pr),
        "vus_roc": float(vus_roc),
        "range_auc_pr": r_auc_pr,
        "range_auc_roc": r_auc_roc,
    }


def best_affiliation_f1(labels: np.ndarray, scores: np.ndarray, n_thresholds: int) -> float:
    """Largest affiliation F1 over thresholds at quantiles 0.5 .. 0.999 of the scores."""
    metric = AffiliationbasedFScore()
    thresholds = np.unique(np.quantile(scores, np.linspace(0.5, 0.999, n_thresholds)))
    return max(float(metric.compute(labels, (scores > t).astype(int))) for t in thresholds)


def pointwise_metrics(
    labels: np.ndarray, scores: np.ndarray, buffer: int, n_thresholds: int = 25
) -> dict[str, Any]:
    """Every threshold-free metric of step scores (N,) against step labels (N,), plus prevalence."""
    labels = np.asarray(labels, dtype=int)
    scores = np.asarray(scores, dtype=float)
    if labels.shape != scores.shape:
        raise ValueError(f"labels {labels.shape} and scores {scores.shape} differ in shape")
    if not np.isfinite(scores).all():
        raise ValueError("scores must be finite at every scored step")
    out: dict[str, Any] = {
        "scorable": scorable(labels),
        "n_steps": int(labels.size),
        "n_anomalous_steps": int(labels.sum()),
        "prevalence": float(labels.mean()) if labels.size else None,
        "vus_window": int(buffer),
    }
    if not out["scorable"]:
        return {**out, **dict.fromkeys(METRIC_NAMES)}
    out.update(vus(labels, scores, buffer))
    out["point_auc_pr"] = M.auc_pr(labels, scores)
    out["point_roc_auc"] = M.roc_auc(labels, scores)
    out["affiliation_f1"] = best_affiliation_f1(labels, scores, n_thresholds)
    return out
