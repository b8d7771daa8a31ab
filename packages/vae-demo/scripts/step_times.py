"""CPU time of one training step of the default model and of variants given as model overrides.

    OMP_NUM_THREADS=1 python step_times.py "" "model.dense_decoder_units=64" "model.decoder=gru"

Each argument is one case: space-separated `model.KEY=VALUE` overrides of the default config ("" =
the default). A step is forward, the configured loss, backward and AdamW on one random batch of the
default shape (batch 256, 8 channels, 128 samples); the median CPU time of 7 steps after 2 warm-ups,
times 151 steps per epoch of the default data. Why beside `vae-demo bench`: screening a layer
variant needs only its step, not the bench's data, original layers and ONNX rows (~1 CPU-s a case
instead of ~40).
"""

from __future__ import annotations

import sys
import time

import torch
from sigzoo_shared.config import load_config
from vae_demo.bench import training_step_parts
from vae_demo.config import Config
from vae_demo.evaluate import build_model

STEPS_PER_EPOCH = 151  # the default data: 38 618 training windows in batches of 256


def step_cpu_s(cfg: Config, x: torch.Tensor, repeat: int = 7, warmup: int = 2) -> float:
    model = build_model(cfg).train()
    opt, step = training_step_parts(model, cfg)
    times = []
    for _ in range(warmup + repeat):
        t0 = time.process_time()
        loss, _ = step(model, (x, None))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.process_time() - t0)
    return sorted(times[warmup:])[repeat // 2]


def main(cases: list[str]) -> None:
    torch.set_num_threads(1)
    x = torch.rand(256, 8, 128, generator=torch.Generator().manual_seed(0))  # (B, C, T)
    print("| case | params | step CPU ms | training epoch CPU s |")
    print("|---|---|---|---|")
    for case in cases or [""]:
        cfg = load_config(Config, overrides=case.split())
        params = sum(p.numel() for p in build_model(cfg).parameters())
        s = step_cpu_s(cfg, x)
        print(f"| {case or 'default'} | {params} | {1000 * s:.1f} | {s * STEPS_PER_EPOCH:.1f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
