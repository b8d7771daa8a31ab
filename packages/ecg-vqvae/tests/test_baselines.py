"""Naive forecasters: persistence and repeat-last-beat; R peaks found where the annotations put them."""

from pathlib import Path

import numpy as np
import pytest
import wfdb
from ecg_vqvae.baselines import (
    analogue,
    analogue_ends,
    analogue_ensemble,
    analogue_futures,
    context_mean,
    context_median,
    detect_r_peaks,
    persistence,
    recent_median,
    repeat_last_beat,
    seasonal,
)
from ecg_vqvae.data import read_record
from sigzoo_shared import DataError


def test_persistence_holds_the_last_value() -> None:
    ctx = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, -2.0]])
    assert np.array_equal(persistence(ctx, 4), [[3.0] * 4, [-2.0] * 4])


def test_repeat_last_beat_is_exact_on_a_periodic_signal() -> None:
    fs, period = 360, 288  # 75 bpm
    t = np.arange(4 * 1080)
    beat = np.exp(-0.5 * ((t % period) - 100) ** 2 / 4.0**2)  # a narrow R wave every 0.8 s
    x = np.stack([beat, 0.5 * beat])
    pred = repeat_last_beat(x[:, :1080], 1080, fs)
    assert np.allclose(pred, x[:, 1080:2160], atol=1e-9)


def test_r_peaks_match_the_annotations(ecg_dir: Path) -> None:
    x = read_record(ecg_dir, "s004", 360)
    found = detect_r_peaks(x[:, 0], 360)
    true = wfdb.rdann(str(ecg_dir / "s004"), "atr").sample
    hits = sum(np.min(np.abs(found - r)) <= 18 for r in true)  # within 50 ms
    assert hits / len(true) > 0.95
    assert len(found) <= 1.05 * len(true)


def test_context_median_is_a_flat_line_at_the_median() -> None:
    ctx = np.array([[0.0, 1.0, 5.0], [2.0, 2.0, -1.0]])
    assert np.array_equal(context_median(ctx, 2), [[1.0, 1.0], [2.0, 2.0]])


def test_context_mean_is_a_flat_line_at_the_mean() -> None:
    ctx = np.array([[0.0, 1.0, 5.0], [2.0, 2.0, -1.0]])
    assert np.allclose(context_mean(ctx, 2), [[2.0, 2.0], [1.0, 1.0]])


def test_seasonal_averages_beats_aligned_at_the_r_peak() -> None:
    fs, period = 360, 288
    t = np.arange(2 * 1080)
    beat = np.exp(-0.5 * ((t % period) - 100) ** 2 / 4.0**2)
    x = np.stack([beat, 0.5 * beat])
    assert np.allclose(seasonal(x[:, :1080], 1080, fs), x[:, 1080:], atol=1e-6)
    # beat-to-beat noise is averaged out: closer to the clean future than repeat-last-beat
    noisy = x[:, :1080] + 0.05 * np.random.default_rng(0).normal(size=(2, 1080))
    err_s = np.abs(seasonal(noisy, 1080, fs) - x[:, 1080:]).mean()
    err_r = np.abs(repeat_last_beat(noisy, 1080, fs) - x[:, 1080:]).mean()
    assert err_s < 0.8 * err_r


def test_recent_median_is_flat_at_the_median_of_the_last_half_second() -> None:
    fs = 10.0  # 0.5 s = the last 5 samples
    ctx = np.array(
        [[9.0, 9.0, 9.0, 1.0, 2.0, 7.0, 3.0, 4.0], [0.0, 0.0, 0.0, 5.0, 5.0, 5.0, 5.0, -1.0]]
    )
    assert np.allclose(recent_median(ctx, 3, fs), [[3.0] * 3, [5.0] * 3])


def _rhythm(n: int, fs: int = 360) -> np.ndarray:
    """(2, n): beats of two shapes in a 5-beat pattern (a recurring ectopic beat with its own coupling
    interval) that repeats every 4.1 s, longer than a 3 s window shows, over a small slow baseline
    wave (whose phase the analogues do not share: they are chosen by shape)."""
    rr = [0.8, 0.8, 0.8, 0.5, 1.2]  # s: the fourth beat early and tall, then a compensatory pause
    peaks = np.cumsum(np.tile(rr, n // int(sum(rr) * fs) + 2)) * fs
    t = np.arange(n)
    x = np.zeros(n)
    for i, p in enumerate(peaks[peaks < n + fs]):
        width, height = (6.0, 2.0) if i % 5 == 3 else (3.0, 1.0)
        x += height * np.exp(-0.5 * ((t - p) / width) ** 2)
    return np.stack([x, -0.5 * x]) + 0.05 * np.sin(2 * np.pi * t / (13.3 * fs))


def test_analogues_continue_a_pattern_longer_than_the_window() -> None:
    fs, horizon = 360, 1080
    n = int(round((29 * 4.1 + 2.9 + 0.2) * fs))  # 0.2 s after an early tall beat
    x = _rhythm(n + horizon)
    past, truth = x[:, :n], x[:, n:]
    pred = analogue(past, horizon, fs, 1080)
    rlb = repeat_last_beat(past[:, -1080:], horizon, fs)  # repeats the short coupling interval
    flat = recent_median(past[:, -1080:], horizon, fs)
    mae = {k: np.abs(v - truth).mean() for k, v in {"ana": pred, "rlb": rlb, "flat": flat}.items()}
    assert mae["ana"] < 0.5 * min(mae["rlb"], mae["flat"])
    # the compensatory pause is kept: the next beat comes 1.0 s after the origin, not 0.3 s
    first = int(np.argmax(pred[0, : int(1.4 * fs)]))
    assert abs(first - int(np.argmax(truth[0, : int(1.4 * fs)]))) <= 3
    assert abs(first - 1.0 * fs) <= 3


def test_analogues_are_moved_to_the_current_level_and_kept_apart() -> None:
    fs, n, horizon = 360, 60 * 360, 1080
    x = _rhythm(n)
    shifted = x.copy()
    shifted[:, n - 180 :] += 1.0  # the last 0.5 s sits 1 mV higher than any analogue's
    futures = analogue_futures(shifted, horizon, fs)
    plain = analogue_futures(x, horizon, fs)
    assert futures.shape == (25, 2, horizon)
    np.testing.assert_allclose(np.median(futures, 0), np.median(plain, 0) + 1.0, atol=0.05)
    ends = analogue_ends(x, horizon, fs)  # one match per place, each with 3 s of known future
    gaps = np.abs(ends[:, None] - ends[None, :])[np.triu_indices(len(ends), 1)]
    assert gaps.min() >= 0.2 * fs and ends.max() <= n - horizon


def test_too_little_history_falls_back_to_repeat_last_beat() -> None:
    fs, horizon = 360, 1080
    x = _rhythm(3 * 360)  # one window: no stretch has 3 s of known future
    assert len(analogue_futures(x, horizon, fs)) == 0
    ens = analogue_ensemble(x, horizon, fs, 1080)
    assert ens.shape == (1, 2, horizon)
    np.testing.assert_array_equal(ens[0], repeat_last_beat(x, horizon, fs))


def test_analogues_refuse_a_signal_with_gaps_or_the_wrong_shape() -> None:
    x = _rhythm(60 * 360)
    x[1, 7200] = np.nan
    with pytest.raises(DataError, match=r"1 non-finite samples \(first at 20.00 s\)"):
        analogue_futures(x, 1080, 360)
    with pytest.raises(DataError, match=r"\(leads, samples\)"):
        analogue_futures(x[0], 1080, 360)
