"""`bench`: training windows/s and peak RSS of the default (efficient) and the `original` variant on the
same batches, plus encode/decode and forecast latency per window, and the exported ONNX graph's
latency in ONNX Runtime against PyTorch on one CPU thread.

Each case runs in its own subprocess so that its peak RSS is its own. Timings: warm-up, then median
(`sigzoo_shared.bench.time_fn`).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

log = logging.getLogger(__name__)


def _record(duration_s: float, seed: int = 0) -> np.ndarray:
    """(2, n) synthetic two-lead ECG in mV at 360 Hz, the same for every case."""
    from ecg_vqvae.generator import draw_patient, synthesize

    rng = np.random.default_rng(seed)
    signal, _, _ = synthesize(draw_patient(rng), duration_s, 360, rng)
    return np.ascontiguousarray(signal.T)


def _batch(batch_size: int, seed: int = 0) -> torch.Tensor:
    """The same synthetic ECG batch (B, 2, 1080) for every case."""
    signal = _record(batch_size * 3.0 + 1, seed).T  # (n, 2)
    x = signal[: batch_size * 1080].T.reshape(2, batch_size, 1080).transpose(1, 0, 2)
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def measure(case: str, batch_size: int, repeat: int) -> dict[str, Any]:
    """Time one variant in this process: train step, encode+decode, (efficient only) forecast."""
    from sigzoo_shared.bench import time_fn
    from sigzoo_shared.cli import packaged_config
    from sigzoo_shared.config import load_config
    from sigzoo_shared.device import peak_rss_mb
    from sigzoo_shared.trainer import build_optimizer

    from ecg_vqvae.baselines import analogue, repeat_last_beat
    from ecg_vqvae.config import Config
    from ecg_vqvae.model import build_vqvae
    from ecg_vqvae.train import build_forecaster, make_reconstruction_step

    torch.manual_seed(0)
    base = packaged_config("ecg_vqvae", "seed.yaml" if case == "original" else "default.yaml")
    cfg = load_config(Config, base=base)
    model = build_vqvae(cfg.model, cfg.data.window_samples)
    opt = build_optimizer(model.parameters(), cfg.train)
    step = make_reconstruction_step(cfg.model.commitment_weight)
    x = _batch(batch_size)

    def train_step() -> None:
        loss, _ = step(model, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    model.train()
    t_train = time_fn(train_step, warmup=1, repeat=repeat)  # wall and CPU time of the same steps
    model.eval()
    with torch.no_grad():
        t_codec = time_fn(lambda: model(x), warmup=1, repeat=repeat)
        one = x[:1]
        t_codec_one = time_fn(lambda: model(one), warmup=1, repeat=repeat)
    row = {
        "case": case,
        "variant": cfg.model.variant,
        "parameters_m": sum(p.numel() for p in model.parameters()) / 1e6,
        "batch": batch_size,
        "train_step_ms": 1e3 * t_train["median_s"],
        "train_windows_per_s": batch_size / t_train["median_s"],
        "train_step_cpu_ms": 1e3 * t_train["median_cpu_s"],
        "encode_decode_ms_per_window_batched": 1e3 * t_codec["median_s"] / batch_size,
        "encode_decode_ms_single_window": 1e3 * t_codec_one["median_s"],
    }
    if case != "original":
        f = cfg.forecast
        forecaster = build_forecaster(cfg, model).eval()
        horizon = cfg.data.window_samples * f.forecast_predictions

        def forecast(xb: torch.Tensor) -> torch.Tensor:  # prior (repeat-last-beat) included
            prior = None
            if forecaster.use_prior:
                beats = [repeat_last_beat(c, horizon, 360) for c in xb.numpy()]
                prior = torch.from_numpy(np.stack(beats).astype(np.float32))
            return forecaster(xb, prior)

        with torch.no_grad():
            t_fc = time_fn(lambda: forecast(x), warmup=1, repeat=repeat)
            t_fc_one = time_fn(lambda: forecast(one), warmup=1, repeat=repeat)
        row["forecast_ms_per_window_batched"] = 1e3 * t_fc["median_s"] / batch_size
        row["forecast_ms_single_window"] = 1e3 * t_fc_one["median_s"]
        # the analogue forecast searches the 5 min before the origin: its cost per origin
        past = _record(303.0)  # (2, 303 s)
        t_ana = time_fn(lambda: analogue(past, horizon, 360, 1080), warmup=1, repeat=repeat)
        row["analogue_ms_single_origin"] = 1e3 * t_ana["median_s"]
    row["peak_rss_mb"] = peak_rss_mb()
    return row


def measure_onnx(repeat: int) -> dict[str, Any]:
    """ONNX Runtime vs PyTorch, one CPU thread, on what `ecg-vqvae export` writes for a forecaster
    run (one window: reconstruction + forecast), with default-sized untrained weights."""
    import tempfile

    from sigzoo_shared import ConfigError
    from sigzoo_shared.config import load_config
    from sigzoo_shared.export import export_onnx, speed_rows
    from sigzoo_shared.runs import LoadedRun

    from ecg_vqvae.api import export_spec
    from ecg_vqvae.config import Config
    from ecg_vqvae.model import build_vqvae
    from ecg_vqvae.train import build_forecaster

    torch.manual_seed(0)
    cfg = load_config(Config)
    model = build_forecaster(cfg, build_vqvae(cfg.model, cfg.data.window_samples)).eval()
    spec = export_spec(LoadedRun(model=model, config=cfg, checkpoint=Path("-"), state={}))
    one = tuple(x[:1] for x in spec.check_inputs[0])  # batch of one window: the streaming case
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = export_onnx(
                spec.module,
                spec.example,
                Path(tmp) / "ecg.onnx",
                input_names=spec.input_names,
                output_names=spec.output_names,
                dynamic_axes=spec.dynamic_axes,
            )
        except ConfigError as err:  # the export extra is not installed
            return {"skipped": str(err)}
        return {"rows": speed_rows(spec.module, path, one, repeat=max(repeat, 10))}


def run_bench(run_dir: Path | None = None, batch_size: int = 16, repeat: int = 5) -> Path:
    """Both cases in subprocesses; writes bench.md + bench.json; returns the markdown path."""
    from sigzoo_shared import RunDir
    from sigzoo_shared.bench import write_bench, zoo_row

    run = RunDir.create(
        "ecg-vqvae",
        run_dir=run_dir,
        name=None if run_dir else "bench",
        verb="bench",
        tensorboard=False,
    )
    rows = [_subprocess_case(case, batch_size, repeat) for case in ("default", "original")]
    onnx = _subprocess_case("onnx", batch_size, repeat)
    speedup = rows[1]["train_step_ms"] / rows[0]["train_step_ms"]
    speedup_cpu = rows[1]["train_step_cpu_ms"] / rows[0]["train_step_cpu_ms"]
    notes = [
        f"default vs original training step: {speedup:.1f}x faster in wall time, {speedup_cpu:.1f}x in "
        f"process CPU time, on the same batch of {batch_size} synthetic windows (2 x 1080 samples)",
        "train step = forward + MSE/commitment loss + backward + optimizer step (each variant with its own config: Adam default, RAdam seed); latencies in eval mode, no grad",
        f"torch threads per case: {torch.get_num_threads()}; each case in its own process (peak RSS its own)",
    ]
    if "rows" in onnx:
        notes += [
            f"exported inference graph (`ecg-vqvae export`: one window -> reconstruction + forecast), "
            f"input {r['input']}: {r['runtime']} {r['median_ms']:.2f} ms median"
            for r in onnx["rows"]
        ]
    else:
        notes.append(f"ONNX Runtime rows skipped: {onnx['skipped']}")
    original = "measured in this run: the original variant (configs/seed.yaml)"
    zoo = [
        zoo_row(
            "ecg-vqvae",
            f"VQ-VAE train step, batch {batch_size} (CPU time)",
            rows[0]["train_step_cpu_ms"] / 1e3,
            rows[1]["train_step_cpu_ms"] / 1e3,
            original,
        ),
        zoo_row(
            "ecg-vqvae",
            "encode + decode one window (wall time)",
            rows[0]["encode_decode_ms_single_window"] / 1e3,
            rows[1]["encode_decode_ms_single_window"] / 1e3,
            original,
        ),
    ]
    md, _ = write_bench(
        run.path, "ecg-vqvae: default (efficient) vs original variant", rows, notes, zoo=zoo
    )
    return md


def _subprocess_case(case: str, batch_size: int, repeat: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "ecg_vqvae.bench", case, str(batch_size), str(repeat)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"bench case {case} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    case, batch, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    print(json.dumps(measure_onnx(reps) if case == "onnx" else measure(case, batch, reps)))
