"""`dcase-cae bench`: feature extraction, training and inference speed, and peak memory.

Cases (issue targets on a 2-core CPU in brackets):
- log-mel extraction of 10 s, 16 kHz clips, threads over all cores, cold then from the cache [>= 20 clips/s];
- one training step of the CAE on a 256 x 1 x 128 x 128 batch and of the dense AE on 512 x 640, through the
  core Trainer and as a plain PyTorch loop (forward, MSE, backward, Adam) [Trainer at least as fast];
- inference: clips/s from waveform to score for both models, as a multiple of real time [>= 100x].
Timings are medians after warm-up (`sigzoo_shared.bench.time_fn`); nothing here runs in the tests.
"""

from __future__ import annotations

import logging
import shutil
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sigzoo_shared import Callback, RunDir, TrainConfig, Trainer
from sigzoo_shared.bench import time_fn, write_bench
from sigzoo_shared.device import peak_rss_mb

from dcase_cae.config import Config
from dcase_cae.data import extract_features, list_clips, machine_dirs
from dcase_cae.evaluate import clip_scores
from dcase_cae.generator import GeneratorConfig, generate
from dcase_cae.model import CNNAutoEncoder, DenseAE
from dcase_cae.train import PACKAGE, reconstruction_step

log = logging.getLogger(__name__)


class _StepClock(Callback):
    """Wall time between consecutive optimizer steps inside Trainer.fit."""

    def __init__(self) -> None:
        self.stamps: list[float] = []

    def on_train_batch_end(self, trainer, model, loss, parts) -> None:  # noqa: ANN001
        self.stamps.append(time.perf_counter())


def _trainer_step_s(model: torch.nn.Module, batch: torch.Tensor, steps: int, work: Path) -> float:
    """Median step time of the core Trainer on a loader that repeats `batch` (first step = warm-up)."""
    clock = _StepClock()
    cfg = TrainConfig(
        epochs=1,
        batch_size=batch.shape[0],
        limit_train_batches=steps + 1,
        progress=False,
        save_top_k=0,
        device="cpu",
    )
    run = RunDir(work / f"trainer-{type(model).__name__}", tensorboard=False)
    Trainer(cfg, run, [clock], device=torch.device("cpu")).fit(
        model, reconstruction_step, [batch] * (steps + 1)
    )
    gaps = np.diff(clock.stamps)
    return float(statistics.median(gaps)) if len(gaps) else float("nan")


def _plain_step_s(model: torch.nn.Module, batch: torch.Tensor, steps: int) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()

    def step() -> None:
        loss = F.mse_loss(model(batch), batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return time_fn(step, warmup=1, repeat=steps)["median_s"]


def bench(
    cfg: Config,
    run_dir: Path | str | None = None,
    data_dir: Path | str | None = None,
    steps: int = 3,
    n_clips: int = 40,
) -> Path:
    """Run every case and write `bench.md` + `bench.json`; returns the markdown path."""
    run = RunDir.create(PACKAGE, run_dir=run_dir, verb="bench", tensorboard=False)
    work = Path(tempfile.mkdtemp(prefix="dcase-cae-bench-"))
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    try:
        # ---------------------------------------------------------------- feature extraction
        if data_dir is not None:
            mtype, mdir = next(iter(machine_dirs(data_dir).items()))
            clips = list_clips(mdir, "train", mtype)[:n_clips]
            source = f"{len(clips)} real clips of {mdir}"
        else:
            gen = GeneratorConfig(
                machine_ids=("00",),
                n_train=n_clips,
                n_test_normal=0,
                n_test_anomaly=0,
                duration_s=10.0,
            )
            root = generate(work / "data", gen)
            mtype = gen.machine_types[0]
            clips = list_clips(root / mtype, "train", mtype)
            source = f"{len(clips)} generated 10 s clips"
        import soundfile as sf

        audio_s = sum(sf.info(str(c.path)).duration for c in clips)
        clip_s = audio_s / len(clips)
        cache = work / "cache"
        for label, workers in (("1 thread", 1), ("all cores", None)):
            dcfg = replace(cfg.data, feature_workers=workers)
            shutil.rmtree(cache, ignore_errors=True)
            t0 = time.perf_counter()
            extract_features(clips, dcfg, cache)
            cold = time.perf_counter() - t0
            rows.append(
                {
                    "case": f"log-mel extraction, cold, {label}",
                    "config": source,
                    "median_s": cold / len(clips),
                    "per_s": len(clips) / cold,
                    "unit": "clips/s",
                    "target": ">= 20 clips/s" if workers is None else "",
                }
            )
        t0 = time.perf_counter()
        extract_features(clips, cfg.data, cache)
        warm = time.perf_counter() - t0
        rows.append(
            {
                "case": "log-mel extraction, cached",
                "config": source,
                "median_s": warm / len(clips),
                "per_s": len(clips) / warm,
                "unit": "clips/s",
                "target": "",
            }
        )

        # ---------------------------------------------------------------- training steps
        torch.manual_seed(0)
        cases = [
            (
                "CAE",
                lambda: CNNAutoEncoder(cfg.data.n_mels, cfg.model.z_dim),
                torch.rand(256, 1, cfg.data.n_mels, cfg.data.n_mels),
            ),
            (
                "dense AE",
                lambda: DenseAE(cfg.data.frames * cfg.data.n_mels),
                torch.randn(512, cfg.data.frames * cfg.data.n_mels),
            ),
        ]
        for name, make, batch in cases:
            plain = _plain_step_s(make(), batch, steps)
            ours = _trainer_step_s(make(), batch, steps, work)
            shape = "x".join(map(str, batch.shape))
            rows.append(
                {
                    "case": f"{name} train step, plain PyTorch loop",
                    "config": shape,
                    "median_s": plain,
                    "per_s": batch.shape[0] / plain,
                    "unit": "samples/s",
                    "target": "",
                }
            )
            rows.append(
                {
                    "case": f"{name} train step, sigzoo Trainer",
                    "config": shape,
                    "median_s": ours,
                    "per_s": batch.shape[0] / ours,
                    "unit": "samples/s",
                    "target": f">= plain (ratio {plain / ours:.2f})",
                }
            )

        # ---------------------------------------------------------------- inference
        n_inf = min(len(clips), 20)
        for kind, model in (
            ("cae", CNNAutoEncoder(cfg.data.n_mels, cfg.model.z_dim).eval()),
            ("dense_ae", DenseAE(cfg.data.frames * cfg.data.n_mels).eval()),
        ):
            icfg = replace(cfg, model=replace(cfg.model, name=kind))

            def infer(icfg: Config = icfg, model: torch.nn.Module = model) -> None:
                f = extract_features(clips[:n_inf], icfg.data, None)
                clip_scores(model, f, icfg)

            t = time_fn(infer, warmup=1, repeat=max(1, steps))["median_s"]
            rows.append(
                {
                    "case": f"{kind} inference, waveform -> score",
                    "config": f"{n_inf} clips",
                    "median_s": t / n_inf,
                    "per_s": n_inf / t,
                    "unit": "clips/s",
                    "target": f">= 100x real time ({n_inf * clip_s / t:.0f}x)",
                }
            )
        notes.append(f"peak RSS {peak_rss_mb():.0f} MiB (whole bench process)")
        notes.append("median_s is per clip for extraction/inference and per step for training")
        notes.append(f"torch threads {torch.get_num_threads()}; clip length {clip_s:.1f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    md, _ = write_bench(run.path, "dcase-cae bench", rows, notes)
    return md
