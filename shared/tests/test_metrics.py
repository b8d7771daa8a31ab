"""Metrics equal scikit-learn's or a hand computation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sigzoo_shared import metrics as M
from sklearn import metrics as skm


@pytest.fixture
def scored() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(60, int), np.ones(40, int)]
    s = np.r_[rng.normal(0, 1, 60), rng.normal(1.2, 1, 40)]
    return y, s


def test_auc_and_pauc_match_sklearn(scored) -> None:
    y, s = scored
    assert M.roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s))
    assert M.pauc(y, s, 0.1) == pytest.approx(skm.roc_auc_score(y, s, max_fpr=0.1))
    assert M.auc_pr(y, s) == pytest.approx(skm.average_precision_score(y, s))


def test_pauc_is_mcclish_standardised_by_hand(scored) -> None:
    """pAUC = 0.5 * (1 + (A - min) / (max - min)) with A the raw area over FPR in [0, 0.1]."""
    y, s = scored
    fpr, tpr, _ = skm.roc_curve(y, s)
    stop = np.searchsorted(fpr, 0.1, "right")
    x = np.r_[fpr[:stop], 0.1]
    yy = np.r_[tpr[:stop], np.interp(0.1, fpr[stop - 1 : stop + 1], tpr[stop - 1 : stop + 1])]
    raw = np.trapezoid(yy, x) if hasattr(np, "trapezoid") else np.trapz(yy, x)
    lo, hi = 0.1**2 / 2, 0.1
    assert M.pauc(y, s, 0.1) == pytest.approx(0.5 * (1 + (raw - lo) / (hi - lo)))


def test_chance_level_is_one_half() -> None:
    y = np.r_[np.zeros(2000), np.ones(2000)]
    s = np.random.default_rng(1).random(4000)
    assert M.roc_auc(y, s) == pytest.approx(0.5, abs=0.03)
    assert M.pauc(y, s) == pytest.approx(0.5, abs=0.03)


def test_single_class_and_nan_are_errors() -> None:
    with pytest.raises(ValueError, match="both classes"):
        M.roc_auc([0, 0, 0], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="non-finite"):
        M.roc_auc([0, 1], [0.1, float("nan")])


def test_thresholds() -> None:
    s = np.arange(101, dtype=float)
    assert M.percentile_threshold(s, 80) == pytest.approx(80.0)
    g = stats.gamma.rvs(2.0, scale=3.0, size=5000, random_state=0)
    shape, loc, scale = stats.gamma.fit(g)
    fitted = stats.gamma.ppf(0.9, shape, loc, scale)
    assert M.gamma_threshold(g, 0.9) == pytest.approx(fitted, rel=1e-3)
    assert M.gamma_threshold(g, 0.9) == pytest.approx(np.quantile(g, 0.9), rel=0.05)


def test_gamma_threshold_does_not_depend_on_the_scores_scale() -> None:
    """Scores of order 1e-3 (reconstruction errors) get the same threshold, scaled: a direct scipy
    fit of these 200 scores at that scale returns a quantile ~100x above every score."""
    g = np.random.default_rng(1).gamma(3.0, 1.0, 200) + 0.5
    threshold = M.gamma_threshold(g, 0.9)
    assert threshold == pytest.approx(np.quantile(g, 0.9), rel=0.1)
    assert M.gamma_threshold(g * 1e-3, 0.9) == pytest.approx(threshold * 1e-3, rel=1e-4)


def test_precision_recall_fbeta_by_hand() -> None:
    y = [1, 1, 1, 0, 0, 0, 0, 1]
    p = [1, 1, 0, 1, 0, 0, 0, 0]  # tp 2, fp 1, fn 2
    r = M.precision_recall_fbeta(y, p, beta=2)
    assert r["precision"] == pytest.approx(2 / 3) and r["recall"] == pytest.approx(0.5)
    assert r["fbeta"] == pytest.approx(5 * (2 / 3) * 0.5 / (4 * (2 / 3) + 0.5))
    assert r["fbeta"] == pytest.approx(skm.fbeta_score(y, p, beta=2))


def test_event_wise_and_point_adjust() -> None:
    y = np.array([0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0])  # two true events
    p = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0])  # hits event 1, one false range
    assert M.label_ranges(y) == [(1, 4), (6, 8)]
    ev = M.event_wise_fbeta(y, p, beta=1)
    assert ev["recall"] == 0.5 and ev["precision"] == 0.5 and ev["fbeta"] == pytest.approx(0.5)
    assert M.point_adjust(y, p).tolist() == [0, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0]


def test_forecast_errors_by_hand() -> None:
    x = np.array([1.0, -2.0, 3.0, 0.0])
    xh = np.array([1.5, -2.0, 2.0, 0.5])
    assert M.mae(x, xh) == pytest.approx((0.5 + 0 + 1 + 0.5) / 4)
    assert M.rmse(x, xh) == pytest.approx(np.sqrt((0.25 + 0 + 1 + 0.25) / 4))
    assert M.prd(x, xh) == pytest.approx(100 * np.sqrt(1.5 / 14))
    assert M.prd(x, xh, mean_removed=True) == pytest.approx(
        100 * np.sqrt(1.5 / np.sum((x - 0.5) ** 2))
    )
    assert M.snr_db(x, xh) == pytest.approx(10 * np.log10(14 / 1.5))


def test_match_events_one_to_one_within_tolerance() -> None:
    true = [100, 200, 300]
    pred = [103, 104, 196, 400]  # two predictions near 100: only one may match
    m = M.match_events(true, pred, tolerance=5)
    assert (m.tp, m.fp, m.fn) == (2, 2, 1)
    assert m.pairs == [(0, 0), (1, 2)]  # 103 beats 104 (smaller error)
    assert sorted(m.onset_errors.tolist()) == [-4.0, 3.0]
    assert m.precision == 0.5 and m.recall == pytest.approx(2 / 3)


def test_matching_maximises_pairs_over_greedy_nearest() -> None:
    # 12 is as near to 14 as to 10; pairing it with 14 would leave 10 unmatched. Both must pair.
    m = M.match_events([10, 14], [12, 16], tolerance=2)
    assert m.tp == 2 and m.pairs == [(0, 0), (1, 1)]


def test_match_by_type_and_confusion() -> None:
    true_t, true_k = [100, 200, 300], [0, 1, 2]
    pred_t, pred_k = [101, 199, 302, 500], [0, 2, 2, 1]
    r = M.match_events_by_type(true_t, true_k, pred_t, pred_k, tolerance=5)
    assert r["overall"]["tp"] == 2 and r["overall"]["fp"] == 2 and r["overall"]["fn"] == 1
    assert r["per_type"][1]["recall"] == 0.0
    cm = M.event_confusion(true_t, true_k, pred_t, pred_k, tolerance=5, n_types=3)
    assert cm[0, 0] == 1 and cm[1, 2] == 1 and cm[2, 2] == 1  # type 1 predicted as 2
    assert cm[3, 1] == 1  # false alarm of type 1
    assert cm.sum() == 4


def test_onset_error_stats() -> None:
    s = M.onset_error_stats([-2, 1, 3, -1])
    assert s["onset_abs_median"] == pytest.approx(1.5) and s["onset_mean"] == pytest.approx(0.25)
    assert np.isnan(M.onset_error_stats([])["onset_abs_median"])
