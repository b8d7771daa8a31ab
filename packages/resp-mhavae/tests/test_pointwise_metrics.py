"""Point-wise scores, range-aware metrics and the simple detectors."""

from __future__ import annotations

import numpy as np
import pytest
from resp_mhavae.detectors import DETECTOR_FUNCTIONS, detector_scores
from resp_mhavae.pointwise import (
    fill_nearest,
    resolve_stride,
    sliding_windows,
    spread,
    window_starts,
)
from resp_mhavae.range_metrics import pointwise_metrics, vus
from sklearn.metrics import average_precision_score, roc_auc_score


def test_stride_divides_the_window_and_windows_slide_by_it() -> None:
    assert resolve_stride(96, None) == 12
    assert resolve_stride(100, None) == 10  # 12 lowered to a divisor of 100
    assert resolve_stride(47, None) == 1  # prime
    z = np.arange(20.0)[:, None]  # (N, C=1)
    starts = window_starts(20, 8, 4)
    assert starts.tolist() == [0, 4, 8, 12]
    w = sliding_windows(z, starts, 8)
    assert w.shape == (4, 1, 8) and w[2, 0].tolist() == list(range(8, 16))


def test_spread_gives_each_step_the_mean_or_max_of_its_windows() -> None:
    starts = np.array([0, 2, 4])
    s = np.array([1.0, 3.0, 8.0])
    # steps 0-1: window 0; 2-3: windows 0, 1; 4-5: windows 1, 2; 6-7: window 2; 8-9: none (nearest)
    mean = spread(s, starts, 4, 10, "mean")
    assert mean.tolist() == [1, 1, 2, 2, 5.5, 5.5, 8, 8, 8, 8]
    assert spread(s, starts, 4, 10, "max").tolist() == [1, 1, 3, 3, 8, 8, 8, 8, 8, 8]
    # a window without a score (no LSTM history yet) does not count
    assert spread(np.array([np.nan, 3.0, 8.0]), starts, 4, 8, "mean").tolist()[:3] == [3, 3, 3]
    assert fill_nearest(np.array([np.nan, 1.0, np.nan, np.nan, 4.0])).tolist() == [1, 1, 1, 4, 4]


def test_point_metrics_equal_scikit_learn_and_vus_behaves_at_its_ends() -> None:
    rng = np.random.default_rng(0)
    y = np.zeros(1500, int)
    y[400:450] = 1
    y[1000:1030] = 1
    noise = rng.random(1500)
    m = pointwise_metrics(y, noise, buffer=20)
    assert m["scorable"]
    assert m["point_auc_pr"] == pytest.approx(average_precision_score(y, noise))
    assert m["point_roc_auc"] == pytest.approx(roc_auc_score(y, noise))
    # random scores: VUS-PR near the prevalence, VUS-ROC near 0.5
    assert abs(m["vus_pr"] - y.mean()) < 0.05 and abs(m["vus_roc"] - 0.5) < 0.1
    perfect = pointwise_metrics(y, y + 0.01 * noise, buffer=20)
    for key in ("vus_pr", "vus_roc", "range_auc_pr", "range_auc_roc", "point_auc_pr"):
        assert perfect[key] > 0.97, key
    assert perfect["affiliation_f1"] > 0.97
    # with a zero buffer the volume is a single slice: VUS = the range AUCs
    r0 = vus(y, noise, 0)
    assert r0["vus_pr"] == pytest.approx(r0["range_auc_pr"])
    assert r0["vus_roc"] == pytest.approx(r0["range_auc_roc"])
    # a hit next to (not on) an event counts within the buffer only
    near = np.zeros(1500)
    near[455:460] = 1.0  # 5 steps after the first event
    assert vus(y, near, 20)["range_auc_pr"] > vus(y, near, 0)["range_auc_pr"]


def test_a_test_part_without_anomalies_is_not_scorable_never_zero() -> None:
    m = pointwise_metrics(np.zeros(300, int), np.random.default_rng(1).random(300), buffer=10)
    assert m["scorable"] is False
    assert m["vus_pr"] is None and m["point_auc_pr"] is None and m["affiliation_f1"] is None


def _series(n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n)
    return (np.sin(2 * np.pi * t / 48) + 0.1 * rng.standard_normal(n))[:, None]  # (N, 1)


@pytest.mark.parametrize("name", sorted(DETECTOR_FUNCTIONS))
def test_detectors_find_planted_anomalies_and_ignore_clean_data(name: str) -> None:
    rng = np.random.default_rng(0)
    L, stride = 48, 6
    train_z = _series(4800, rng)
    train = sliding_windows(train_z, window_starts(4800, L, stride), L)
    test_z = _series(2400, rng)
    test_z[1000:1010, 0] += 4.0  # a spike burst
    test_z[1800:1850, 0] = -test_z[1800:1850, 0] * 0.2 + 1.5  # a flattened, shifted cycle
    starts = window_starts(2400, L, stride)
    s = detector_scores(name, train, sliding_windows(test_z, starts, L), seed=0)
    steps = spread(s, starts, L, 2400)
    y = np.zeros(2400, int)
    y[1000:1010] = 1
    y[1800:1850] = 1
    m = pointwise_metrics(y, steps, buffer=L)
    assert m["vus_roc"] > 0.8, m
    assert m["vus_pr"] > 3 * y.mean(), m
    # clean data: scores of unseen normal windows stay in the range of the training windows' scores
    clean_z = _series(2400, rng)
    clean = detector_scores(name, train, sliding_windows(clean_z, starts, L), seed=0)
    own = detector_scores(name, train, train, seed=0)
    if name == "nearest_neighbour":  # a training window is its own neighbour (distance 0)
        own = detector_scores(name, train[::2], train[1::2], seed=0)
    assert np.mean(clean > np.quantile(own, 0.99)) < 0.1
