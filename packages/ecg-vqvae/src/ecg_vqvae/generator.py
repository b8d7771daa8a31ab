"""Synthetic two-lead ECG written as MIT-BIH-style WFDB records (360 Hz, format 212, .atr beat labels).

Each beat is a sum of Gaussians (P, Q, R, S, T), as in the dynamical model of McSharry et al., "A dynamical
model for generating synthetic electrocardiogram signals", IEEE TBME 50(3), 2003, but laid out beat by
beat instead of integrating the ODE. Patients differ in heart rate, wave shapes, lead gains, baseline wander
and noise; RR intervals carry respiratory sinus arrhythmia plus AR(1) jitter, and a few premature
ventricular beats (wide, early, followed by a compensatory pause) are planted, labelled `V` in the .atr
file (normal beats `N`). The files are the real on-disk format, so `data.py` reads them like real records.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# (centre offset from R in s, amplitude in mV, width in s) of P, Q, R, S, T for lead I-like MLII and V1.
_WAVES_MLII = (
    (-0.20, 0.15, 0.025),
    (-0.035, -0.12, 0.010),
    (0.0, 1.20, 0.011),
    (0.035, -0.25, 0.011),
    (0.30, 0.35, 0.055),
)
_WAVES_V1 = (
    (-0.20, 0.08, 0.025),
    (-0.030, 0.10, 0.010),
    (0.0, 0.35, 0.011),
    (0.040, -0.90, 0.014),
    (0.30, 0.15, 0.060),
)
_PVC = (
    (-0.02, 0.0, 0.02),
    (0.0, -0.6, 0.035),
    (0.06, 1.4, 0.04),
    (0.14, -0.4, 0.03),
    (0.36, -0.4, 0.07),
)


@dataclass
class Patient:
    """Per-record parameters drawn from one generator."""

    heart_rate_bpm: float
    rr_jitter: float
    rsa_depth: float
    pvc_rate: float
    gains: np.ndarray  # (2, 5) multiplicative wave amplitude per lead
    wander_mv: float
    wander_hz: float
    noise_mv: float
    offsets_mv: np.ndarray  # (2,)


def draw_patient(rng: np.random.Generator) -> Patient:
    return Patient(
        heart_rate_bpm=float(rng.uniform(55, 95)),
        rr_jitter=float(rng.uniform(0.01, 0.04)),
        rsa_depth=float(rng.uniform(0.02, 0.06)),
        pvc_rate=float(rng.choice([0.0, 0.0, 0.02, 0.05])),
        gains=rng.uniform(0.7, 1.3, size=(2, 5)),
        wander_mv=float(rng.uniform(0.02, 0.15)),
        wander_hz=float(rng.uniform(0.1, 0.35)),
        noise_mv=float(rng.uniform(0.005, 0.02)),
        offsets_mv=rng.uniform(-0.3, 0.1, size=2),
    )


def beat_times(
    patient: Patient, duration_s: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """R-peak times (s) and beat types ('N' or 'V') with RSA, AR(1) jitter and premature beats."""
    mean_rr = 60.0 / patient.heart_rate_bpm
    t, jitter, interval = rng.uniform(0.2, 0.8) * mean_rr, 0.0, mean_rr
    times, types = [t], ["N"]
    while True:
        jitter = 0.8 * jitter + patient.rr_jitter * np.sqrt(1 - 0.8**2) * rng.standard_normal()
        rr = mean_rr * (1 + patient.rsa_depth * np.sin(2 * np.pi * 0.25 * t) + jitter)
        if types[-1] == "V":  # compensatory pause after a premature beat
            interval, kind = 2 * rr - interval, "N"
        elif rng.random() < patient.pvc_rate:
            interval, kind = 0.65 * rr, "V"
        else:
            interval, kind = rr, "N"
        t += interval
        if t >= duration_s:
            break
        times.append(t)
        types.append(kind)
    return np.asarray(times), np.asarray(types)


def synthesize(
    patient: Patient, duration_s: float, fs: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n_samples, 2) signal in mV, R-peak sample indices, beat symbols."""
    n = int(round(duration_s * fs))
    t = np.arange(n) / fs
    x = np.zeros((n, 2))
    times, types = beat_times(patient, duration_s, rng)
    mean_rr = 60.0 / patient.heart_rate_bpm
    half = int(0.7 * fs)
    for r_time, kind in zip(times, types):
        centre = int(round(r_time * fs))
        lo, hi = max(0, centre - half), min(n, centre + half)
        if lo >= hi:
            continue
        local = t[lo:hi] - r_time
        for lead, waves in enumerate((_WAVES_MLII, _WAVES_V1)):
            shape = _PVC if kind == "V" else waves
            for k, (mu, amp, width) in enumerate(shape):
                if kind == "N" and k in (0, 4):  # P and T move with heart rate (QT ~ sqrt(RR))
                    mu = mu * np.sqrt(mean_rr / 0.8)
                sign = 1.0 if lead == 0 or kind == "N" else -0.6
                x[lo:hi, lead] += (
                    sign
                    * patient.gains[lead, k]
                    * amp
                    * np.exp(-0.5 * (local - mu) ** 2 / width**2)
                )
    phase = rng.uniform(0, 2 * np.pi, size=2)
    wander = patient.wander_mv * np.sin(2 * np.pi * patient.wander_hz * t[:, None] + phase)
    x += wander + patient.offsets_mv + patient.noise_mv * rng.standard_normal((n, 2))
    return x, np.round(times * fs).astype(int), types


def write_records(
    out_dir: Path | str,
    n_records: int = 6,
    duration_s: float = 60.0,
    fs: int = 360,
    seed: int = 0,
    prefix: str = "s",
) -> list[str]:
    """Write `n_records` synthetic two-lead records (+ .atr) into `out_dir`; return their names."""
    import wfdb

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = []
    for i in range(n_records):
        name = f"{prefix}{i + 1:03d}"
        patient = draw_patient(rng)
        signal, r_peaks, symbols = synthesize(patient, duration_s, fs, rng)
        signal = np.clip(signal, -5.0, 5.0)
        wfdb.wrsamp(
            name,
            fs=fs,
            units=["mV", "mV"],
            sig_name=["MLII", "V1"],
            p_signal=signal,
            fmt=["212", "212"],
            adc_gain=[200.0, 200.0],
            baseline=[1024, 1024],
            comments=[f"synthetic ECG, HR {patient.heart_rate_bpm:.0f} bpm"],
            write_dir=str(out),
        )
        keep = (r_peaks >= 0) & (r_peaks < len(signal))
        wfdb.wrann(name, "atr", r_peaks[keep], symbol=list(symbols[keep]), write_dir=str(out))
        names.append(name)
    log.info("wrote %d synthetic records (%.0f s each) to %s", n_records, duration_s, out)
    return names
