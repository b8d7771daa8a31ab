"""Where the DCASE 2023 baseline's training step spends its CPU time (dense AE, batch 256 x 640).

Prints, in CPU time of this process (one torch thread unless stated), medians over interleaved rounds:

1. the whole step (forward, MSE, backward, Adam) with PyTorch's three Adam updates (for-loop, the
   core's former `foreach`, `fused`: what the core now builds) and with `fused` plus a compiled forward
   (`nn.Module.compile`, as `model.compile=true`; its compilation is timed apart);
2. the step's parts: forward without gradients, forward + backward;
3. the step's matrix products alone (each Linear's forward, weight gradient and input gradient), and
   the single-thread GEMM throughput at those sizes and at 1024^3 (the CPU's ceiling);
4. the fused step with 2 torch threads (CPU time and wall time).

Usage (repository root): OMP_NUM_THREADS=1 nice -n 5 python packages/dcase-cae/scripts/profile_dense_step.py
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from dcase_cae.model import DenseAE
from torch import nn

B = 256


def cpu_ms(fn: Callable[[], object], n: int = 40, warm: int = 3) -> float:
    for _ in range(warm):
        fn()
    t = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - t) / n * 1e3


def make_step(adam: str, compiled: bool = False) -> Callable[[], None]:
    torch.manual_seed(0)
    model = DenseAE().train()
    kw = {"forloop": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}
    opt = torch.optim.Adam(model.parameters(), 1e-3, **kw[adam])
    xs = [torch.randn(B, 640) * 20 - 40 for _ in range(8)]
    i = [0]

    def step() -> None:
        x = xs[i[0] % 8]
        i[0] += 1
        F.mse_loss(model(x), x).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    if compiled:
        model.compile()
        t = time.process_time()
        step()
        print(f"compiling the forward and backward: {time.process_time() - t:.1f} CPU s")
    return step


def gemm_ms(model: DenseAE) -> float:
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    ins = [torch.randn(B, m.in_features) for m in layers]
    grads = [torch.randn(B, m.out_features) for m in layers]

    def products() -> None:
        for j, (m, x, g) in enumerate(zip(layers, ins, grads, strict=True)):
            torch.addmm(m.bias, x, m.weight.t())
            torch.mm(g.t(), x)
            if j:
                torch.mm(g, m.weight)

    with torch.no_grad():
        return cpu_ms(products, 60)


def main() -> None:
    torch.set_num_threads(1)
    steps = {
        "for-loop Adam": make_step("forloop"),
        "foreach Adam (core before)": make_step("foreach"),
        "fused Adam (core, train)": make_step("fused"),
        "fused Adam + compiled forward": make_step("fused", compiled=True),
    }
    names = list(steps)
    rounds: dict[str, list[float]] = {n: [] for n in names}
    for r in range(4):
        for name in names[r % 4 :] + names[: r % 4]:
            rounds[name].append(cpu_ms(steps[name]))
    print("1. whole step, CPU ms (rounds; median):")
    for name, v in rounds.items():
        print(f"   {name}: {[round(a, 2) for a in v]}; {statistics.median(v):.2f}")
    model = DenseAE().train()
    x = torch.randn(B, 640) * 20 - 40

    def forward() -> None:
        with torch.no_grad():
            model(x)

    def forward_backward() -> None:
        F.mse_loss(model(x), x).backward()

    print(
        f"2. forward (no grad) {cpu_ms(forward):.2f} ms, forward + backward {cpu_ms(forward_backward):.2f} ms"
    )
    print(f"3. matrix products of one step alone: {gemm_ms(model):.2f} ms")
    for m, k, n in ((B, 640, 128), (B, 128, 128), (B, 128, 640), (1024, 1024, 1024)):
        a, b = torch.randn(m, k), torch.randn(k, n)
        ms = cpu_ms(lambda a=a, b=b: a @ b, 20 if m == 1024 else 200)
        print(f"   GEMM {m}x{k} @ {k}x{n}: {2 * m * k * n / ms / 1e6:.1f} GFLOP/s")
    torch.set_num_threads(2)
    step = make_step("fused")
    w = time.perf_counter()
    c = cpu_ms(step)
    print(
        f"4. fused step, 2 threads: {c:.1f} CPU ms, {(time.perf_counter() - w) / 43 * 1e3:.1f} wall ms"
    )


if __name__ == "__main__":
    main()
