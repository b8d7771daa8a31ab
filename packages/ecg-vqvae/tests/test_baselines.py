"""Naive forecasters: persistence and repeat-last-beat; R peaks found where the annotations put them."""

from pathlib import Path

import numpy as np
import wfdb
from ecg_vqvae.baselines import (
    context_mean,
    context_median,
    detect_r_peaks,
    persistence,
    recent_median,
    repeat_last_beat,
    seasonal,
)
from ecg_vqvae.data import read_record


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
