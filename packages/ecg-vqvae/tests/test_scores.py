"""Forecast scores: CRPS against a hand computation, timing and beat-aligned errors on planted beats."""

import numpy as np
from ecg_vqvae.scores import (
    ErrorSums,
    beat_aligned_error,
    crps_sum,
    score_examples,
    timing_error,
)


def test_crps_of_an_ensemble_matches_the_energy_form_by_hand() -> None:
    # members 1, -1, 2 against 0: E|X - y| = 4/3, E|X - X'| = (0+2+1+2+0+3+1+3+0)/9 = 4/3
    assert np.isclose(crps_sum(np.array([0.0]), np.array([[1.0], [-1.0], [2.0]])), 4 / 3 - 2 / 3)
    rng = np.random.default_rng(0)
    y, x = rng.normal(size=(3, 5)), rng.normal(size=(6, 3, 5))
    hand = np.abs(x - y).mean(0) - 0.5 * np.abs(x[:, None] - x[None]).mean((0, 1))
    assert np.isclose(crps_sum(y, x), hand.sum())


def test_crps_of_identical_members_is_the_mae() -> None:
    rng = np.random.default_rng(1)
    y, p = rng.normal(size=(4, 2, 100)), rng.normal(size=(4, 2, 100))
    sums = score_examples(y, p, np.stack([p, p, p]), None, 100, 360, 0.5)
    assert np.isclose(sums.crps / sums.crps_points, np.abs(y - p).mean())
    det = score_examples(y, p, None, None, 60, 360, 0.5).metrics()
    assert np.isclose(det["crps_mv"], det["mae_mv"])
    assert np.isclose(det["mae_mv"], np.abs(y - p)[..., :60].mean())


def _spikes(positions: list[int], n: int = 1080) -> np.ndarray:
    t = np.arange(n)
    lead = sum(np.exp(-0.5 * (t - p) ** 2 / 4.0**2) for p in positions)
    return np.stack([lead, 0.5 * lead])


def test_timing_error_is_zero_on_time_and_the_cap_for_a_flat_line() -> None:
    fs, beats = 360, np.array([100, 388, 676, 964])
    s, n = timing_error(beats, beats, 1080, fs, 0.5)
    assert s == 0 and n == 8
    s, n = timing_error(np.zeros(0, int), beats, 360, fs, 0.5)  # a flat line has no peaks
    assert n == 1 and np.isclose(s, 0.5)  # only the beat at 100 lies within the first second
    s, n = timing_error(beats + 36, beats, 1080, fs, 0.5)  # every peak 100 ms late
    assert np.isclose(s / n, 0.1)


def test_beat_aligned_error_ignores_timing_but_not_shape() -> None:
    fs, beats = 360, np.array([100, 388, 676])
    truth = _spikes(list(beats))
    late = _spikes(list(beats + 20))
    s, n = beat_aligned_error(truth, late, beats + 20, beats, 1080, fs, 0.5)
    assert s / n < 1e-6  # the right shape, late: aligned away
    flat = np.zeros_like(truth)
    s, n = beat_aligned_error(truth, flat, np.zeros(0, int), beats, 1080, fs, 0.5)
    region = np.concatenate([truth[:, b - 36 : b + 54] for b in beats], axis=1)
    assert np.isclose(s / n, np.abs(region).mean())


def test_error_sums_pool_exactly() -> None:
    rng = np.random.default_rng(2)
    y, p = rng.normal(size=(6, 2, 50)), rng.normal(size=(6, 2, 50))
    total = ErrorSums()
    total.add(score_examples(y[:2], p[:2], None, None, 50, 360, 0.5))
    total.add(score_examples(y[2:], p[2:], None, None, 50, 360, 0.5))
    m = total.metrics()
    assert np.isclose(m["rmse_mv"], np.sqrt(((y - p) ** 2).mean()))
    assert np.isclose(m["prd_pct"], 100 * np.sqrt(((y - p) ** 2).sum() / (y**2).sum()))
    assert m["n_examples"] == 6 and m["timing_error_s"] is None
