"""Forecast scores beyond MAE: CRPS of sampled futures, R-peak timing error, beat-aligned error.

MAE rewards a damped hedge: under uncertain beat timing the L1-optimal point forecast flattens the QRS, and
a flat line scores close to it. These scores do not:

- CRPS (Gneiting & Raftery, JASA 102(477), 2007) of K sampled futures per sample point, with the
  ensemble estimator of `scoringrules` (E|X - y| - E|X - X'| / 2). For a deterministic forecast it equals
  the MAE, so every naive forecaster's CRPS is its MAE.
- R-peak timing error: R peaks detected in the forecast (lead 1) against the beats annotated in the
  record's `.atr` file. Each annotated beat inside the horizon costs its distance to the nearest forecast
  peak, and each forecast peak inside the horizon its distance to the nearest annotated beat, capped at
  `cap_s` (a missing or spurious beat costs `cap_s`). A flat line has no peaks: every beat costs the cap.
- Beat-aligned error: MAE over the QRS region (-0.1 s .. +0.15 s) of each annotated beat in the horizon,
  after shifting the forecast so its nearest peak (within the cap) lands on the beat: the beat's shape,
  with timing scored separately above.
- For sampled forecasts, the timing error is also averaged over the K draws (`sample_timing_error_s`):
  the timing error a user meets who takes one sampled future, where the point forecast's hedge may
  have damped its peaks away.

All errors are returned as (sum, count) so records stream one at a time and pool exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from ecg_vqvae.baselines import detect_r_peaks

# A forecast peak must reach this 5-15 Hz band amplitude (mV): the ripples of a damped, nearly flat
# forecast are not beats.
MIN_PEAK_MV = 0.05
QRS_BEFORE_S, QRS_AFTER_S = 0.1, 0.15


def crps_sum(truth: np.ndarray, samples: np.ndarray) -> float:
    """Sum over points of the ensemble CRPS: truth (...), samples (K, ...) -> float (mV x points)."""
    import scoringrules  # seconds to import (numba): only scoring with samples needs it

    fct = np.moveaxis(np.asarray(samples, dtype=np.float64), 0, -1)  # (..., K)
    return float(np.sum(scoringrules.crps_ensemble(np.asarray(truth, dtype=np.float64), fct)))


def forecast_peaks(forecast: np.ndarray, fs: float) -> np.ndarray:
    """R peaks (sample indices) of a forecast (L, T), lead 1, ignoring sub-`MIN_PEAK_MV` ripples."""
    return detect_r_peaks(forecast[0], fs, min_height=MIN_PEAK_MV)


def _nearest_distance(points: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """|p - nearest target| for each p; inf where there are no targets."""
    if len(targets) == 0:
        return np.full(len(points), np.inf)
    idx = np.clip(np.searchsorted(targets, points), 1, len(targets)) - 1
    left = np.abs(points - targets[idx])
    right = np.abs(targets[np.minimum(idx + 1, len(targets) - 1)] - points)
    return np.minimum(left, right).astype(float)


def timing_error(
    peaks: np.ndarray, beats: np.ndarray, horizon: int, fs: float, cap_s: float
) -> tuple[float, int]:
    """(sum of capped distances in s, number of terms) for the beats and peaks inside [0, horizon).

    `peaks` and `beats` are sample indices relative to the forecast start, over the whole forecast (so a
    beat just past the horizon still matches a peak just inside it).
    """
    beats_in = beats[(beats >= 0) & (beats < horizon)]
    peaks_in = peaks[(peaks >= 0) & (peaks < horizon)]
    cost = np.concatenate([_nearest_distance(beats_in, peaks), _nearest_distance(peaks_in, beats)])
    cost = np.minimum(cost / fs, cap_s)
    return float(cost.sum()), int(len(cost))


def beat_aligned_error(
    truth: np.ndarray,
    forecast: np.ndarray,
    peaks: np.ndarray,
    beats: np.ndarray,
    horizon: int,
    fs: float,
    cap_s: float,
) -> tuple[float, int]:
    """(sum of |error| in mV, number of points) over the QRS regions of the beats in [0, horizon).

    truth, forecast (L, T); beats whose QRS region leaves [0, T) are skipped.
    """
    before, after = int(round(QRS_BEFORE_S * fs)), int(round(QRS_AFTER_S * fs))
    T, cap = truth.shape[-1], int(round(cap_s * fs))
    total, count = 0.0, 0
    for b in beats[(beats >= before) & (beats < horizon) & (beats + after <= T)]:
        shift = 0
        if len(peaks):
            p = peaks[np.argmin(np.abs(peaks - b))]
            if abs(p - b) <= cap and before <= p and p + after <= T:
                shift = int(p - b)
        seg_true = truth[:, b - before : b + after]
        seg_pred = forecast[:, b - before + shift : b + after + shift]
        total += float(np.abs(seg_true - seg_pred).sum())
        count += seg_true.size
    return total, count


@dataclass
class ErrorSums:
    """Running sums of one method's errors at one horizon; `metrics` turns them into means."""

    abs_err: float = 0.0
    sq_err: float = 0.0
    truth_sq: float = 0.0
    points: int = 0
    crps: float = 0.0
    crps_points: int = 0
    timing: float = 0.0
    timing_terms: int = 0
    beat: float = 0.0
    beat_points: int = 0
    sample_timing: float = 0.0
    sample_timing_terms: int = 0
    examples: int = 0

    def add(self, other: ErrorSums) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def metrics(self) -> dict[str, float | int | None]:
        def ratio(a: float, b: int) -> float | None:
            return a / b if b else None

        return {
            "n_examples": self.examples,
            "mae_mv": ratio(self.abs_err, self.points),
            "rmse_mv": float(np.sqrt(self.sq_err / self.points)) if self.points else None,
            "prd_pct": float(100 * np.sqrt(self.sq_err / self.truth_sq)) if self.truth_sq else None,
            "crps_mv": ratio(self.crps, self.crps_points),
            "timing_error_s": ratio(self.timing, self.timing_terms),
            "beat_aligned_mae_mv": ratio(self.beat, self.beat_points),
            "sample_timing_error_s": ratio(self.sample_timing, self.sample_timing_terms),
        }


def score_examples(
    truth: np.ndarray,
    point: np.ndarray,
    samples: np.ndarray | None,
    beats: list[np.ndarray] | None,
    horizon: int,
    fs: float,
    cap_s: float,
) -> ErrorSums:
    """ErrorSums of point forecasts (n, L, T) [+ samples (K, n, L, T)] against truth (n, L, T) at
    `horizon` samples; `beats[i]` are example i's annotated beats relative to its forecast start."""
    t, p = truth[..., :horizon], point[..., :horizon]
    err = t - p
    sums = ErrorSums(
        abs_err=float(np.abs(err).sum()),
        sq_err=float((err**2).sum()),
        truth_sq=float((t**2).sum()),
        points=int(err.size),
        examples=len(truth),
    )
    if samples is None:  # a deterministic forecast: CRPS is its MAE
        sums.crps, sums.crps_points = sums.abs_err, sums.points
    else:
        sums.crps, sums.crps_points = crps_sum(t, samples[..., :horizon]), int(t.size)
    if beats is not None:
        for i in range(len(truth)):
            peaks = forecast_peaks(point[i], fs)
            s, n = timing_error(peaks, beats[i], horizon, fs, cap_s)
            sums.timing, sums.timing_terms = sums.timing + s, sums.timing_terms + n
            s, n = beat_aligned_error(truth[i], point[i], peaks, beats[i], horizon, fs, cap_s)
            sums.beat, sums.beat_points = sums.beat + s, sums.beat_points + n
            for draw in samples if samples is not None else ():
                s, n = timing_error(forecast_peaks(draw[i], fs), beats[i], horizon, fs, cap_s)
                sums.sample_timing += s
                sums.sample_timing_terms += n
    return sums
