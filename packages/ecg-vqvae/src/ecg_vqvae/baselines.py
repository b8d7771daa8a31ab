"""Naive forecasters every ECG forecast must beat, all scored in the same table as the model.

- Persistence: the last context sample of each lead, held for the whole horizon.
- Recent median: each lead's median over the last 0.5 s, held flat: persistence of the baseline level
  without the sample-level noise (and the half-QRS) a single last sample may carry. The flat line a
  practitioner tries after persistence, and a strong one: the baseline wanders within a window.
- Context median / context mean: each lead's context median (the L1-optimal constant) or mean (the
  L2-optimal constant), held flat.
- Seasonal: the mean of the last beats, each cut from its R peak for one mean RR interval and so aligned
  at the R peak, repeated forward from the last R peak with that period (the classic seasonal-naive
  forecast with the season re-estimated per beat).
- Repeat-last-beat: R peaks are detected in the context (lead 1, band-passed 5-15 Hz, `scipy.signal
  .find_peaks` with a 0.25 s refractory distance) and RR = r_last - r_prev. The last RR samples of the
  context are repeated forward, so the phase continues: the forecast at t >= T is x[t - k*RR] with the
  smallest k putting it inside the context (the next R peak lands at r_last + RR). With fewer than two
  peaks it falls back to the dominant period from the autocorrelation (0.3-2 s), then to persistence.

One simple method reads more than the context: the analogue forecast (the method of analogues, Lorenz
1969; k nearest neighbours in the recording's own past). The k stretches of the last `history_s`
seconds whose shape is closest to the context's last `query_s` seconds are found, the future that
followed each is shifted to the current level, and their pointwise median is the forecast. A patient's
beats and rhythm patterns (bigeminy, a recurring ectopic beat) repeat over minutes, which no 3 s window
shows; the k futures also form a free ensemble for CRPS, and the closest one's future alone is a
forecast with sharp beats. Defaults (0.25 s query, k = 25, 5 min of history) are the best of a screen
on the validation records (docs/lab/ecg-vqvae.md).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, correlate, find_peaks, sosfiltfilt
from sigzoo_shared import DataError


def persistence(context: np.ndarray, horizon: int) -> np.ndarray:
    """(L, Tc) -> (L, horizon): the last value repeated."""
    return np.repeat(context[:, -1:], horizon, axis=1)


def recent_median(context: np.ndarray, horizon: int, fs: float, span_s: float = 0.5) -> np.ndarray:
    """(L, Tc) -> (L, horizon): each lead's median over the context's last `span_s` seconds, flat."""
    tail = context[:, -max(1, int(round(span_s * fs))) :]
    return np.repeat(np.median(tail, axis=1, keepdims=True), horizon, axis=1)


def context_median(context: np.ndarray, horizon: int) -> np.ndarray:
    """(L, Tc) -> (L, horizon): each lead's context median, a flat line.

    Not a forecaster anyone wants, but the L1-optimal constant: a model that merely learns to be flat
    scores about this, so a "win" over repeat-last-beat that does not also beat this line is no win.
    """
    return np.repeat(np.median(context, axis=1, keepdims=True), horizon, axis=1)


def context_mean(context: np.ndarray, horizon: int) -> np.ndarray:
    """(L, Tc) -> (L, horizon): each lead's context mean, a flat line (the L2-optimal constant)."""
    return np.repeat(context.mean(axis=1, keepdims=True), horizon, axis=1)


def seasonal(context: np.ndarray, horizon: int, fs: float, n_beats: int = 4) -> np.ndarray:
    """(L, Tc) -> (L, horizon): the mean of the last `n_beats` beats aligned at their R peaks.

    Period P = the mean of the last `n_beats` RR intervals; the template is the mean of x[r : r + P] over
    the last complete beats r; the forecast at t >= Tc is template[(t - r_last) mod P]. An averaged
    template blurs beat-to-beat noise that repeat-last-beat copies. Falls back to repeat-last-beat with
    fewer than two R peaks.
    """
    peaks = detect_r_peaks(context[0], fs)
    n = context.shape[1]
    if len(peaks) < 2:
        return repeat_last_beat(context, horizon, fs)
    rr = np.diff(peaks)[-n_beats:]
    period = int(round(rr.mean()))
    starts = [r for r in peaks[:-1] if r + period <= n][-n_beats:]
    if period <= 0 or not starts:
        return repeat_last_beat(context, horizon, fs)
    template = np.mean([context[:, r : r + period] for r in starts], axis=0)  # (L, P)
    phase = (np.arange(n, n + horizon) - peaks[-1]) % period
    return template[:, phase]


def detect_r_peaks(lead: np.ndarray, fs: float, min_height: float = 0.0) -> np.ndarray:
    """Sample indices of R peaks in one lead (mV), robust to polarity and baseline wander.

    `min_height` (mV of 5-15 Hz band amplitude) is an absolute floor under the relative threshold.
    """
    if len(lead) < int(0.5 * fs):
        return np.zeros(0, dtype=int)
    sos = butter(2, [5.0, 15.0], btype="bandpass", fs=fs, output="sos")
    band = sosfiltfilt(sos, lead)
    energy = np.abs(band)
    height = max(0.35 * np.percentile(energy, 99.5), min_height)
    if height <= 0:
        return np.zeros(0, dtype=int)
    peaks, _ = find_peaks(energy, height=height, distance=int(0.25 * fs))
    # refine each peak to the extreme of the raw (detrended) signal within +-50 ms
    half = int(0.05 * fs)
    centred = lead - np.median(lead)
    refined = []
    for p in peaks:
        lo, hi = max(0, p - half), min(len(lead), p + half + 1)
        refined.append(lo + int(np.argmax(np.abs(centred[lo:hi]))))
    return np.unique(np.asarray(refined, dtype=int))


def dominant_period(lead: np.ndarray, fs: float) -> int | None:
    """Lag (samples) of the autocorrelation maximum between 0.3 and 2 s, or None."""
    x = lead - lead.mean()
    lo, hi = int(0.3 * fs), min(int(2.0 * fs), len(x) - 1)
    if hi <= lo or not np.any(x):
        return None
    ac = np.correlate(x, x, mode="full")[len(x) - 1 :]
    return int(lo + np.argmax(ac[lo:hi]))


def last_rr(context: np.ndarray, fs: float) -> int | None:
    """The last RR interval (samples) in the context, from lead 1's R peaks (autocorrelation fallback)."""
    peaks = detect_r_peaks(context[0], fs)
    if len(peaks) >= 2:
        return int(peaks[-1] - peaks[-2])
    return dominant_period(context[0], fs)


def context_rr(context: np.ndarray, fs: float) -> np.ndarray:
    """Every RR interval (samples) in the context, from lead 1's R peaks (may be empty)."""
    return np.diff(detect_r_peaks(context[0], fs))


def repeat_last_beat(
    context: np.ndarray, horizon: int, fs: float, rr: int | None = None
) -> np.ndarray:
    """(L, Tc) -> (L, horizon): the last RR interval of signal repeated forward in phase.

    `rr` (samples) replaces the detected last RR interval: drawing it from the context's RR intervals
    gives the timing-uncertain priors the sampled forecasts start from.
    """
    rr = last_rr(context, fs) if rr is None else rr
    n = context.shape[1]
    if rr is None or rr <= 0 or rr > n:
        return persistence(context, horizon)
    beat = context[
        :, n - rr :
    ]  # one period ending at the context's end: phase continues from there
    reps = int(np.ceil(horizon / rr))
    return np.tile(beat, (1, reps))[:, :horizon]


def analogue_ends(
    past: np.ndarray,
    horizon: int,
    fs: float,
    query_s: float = 0.25,
    k: int = 25,
    history_s: float = 300.0,
    exclusion_s: float = 0.2,
) -> np.ndarray:
    """past (L, n): the recording up to the forecast origin -> (m,) sample indices, m <= k, where the
    best analogues of its last `query_s` seconds end (their futures start), best first.

    Candidates are the query-length stretches of the last `history_s` seconds whose `horizon` samples
    of future also lie in `past`; the distance is the squared error after removing each stretch's mean
    (summed over leads), so a match is a shape, not a level. Matches closer than `exclusion_s` to a
    better one are dropped (`find_peaks`' distance rule): one per beat, not 25 shifts of the best beat.
    """
    if past.ndim != 2:
        raise DataError(f"analogue: past must be (leads, samples), got shape {past.shape}")
    q = max(2, int(round(query_s * fs)))
    n = past.shape[1]
    lo = max(0, n - int(round(history_s * fs)))
    bad = lo + np.flatnonzero(~np.isfinite(past[:, lo:]).all(axis=0))  # the searched span only
    if len(bad):  # one NaN would make every distance NaN and the choice of analogues arbitrary
        raise DataError(
            f"analogue: past has {len(bad)} non-finite samples (first at {bad[0] / fs:.2f} s); "
            "pass a finite signal (cut or interpolate the gap)"
        )
    cand = past[:, lo : n - horizon]  # (L, m + q - 1): stretches whose futures are known
    m = cand.shape[1] - q + 1
    if m < 1:
        return np.zeros(0, dtype=int)
    query = past[:, n - q :] - past[:, n - q :].mean(axis=1, keepdims=True)  # (L, q)
    dist = np.zeros(m)
    for lead, x in zip(query, cand.astype(np.float64)):
        c1 = np.concatenate([[0.0], np.cumsum(x)])
        c2 = np.concatenate([[0.0], np.cumsum(x * x)])
        s1, s2 = c1[q:] - c1[:-q], c2[q:] - c2[:-q]  # (m,) window sums
        cross = correlate(x, lead, mode="valid", method="fft")  # (m,) sum of x * (query - mean)
        dist += s2 - s1 * s1 / q - 2.0 * cross
    # local minima at least `exclusion_s` apart, best first; the ends count as candidates too
    padded = np.concatenate([[np.inf], dist, [np.inf]])
    found, _ = find_peaks(-padded, distance=max(1, int(round(exclusion_s * fs))))
    found = found - 1
    best = found[np.argsort(dist[found])[:k]]
    return lo + best + q  # each match's end = the start of its future


def analogue_futures(
    past: np.ndarray, horizon: int, fs: float, query_s: float = 0.25, **kw: float
) -> np.ndarray:
    """past (L, n) -> (m, L, horizon): the futures after `analogue_ends`, each moved by (median of the
    query's samples - median of its match's), as `recent_median` reads the level."""
    q = max(2, int(round(query_s * fs)))
    ends = analogue_ends(past, horizon, fs, query_s, **kw)
    level = np.median(past[:, -q:], axis=1, keepdims=True)  # (L, 1)
    futures = [
        past[:, e : e + horizon] - np.median(past[:, e - q : e], axis=1, keepdims=True) + level
        for e in ends
    ]
    return np.stack(futures) if futures else np.zeros((0, past.shape[0], horizon))


MIN_MATCHES = 3  # fewer analogues than this (a recording's first seconds): repeat-last-beat instead


def analogue_ensemble(past: np.ndarray, horizon: int, fs: float, context: int) -> np.ndarray:
    """past (L, n) -> (m, L, horizon): `analogue_futures`, best first; with fewer than `MIN_MATCHES`
    (too early in a recording) the repeat-last-beat of the last `context` samples alone, what a
    window allows."""
    futures = analogue_futures(past, horizon, fs)
    if len(futures) < MIN_MATCHES:
        return repeat_last_beat(past[:, -context:], horizon, fs)[None]
    return futures


def analogue(past: np.ndarray, horizon: int, fs: float, context: int) -> np.ndarray:
    """past (L, n) -> (L, horizon): the pointwise median of `analogue_ensemble` (the L1-optimal
    combination, as the flat lines use the median)."""
    return np.median(analogue_ensemble(past, horizon, fs, context), axis=0)
