"""Metrics shared by the packages: ranking (ROC-AUC, DCASE pAUC, AUC-PR), decisions (thresholds,
precision/recall/F-beta, point-wise and event-wise), forecasting (MAE, RMSE, PRD, SNR) and event matching
with a timing tolerance.

scikit-learn and scipy do the work wherever they can; what is written here is what they lack (range-based
scores, one-to-one event matching). The DCASE pAUC is exactly the official DCASE 2020 evaluator's:
`roc_auc_score(y, s, max_fpr=0.1)`, which sklearn standardises with the McClish correction, so chance is
0.5 for both AUC and pAUC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats
from scipy.optimize import linear_sum_assignment
from sklearn import metrics as skm

# ------------------------------------------------------------------------------------------- ranking


def _binary(y_true: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).astype(int).ravel()
    s = np.asarray(scores, dtype=float).ravel()
    if y.shape != s.shape:
        raise ValueError(f"labels ({y.shape[0]}) and scores ({s.shape[0]}) differ in length")
    if not np.isfinite(s).all():
        raise ValueError(f"scores contain {int((~np.isfinite(s)).sum())} non-finite values")
    if len(np.unique(y)) < 2:
        raise ValueError(
            f"ROC needs both classes; got only label {int(y[0]) if y.size else 'none'}"
        )
    return y, s


def roc_auc(y_true: ArrayLike, scores: ArrayLike) -> float:
    """Area under the ROC curve (anomaly = 1, higher score = more anomalous)."""
    y, s = _binary(y_true, scores)
    return float(skm.roc_auc_score(y, s))


def pauc(y_true: ArrayLike, scores: ArrayLike, max_fpr: float = 0.1) -> float:
    """DCASE partial AUC: sklearn's McClish-standardised AUC over FPR in [0, max_fpr] (chance 0.5)."""
    y, s = _binary(y_true, scores)
    return float(skm.roc_auc_score(y, s, max_fpr=max_fpr))


def auc_pr(y_true: ArrayLike, scores: ArrayLike) -> float:
    """Area under the precision-recall curve as average precision (chance = prevalence)."""
    y, s = _binary(y_true, scores)
    return float(skm.average_precision_score(y, s))


# ----------------------------------------------------------------------------------------- decisions


def percentile_threshold(scores: ArrayLike, percentile: float) -> float:
    """The `percentile` (0-100) of scores fitted on normal (validation) data."""
    s = np.asarray(scores, dtype=float).ravel()
    if s.size == 0:
        raise ValueError("cannot fit a threshold on zero scores")
    if not 0 <= percentile <= 100:
        raise ValueError(f"percentile must be in [0, 100], got {percentile}")
    return float(np.percentile(s, percentile))


def gamma_threshold(scores: ArrayLike, quantile: float = 0.9) -> float:
    """Quantile of a gamma distribution fitted to normal scores (the DCASE 2021-2023 baselines' decision).

    The fit runs on the scores divided by their mean and the quantile is scaled back: the gamma family
    is closed under scaling, so this is the same maximum-likelihood fit, but scipy's optimiser starts
    from values of order 1 and does not wander off for scores of order 1e-3 (reconstruction errors),
    where a direct fit can return a quantile far outside the scores.
    """
    s = np.asarray(scores, dtype=float).ravel()
    if s.size < 2:
        raise ValueError(f"a gamma fit needs at least 2 scores, got {s.size}")
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be in (0, 1), got {quantile}")
    unit = float(np.abs(s).mean()) or 1.0
    shape, loc, scale = stats.gamma.fit(s / unit)
    return float(stats.gamma.ppf(quantile, shape, loc=loc, scale=scale)) * unit


def fbeta_from_pr(precision: float, recall: float, beta: float = 1.0) -> float:
    b2 = beta * beta
    denom = b2 * precision + recall
    return float((1 + b2) * precision * recall / denom) if denom > 0 else 0.0


def precision_recall_fbeta(
    y_true: ArrayLike, y_pred: ArrayLike, beta: float = 1.0
) -> dict[str, float]:
    """Point-wise precision, recall and F-beta of binary decisions (0 where undefined)."""
    y = np.asarray(y_true).astype(int).ravel()
    p = np.asarray(y_pred).astype(int).ravel()
    precision, recall, fbeta, _ = skm.precision_recall_fscore_support(
        y, p, beta=beta, average="binary", zero_division=0
    )
    return {"precision": float(precision), "recall": float(recall), "fbeta": float(fbeta)}


def label_ranges(labels: ArrayLike) -> list[tuple[int, int]]:
    """Contiguous runs of 1 as half-open [start, end) index ranges."""
    x = np.asarray(labels).astype(int).ravel()
    edges = np.diff(np.concatenate([[0], x, [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def event_wise_fbeta(y_true: ArrayLike, y_pred: ArrayLike, beta: float = 1.0) -> dict[str, float]:
    """Range-based scores: an event counts as detected when any of its points is flagged.

    recall = detected true events / true events (the 'event detection rate');
    precision = predicted ranges overlapping some true event / predicted ranges.
    """
    y = np.asarray(y_true).astype(int).ravel()
    p = np.asarray(y_pred).astype(int).ravel()
    true_r, pred_r = label_ranges(y), label_ranges(p)
    hit = [bool(p[s:e].any()) for s, e in true_r]
    real = [bool(y[s:e].any()) for s, e in pred_r]
    recall = float(np.mean(hit)) if hit else 0.0
    precision = float(np.mean(real)) if real else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "fbeta": fbeta_from_pr(precision, recall, beta),
        "n_true_events": len(true_r),
        "n_pred_events": len(pred_r),
    }


def point_adjust(y_true: ArrayLike, y_pred: ArrayLike) -> np.ndarray:
    """The 'point-adjusted' protocol: a true range counts as fully flagged if any point of it is.

    It inflates scores (a single hit marks a whole event); report figures computed on it as such.
    """
    y = np.asarray(y_true).astype(int).ravel()
    adjusted = np.asarray(y_pred).astype(int).ravel().copy()
    for s, e in label_ranges(y):
        if adjusted[s:e].any():
            adjusted[s:e] = 1
    return adjusted


# ---------------------------------------------------------------------------------------- forecasting


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    if t.shape != p.shape:
        raise ValueError(f"shapes differ: {t.shape} vs {p.shape}")
    return t, p


def mae(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    t, p = _pair(y_true, y_pred)
    return float(skm.mean_absolute_error(t.ravel(), p.ravel()))


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(skm.mean_squared_error(t.ravel(), p.ravel())))


def prd(y_true: ArrayLike, y_pred: ArrayLike, mean_removed: bool = False) -> float:
    """Percent root-mean-square difference, 100 * ||x - x_hat|| / ||x|| (ECG compression literature).

    `mean_removed=True` gives PRDN (the reference's mean subtracted in the denominator), which does not
    reward a large DC offset.
    """
    t, p = _pair(y_true, y_pred)
    ref = t - t.mean() if mean_removed else t
    denom = float(np.sum(ref**2))
    if denom == 0:
        raise ValueError("PRD undefined for an all-zero reference signal")
    return float(100.0 * np.sqrt(np.sum((t - p) ** 2) / denom))


def snr_db(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Signal-to-noise ratio of a reconstruction in dB: 10 log10(sum x^2 / sum (x - x_hat)^2)."""
    t, p = _pair(y_true, y_pred)
    noise = float(np.sum((t - p) ** 2))
    return float("inf") if noise == 0 else float(10 * np.log10(np.sum(t**2) / noise))


# ------------------------------------------------------------------------------------- event matching


@dataclass
class EventMatch:
    """One-to-one matching of predicted to true event onsets within a tolerance.

    `onset_errors` are predicted minus true onsets of matched pairs, in the unit of the inputs.
    """

    tp: int
    fp: int
    fn: int
    pairs: list[tuple[int, int]] = field(default_factory=list)  # (true index, predicted index)
    onset_errors: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        return fbeta_from_pr(self.precision, self.recall, 1.0)

    def summary(self) -> dict[str, Any]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            **onset_error_stats(self.onset_errors),
        }


def match_events(true_onsets: ArrayLike, pred_onsets: ArrayLike, tolerance: float) -> EventMatch:
    """Pair predictions with true events, each used at most once, |pred - true| <= tolerance.

    Maximises the number of pairs and, among maximal matchings, minimises the total absolute onset error
    (Hungarian algorithm on each cluster of mutually reachable events, so long recordings stay cheap).
    """
    t = np.asarray(true_onsets, dtype=float).ravel()
    p = np.asarray(pred_onsets, dtype=float).ravel()
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    pairs: list[tuple[int, int]] = []
    for ti, pi in _clusters(t, p, tolerance):
        cost = np.abs(t[ti][:, None] - p[pi][None, :])
        feasible = cost <= tolerance
        if not feasible.any():
            continue
        big = (tolerance + 1.0) * (
            len(ti) + len(pi) + 1
        )  # any extra pair outweighs all error savings
        rows, cols = linear_sum_assignment(np.where(feasible, cost - big, 0.0))
        pairs += [(int(ti[r]), int(pi[c])) for r, c in zip(rows, cols) if feasible[r, c]]
    pairs.sort()
    errors = np.array([p[j] - t[i] for i, j in pairs], dtype=float)
    return EventMatch(
        tp=len(pairs),
        fp=len(p) - len(pairs),
        fn=len(t) - len(pairs),
        pairs=pairs,
        onset_errors=errors,
    )


def _clusters(t: np.ndarray, p: np.ndarray, tol: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split events into groups no pair across which can match (sorted sweep with gap > tol)."""
    if t.size == 0 or p.size == 0:
        return []
    times = np.concatenate([t, p])
    kind = np.concatenate([np.zeros(t.size, int), np.ones(p.size, int)])
    index = np.concatenate([np.arange(t.size), np.arange(p.size)])
    order = np.argsort(times, kind="stable")
    breaks = np.flatnonzero(np.diff(times[order]) > tol) + 1
    out = []
    for group in np.split(order, breaks):
        ti = index[group][kind[group] == 0]
        pi = index[group][kind[group] == 1]
        if ti.size and pi.size:
            out.append((ti, pi))
    return out


def onset_error_stats(errors: ArrayLike) -> dict[str, float]:
    """Median and 95th percentile of |error|, mean and std of the signed error (NaN when empty)."""
    e = np.asarray(errors, dtype=float).ravel()
    if e.size == 0:
        nan = float("nan")
        return {"onset_abs_median": nan, "onset_abs_p95": nan, "onset_mean": nan, "onset_std": nan}
    a = np.abs(e)
    return {
        "onset_abs_median": float(np.median(a)),
        "onset_abs_p95": float(np.percentile(a, 95)),
        "onset_mean": float(e.mean()),
        "onset_std": float(e.std()),
    }


def match_events_by_type(
    true_onsets: ArrayLike,
    true_types: ArrayLike,
    pred_onsets: ArrayLike,
    pred_types: ArrayLike,
    tolerance: float,
    types: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Per-type matching plus micro-averaged totals: {'per_type': {type: summary}, 'overall': summary}."""
    t, tt = np.asarray(true_onsets, float).ravel(), np.asarray(true_types).ravel()
    p, pt = np.asarray(pred_onsets, float).ravel(), np.asarray(pred_types).ravel()
    if t.shape != tt.shape or p.shape != pt.shape:
        raise ValueError("onsets and types must have the same length")
    all_types = sorted(set(tt.tolist()) | set(pt.tolist())) if types is None else list(types)
    per_type: dict[Any, dict[str, Any]] = {}
    tp = fp = fn = 0
    errors = []
    for k in all_types:
        m = match_events(t[tt == k], p[pt == k], tolerance)
        per_type[k] = m.summary()
        tp, fp, fn = tp + m.tp, fp + m.fp, fn + m.fn
        errors.append(m.onset_errors)
    overall = EventMatch(tp, fp, fn, onset_errors=np.concatenate(errors) if errors else np.zeros(0))
    return {"per_type": per_type, "overall": overall.summary()}


def event_confusion(
    true_onsets: ArrayLike,
    true_types: ArrayLike,
    pred_onsets: ArrayLike,
    pred_types: ArrayLike,
    tolerance: float,
    n_types: int,
) -> np.ndarray:
    """Type confusion of events matched by time alone: (n_types + 1) x (n_types + 1) counts.

    Row = true type, column = predicted type; the last row counts predictions with no true event in
    reach (false alarms), the last column true events no prediction reached (misses).
    """
    t, tt = np.asarray(true_onsets, float).ravel(), np.asarray(true_types, int).ravel()
    p, pt = np.asarray(pred_onsets, float).ravel(), np.asarray(pred_types, int).ravel()
    m = match_events(t, p, tolerance)
    cm = np.zeros((n_types + 1, n_types + 1), dtype=int)
    matched_t, matched_p = set(), set()
    for i, j in m.pairs:
        cm[tt[i], pt[j]] += 1
        matched_t.add(i)
        matched_p.add(j)
    for i in set(range(t.size)) - matched_t:
        cm[tt[i], n_types] += 1
    for j in set(range(p.size)) - matched_p:
        cm[n_types, pt[j]] += 1
    return cm
