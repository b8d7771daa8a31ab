"""The official DCASE 2021-2025 figures on a case computed by hand, and the bootstrap intervals."""

from __future__ import annotations

import numpy as np
import pytest
from dcase_cae.official import (
    bootstrap_intervals,
    official_score,
    partial_auc,
    roc_auc,
    section_metrics,
    section_official_score,
)
from scipy.stats import hmean
from sklearn.metrics import roc_auc_score

# source normals 1, 4; target normals 3, 6; source anomalies 5, 2; target anomalies 7, 8
LABELS = [0, 0, 0, 0, 1, 1, 1, 1]
DOMAINS = ["source", "source", "target", "target", "source", "source", "target", "target"]
SCORES = [1.0, 4.0, 3.0, 6.0, 5.0, 2.0, 7.0, 8.0]


def test_section_figures_equal_a_hand_computation() -> None:
    m = section_metrics(LABELS, DOMAINS, SCORES)
    # AUC(source): normals {1, 4} below anomalies {5, 2, 7, 8} of both domains: 4 + 3 of 8 pairs
    assert m["AUC_source"] == pytest.approx(7 / 8)
    # AUC(target): normals {3, 6} against the same anomalies: 3 + 2 of 8 pairs
    assert m["AUC_target"] == pytest.approx(5 / 8)
    # in-domain: {1, 4} vs {5, 2}: 2 + 1 of 4; {3, 6} vs {7, 8}: 4 of 4
    assert m["AUC_source_in"] == pytest.approx(3 / 4)
    assert m["AUC_target_in"] == pytest.approx(1.0)
    assert m["AUC_all"] == pytest.approx(12 / 16)
    # pAUC over all 8 clips, FPR <= 0.1: the two top clips (8, 7) are anomalies, so TPR is 0.5 until
    # the first normal (FPR 0.25): area 0.1 * 0.5 = 0.05, McClish-standardised
    # 0.5 * (1 + (0.05 - 0.005) / (0.1 - 0.005)) = 0.7368...
    assert m["pAUC"] == pytest.approx(0.5 * (1 + 0.045 / 0.095))
    # the section's official score: harmonic mean of 0.875, 0.625 and 0.7368 = 3 / 4.1
    assert section_official_score(m) == pytest.approx(3 / 4.1)


@pytest.mark.parametrize("seed", range(6))
def test_fast_auc_and_pauc_equal_sklearn_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(8, 120))
    y = rng.permutation(np.r_[np.zeros(n // 2), np.ones(n - n // 2)]).astype(int)
    s = np.round(rng.normal(size=n) + 0.7 * y, 1)  # rounding makes ties
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    for max_fpr in (0.05, 0.1, 0.3, 1.0):
        expected = roc_auc_score(y, s, max_fpr=max_fpr) if max_fpr < 1 else roc_auc_score(y, s)
        assert partial_auc(y, s, max_fpr) == pytest.approx(expected, abs=1e-12)


def test_official_score_is_the_harmonic_mean_over_sections_floored_at_eps() -> None:
    assert official_score([0.875, 0.625, 0.7368421]) == pytest.approx(3 / 4.1)
    assert official_score([0.9, 0.6, 0.8, 0.7]) == pytest.approx(hmean([0.9, 0.6, 0.8, 0.7]))
    assert official_score([0.0, 0.5]) == pytest.approx(2 / (1 / np.finfo(float).eps + 2))


def test_the_2020_layout_figures_equal_sklearn() -> None:
    y, s = np.array(LABELS), np.array(SCORES)
    m = section_metrics(y, np.array(["source"] * 8, dtype=object), s)
    assert m["AUC_all"] == pytest.approx(roc_auc_score(y, s))
    assert m["pAUC"] == pytest.approx(roc_auc_score(y, s, max_fpr=0.1))
    assert "AUC_target" not in m and "AUC_target_in" not in m


def test_bootstrap_interval_holds_the_estimate_and_narrows_with_more_clips() -> None:
    rng = np.random.default_rng(0)

    def interval(n: int) -> tuple[float, float, float]:
        y = np.repeat([0, 1], n)
        s = rng.normal(size=2 * n) + 1.0 * y  # true AUC = Phi(1 / sqrt(2)) = 0.76
        ci = bootstrap_intervals(
            y,
            [None] * (2 * n),
            s,
            lambda a, d, x: {"AUC": float(roc_auc_score(a, x))},
            n_boot=300,
            seed=1,
        )["AUC"]
        return ci[0], float(roc_auc_score(y, s)), ci[1]

    lo, auc, hi = interval(25)
    assert lo < auc < hi and 0.15 < hi - lo < 0.45  # 25 + 25 clips: the AUC moves by about +-0.07
    lo2, auc2, hi2 = interval(400)
    assert lo2 < auc2 < hi2 and hi2 - lo2 < (hi - lo) / 2
