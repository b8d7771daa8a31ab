"""What one CAE training step costs on this CPU, and how much of it is the kernel's page handling.

CAE (128 x 128 patches, z 40) on a random [0, 1] batch, fused Adam as the core builds it, one torch
thread: a warm-up step, then `--steps` timed steps, user and system CPU seconds apart (getrusage) with
the minor page faults, first with glibc's default allocation, then inside `sigzoo_shared.heap.heap_reuse`
(what `train` runs on CPU). The forward's convolution FLOPs are counted from the layer shapes, so the
step's rate can be set against the CPU's matrix-product ceiling (`dcase-cae bench`). `--profile` adds
torch.profiler's op table of one step (elapsed times, so on a loaded machine read the shares only).

    OMP_NUM_THREADS=1 python packages/dcase-cae/scripts/profile_cae_step.py --batch 256 --steps 2
"""

from __future__ import annotations

import argparse
import resource

import torch
import torch.nn.functional as F
from dcase_cae.model import CNNAutoEncoder
from sigzoo_shared.heap import heap_reuse
from torch import nn


def forward_flops(model: CNNAutoEncoder) -> int:
    """Multiply-adds x 2 of the convolutions (transposed ones too) for one patch."""
    macs = 0

    def count(mod: nn.Module, inputs: tuple[torch.Tensor], out: torch.Tensor) -> None:
        nonlocal macs
        k = mod.kernel_size[0] * mod.kernel_size[1]
        if isinstance(mod, nn.ConvTranspose2d):
            macs += inputs[0][0].numel() * mod.out_channels * k
        else:
            macs += out[0].numel() * mod.in_channels * k

    hooks = [
        m.register_forward_hook(count)
        for m in model.modules()
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)
    ]
    with torch.no_grad():
        model(torch.rand(1, 1, model.side, model.side))
    for h in hooks:
        h.remove()
    return 2 * macs


def usage() -> tuple[float, float, int]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime, r.ru_minflt


def time_steps(batch: int, steps: int, reuse: bool) -> tuple[float, float, float]:
    """(user CPU s, system CPU s, minor faults) per step, the mean of `steps` after one warm-up."""
    torch.manual_seed(0)
    model = CNNAutoEncoder(128, 40)
    x = torch.rand(batch, 1, 128, 128)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)

    def step() -> None:
        loss = F.mse_loss(model(x), x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    with heap_reuse(reuse):
        step()
        u0, s0, f0 = usage()
        for _ in range(steps):
            step()
        u1, s1, f1 = usage()
    return (u1 - u0) / steps, (s1 - s0) / steps, (f1 - f0) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--profile", action="store_true", help="op table of one step (default heap)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    flops = forward_flops(CNNAutoEncoder(128, 40)) * args.batch
    print(f"forward convolutions: {flops / 1e9:.1f} GFLOP per step of {args.batch}")
    for reuse in (False, True):
        user, system, faults = time_steps(args.batch, args.steps, reuse)
        label = "heap_reuse" if reuse else "glibc default"
        print(
            f"{label:14s} user {user:.2f} + system {system:.2f} = {user + system:.2f} CPU-s per "
            f"step, {faults:,.0f} minor faults; forward + backward ~{3 * flops / 1e9 / user:.1f} "
            "GFLOP per user CPU-s"
        )
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            time_steps(args.batch, 1, False)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


if __name__ == "__main__":
    main()
