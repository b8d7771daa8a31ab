"""Where does a CAE training step spend its time, plain PyTorch loop vs the core Trainer?

CAE on a 256 x 1 x 128 x 128 batch, one torch thread: 4 interleaved rounds of 2 timed steps each (CPU
time), then torch.profiler over 2 steps of each, op by op (self time), and the ops only the Trainer runs.
Run from the repository root: `OMP_NUM_THREADS=1 python packages/dcase-cae/scripts/profile_trainer_step.py`
(~2 min of CPU). Complements `dcase-cae bench`, which times the same cases without the profiler. The
profiler's per-op times are elapsed times, so on a loaded machine the same kernels can differ between the
two profiled runs; the ops that exist only in the Trainer's run are what the Trainer adds.
"""

from __future__ import annotations

import statistics as st
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from dcase_cae.model import CNNAutoEncoder
from dcase_cae.train import reconstruction_step
from sigzoo_shared import Callback, RunDir, TrainConfig, Trainer
from torch.profiler import ProfilerActivity, profile

torch.set_num_threads(1)
torch.manual_seed(0)
BATCH = torch.rand(256, 1, 128, 128)
INIT = CNNAutoEncoder(128, 40).state_dict()
WORK = Path(tempfile.mkdtemp(prefix="dcase-cae-profile-"))


def make() -> CNNAutoEncoder:
    model = CNNAutoEncoder(128, 40)
    model.load_state_dict(INIT)
    return model


class Clock(Callback):
    def __init__(self) -> None:
        self.t: list[float] = []

    def on_train_batch_end(self, trainer, model, loss, parts) -> None:  # noqa: ANN001
        self.t.append(time.process_time())


PLAIN_MODEL, TRAINER_MODEL = make(), make()
OPT = torch.optim.Adam(PLAIN_MODEL.parameters(), lr=1e-3)


def plain_step() -> None:
    loss = F.mse_loss(PLAIN_MODEL(BATCH), BATCH)
    OPT.zero_grad(set_to_none=True)
    loss.backward()
    OPT.step()


def plain(n: int) -> list[float]:
    plain_step()  # untimed, like the Trainer's first step
    out = []
    for _ in range(n):
        t0 = time.process_time()
        plain_step()
        out.append(time.process_time() - t0)
    return out


def trainer(n: int) -> list[float]:
    """CPU seconds of steps 2..n+1 of one Trainer epoch of n+1 batches."""
    clock = Clock()
    cfg = TrainConfig(
        epochs=1,
        batch_size=256,
        limit_train_batches=n + 1,
        progress=False,
        save_top_k=0,
        device="cpu",
    )
    run = RunDir(WORK / f"t{time.time_ns()}", tensorboard=False)
    Trainer(cfg, run, [clock], device=torch.device("cpu")).fit(
        TRAINER_MODEL, reconstruction_step, [BATCH] * (n + 1)
    )
    return list(np.diff(clock.t))


def self_times(prof) -> dict[str, float]:  # noqa: ANN001
    out: dict[str, float] = {}
    for e in prof.key_averages():
        out[e.key] = out.get(e.key, 0.0) + e.self_cpu_time_total
    return out


def main() -> None:
    all_p, all_t, ratios = [], [], []
    for r in range(4):
        if r % 2 == 0:
            p, t = plain(2), trainer(2)
        else:
            t, p = trainer(2), plain(2)
        all_p, all_t = all_p + p, all_t + t
        ratios.append(st.median(p) / st.median(t))
        print(
            f"round {r + 1}: plain {st.median(p):.3f} s, trainer {st.median(t):.3f} s CPU/step, "
            f"ratio {ratios[-1]:.3f}",
            flush=True,
        )
    print(
        f"ALL: plain median {st.median(all_p):.3f} s, trainer median {st.median(all_t):.3f} s, "
        f"ratio {st.median(all_p) / st.median(all_t):.3f}, rounds {min(ratios):.3f}-{max(ratios):.3f}"
    )
    with profile(activities=[ProfilerActivity.CPU]) as pp:
        plain_step()
        plain_step()
    with profile(activities=[ProfilerActivity.CPU]) as pt:
        trainer(
            1
        )  # 2 steps; the first includes Adam's lazy state creation (fresh optimizer per fit)
    dp, dt = self_times(pp), self_times(pt)
    print(
        f"profiled self time, 2 steps each: plain {sum(dp.values()) / 1e6:.3f} s, "
        f"trainer {sum(dt.values()) / 1e6:.3f} s"
    )
    keys = sorted(set(dp) | set(dt), key=lambda k: -(dt.get(k, 0) + dp.get(k, 0)))
    print(f"{'op':45s} {'plain ms':>10s} {'trainer ms':>10s} {'diff ms':>9s}")
    for k in keys[:25]:
        a, b = dp.get(k, 0.0), dt.get(k, 0.0)
        print(f"{k[:45]:45s} {a / 1e3:10.1f} {b / 1e3:10.1f} {(b - a) / 1e3:9.1f}")
    only = sorted(((k, v) for k, v in dt.items() if k not in dp), key=lambda kv: -kv[1])
    print("ops only in the Trainer's run (us):", [(k, round(v, 1)) for k, v in only[:15]])


if __name__ == "__main__":
    main()
