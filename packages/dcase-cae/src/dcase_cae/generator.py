"""Synthetic machine sounds in the DCASE 2020 Task 2 layout, with planted anomalies.

A normal clip of machine ID k is a harmonic hum (fundamental f0_k with decaying overtones, a slow pitch
wobble and random phases) plus coloured broadband noise (pink-ish, the airflow/motor hiss of real machines)
and a slowly drifting gain. Anomalies are three things operators actually hear:

- `click`: a bearing fault, periodic short resonant impulses (a few per second, broadband);
- `shift`: a shifted harmonic, the hum's fundamental moved by several percent (load or speed change);
- `am`: amplitude modulation of the whole sound at a few Hz (imbalance, loose mounting).

Layout `dcase2020`: 16-bit PCM WAV named `{normal,anomaly}_id_XX_NNNNNNNN.wav` under
`<root>/<machine_type>/{train,test}/`. Layout `dcase2021` (the 2021-2025 challenges): machine IDs become
sections, `section_XX_{source,target}_{train,test}_{normal,anomaly}_NNNN_spd_<S>.wav` plus
`attributes_XX.csv`; the attribute `spd` scales the hum's fundamental (each source clip takes one of two
speeds, target clips a third one: the domain shift), so an attribute classifier has something to learn.
Both are exactly what `data.py` reads for the real recordings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

ANOMALY_KINDS = ("click", "shift", "am")


@dataclass
class GeneratorConfig:
    machine_types: tuple[str, ...] = ("toy_machine",)
    machine_ids: tuple[str, ...] = ("00", "02")
    n_train: int = 40  # normal training clips per ID
    n_test_normal: int = 10  # per ID
    n_test_anomaly: int = 10  # per ID, cycling through ANOMALY_KINDS
    duration_s: float = 4.0
    sample_rate_hz: int = 16000
    anomaly_strength: float = 1.0  # 1 = clearly audible; smaller is subtler
    seed: int = 0
    layout: str = "dcase2020"  # or "dcase2021": sections, domains, attributes
    n_train_target: int = 3  # dcase2021: target-domain training clips per section


# dcase2021 layout: attribute value -> factor on the hum's fundamental
SOURCE_SPEEDS = {"A": 1.0, "B": 1.12}
TARGET_SPEEDS = {"C": 0.9}


def _machine_params(machine_type: str, machine_id: str) -> dict[str, float]:
    """Stable per-machine character: same type and ID give the same hum on every call."""
    key = sum(ord(c) * (i + 1) for i, c in enumerate(f"{machine_type}/{machine_id}"))
    rng = np.random.default_rng(key)
    return {
        "f0": float(rng.uniform(90, 220)),
        "n_harm": int(rng.integers(5, 10)),
        "decay": float(rng.uniform(0.5, 0.8)),
        "noise_db": float(rng.uniform(-24, -16)),
        "tilt": float(rng.uniform(0.6, 1.0)),
    }


def _coloured_noise(n: int, tilt: float, rng: np.random.Generator) -> np.ndarray:
    """Noise with a 1/f^tilt power spectrum (tilt 1 = pink), unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spec.size, dtype=float)
    f[0] = 1.0
    x = np.fft.irfft(spec / f ** (tilt / 2), n)
    return x / (np.sqrt(np.mean(x**2)) + 1e-12)


def machine_sound(
    machine_type: str,
    machine_id: str,
    rng: np.random.Generator,
    *,
    duration_s: float,
    sample_rate_hz: int,
    anomaly: str | None = None,
    strength: float = 1.0,
    f0_scale: float = 1.0,
) -> np.ndarray:
    """One clip in [-1, 1], float32; `anomaly` is None or one of ANOMALY_KINDS."""
    p = _machine_params(machine_type, machine_id)
    n = int(round(duration_s * sample_rate_hz))
    t = np.arange(n) / sample_rate_hz
    f0 = p["f0"] * f0_scale * (1 + rng.normal(0, 0.004))  # small clip-to-clip speed variation
    if anomaly == "shift":
        f0 *= 1 + 0.08 * strength * rng.choice([-1, 1])
    wobble = 1 + 0.002 * np.sin(2 * np.pi * rng.uniform(0.2, 0.6) * t + rng.uniform(0, 2 * np.pi))
    phase = 2 * np.pi * f0 * np.cumsum(wobble) / sample_rate_hz
    hum = sum(
        p["decay"] ** k * np.sin((k + 1) * phase + rng.uniform(0, 2 * np.pi))
        for k in range(p["n_harm"])
    )
    hum = hum / np.sqrt(np.mean(hum**2))
    noise = _coloured_noise(n, p["tilt"], rng) * 10 ** (p["noise_db"] / 20)
    x = hum + noise
    gain = 1 + 0.05 * np.sin(2 * np.pi * rng.uniform(0.05, 0.2) * t + rng.uniform(0, 2 * np.pi))
    x = x * gain
    if anomaly == "am":
        depth = min(0.9, 0.6 * strength)
        x = x * (1 - depth / 2 + depth / 2 * np.sin(2 * np.pi * rng.uniform(3, 8) * t))
    elif anomaly == "click":
        rate_hz = rng.uniform(4, 9)
        ring_hz = rng.uniform(2500, 5000)
        tau = np.arange(int(0.015 * sample_rate_hz)) / sample_rate_hz
        click = np.exp(-tau / 0.002) * np.sin(2 * np.pi * ring_hz * tau)
        pulses = np.zeros(n)
        times = np.arange(rng.uniform(0, 1 / rate_hz), duration_s, 1 / rate_hz)
        pulses[(times * sample_rate_hz).astype(int)] = 1.0
        x = x + 3.0 * strength * np.convolve(pulses, click)[:n]
    elif anomaly not in (None, "shift"):
        raise ValueError(f"unknown anomaly kind {anomaly!r} (one of {ANOMALY_KINDS})")
    x = x / (np.abs(x).max() + 1e-9) * 0.5 * 10 ** (rng.uniform(-1, 0) / 20)  # level jitter of 1 dB
    return x.astype(np.float32)


def _plan_2020(cfg: GeneratorConfig, machine_id: str) -> list[tuple[str, str | None, float]]:
    """(file name relative to the machine folder, anomaly kind, f0 scale) of every clip of one ID."""
    plan = [(f"train/normal_id_{machine_id}_{i:08d}.wav", None, 1.0) for i in range(cfg.n_train)]
    plan += [
        (f"test/normal_id_{machine_id}_{i:08d}.wav", None, 1.0) for i in range(cfg.n_test_normal)
    ]
    plan += [
        (f"test/anomaly_id_{machine_id}_{i:08d}.wav", ANOMALY_KINDS[i % len(ANOMALY_KINDS)], 1.0)
        for i in range(cfg.n_test_anomaly)
    ]
    return plan


def _plan_2021(cfg: GeneratorConfig, section: str) -> list[tuple[str, str | None, float]]:
    """As `_plan_2020`, in the 2021+ layout: source and target training clips, both domains tested."""
    plan = []
    counts = {
        ("source", "train", "normal"): cfg.n_train,
        ("target", "train", "normal"): cfg.n_train_target,
        ("source", "test", "normal"): cfg.n_test_normal,
        ("target", "test", "normal"): cfg.n_test_normal,
        ("source", "test", "anomaly"): cfg.n_test_anomaly,
        ("target", "test", "anomaly"): cfg.n_test_anomaly,
    }
    for (domain, split, label), n in counts.items():
        speeds = SOURCE_SPEEDS if domain == "source" else TARGET_SPEEDS
        for i in range(n):
            speed = sorted(speeds)[i % len(speeds)]
            kind = ANOMALY_KINDS[i % len(ANOMALY_KINDS)] if label == "anomaly" else None
            name = f"{split}/section_{section}_{domain}_{split}_{label}_{i:04d}_spd_{speed}.wav"
            plan.append((name, kind, speeds[speed]))
    return plan


def _write_attributes(machine_dir: Path, section: str, names: list[str]) -> None:
    """`attributes_XX.csv` as the challenge ships it: file_name (machine/split/file), then the pairs."""
    lines = ["file_name,d1p,d1v"]
    for name in names:
        attributes = Path(name).stem.split("_")[-2:]
        lines.append(f"{machine_dir.name}/{name},{attributes[0]},{attributes[1]}")
    (machine_dir / f"attributes_{section}.csv").write_text("\n".join(lines) + "\n")


def generate(root: Path | str, cfg: GeneratorConfig | None = None) -> Path:
    """Write a dataset under `root` and return it; re-running with the same config rewrites the same files."""
    import soundfile as sf

    cfg = cfg or GeneratorConfig()
    if cfg.layout not in ("dcase2020", "dcase2021"):
        raise ValueError(f"layout must be 'dcase2020' or 'dcase2021', got {cfg.layout!r}")
    root = Path(root)
    rng = np.random.default_rng(cfg.seed)
    for machine_type in cfg.machine_types:
        for machine_id in cfg.machine_ids:
            sections = cfg.layout == "dcase2021"
            plan = _plan_2021(cfg, machine_id) if sections else _plan_2020(cfg, machine_id)
            for name, kind, f0_scale in plan:
                x = machine_sound(
                    machine_type,
                    machine_id,
                    rng,
                    duration_s=cfg.duration_s,
                    sample_rate_hz=cfg.sample_rate_hz,
                    anomaly=kind,
                    strength=cfg.anomaly_strength,
                    f0_scale=f0_scale,
                )
                path = root / machine_type / name
                path.parent.mkdir(parents=True, exist_ok=True)
                sf.write(str(path), x, cfg.sample_rate_hz, subtype="PCM_16")
            if sections:
                _write_attributes(root / machine_type, machine_id, [n for n, _, _ in plan])
    return root
