"""A tiny but complete training run, used by the tests as a subprocess (kill/resume, torchrun).

usage: python _train_script.py RUN_DIR [--epochs N] [--kill-at-step K] [--resume] [--dump FILE]
"""

from __future__ import annotations

import argparse
import os
import signal

import torch
from sigzoo_shared import Callback, RunDir, TrainConfig, Trainer, make_loader, setup
from sigzoo_shared.distributed import cleanup_distributed, rank, unwrap
from torch import nn
from torch.utils.data import TensorDataset


class KillAt(Callback):
    """SIGKILL this process after optimizer step K: an abrupt crash in the middle of an epoch."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, model, loss, parts) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


def data(seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(96, 8, generator=g)
    y = (x[:, :3].sum(1, keepdim=True) > 0).float()
    return TensorDataset(x, y)


def step(model: nn.Module, batch) -> tuple[torch.Tensor, dict]:
    x, y = batch
    logits = model(x)
    loss = nn.functional.binary_cross_entropy_with_logits(logits, y)
    return loss, {"acc": ((logits > 0).float() == y).float().mean()}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("run_dir")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--kill-at-step", type=int, default=None)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--dump", default=None)
    p.add_argument("--every-n-steps", type=int, default=None)
    args = p.parse_args()
    cfg = TrainConfig(
        epochs=args.epochs,
        batch_size=8,
        lr=0.05,
        optimizer="adamw",
        weight_decay=0.01,
        scheduler="step",
        scheduler_step_size=1,
        scheduler_factor=0.7,
        seed=3,
        save_top_k=2,
        checkpoint_every_n_steps=args.every_n_steps,
        progress=False,
        device="cpu",
    )
    device = setup(cfg)
    run = RunDir.create("test", run_dir=args.run_dir)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 1))
    train = make_loader(data(0), cfg.batch_size, shuffle=True, seed=cfg.seed, device=device)
    val = make_loader(data(1), 32, device=device)
    callbacks = [KillAt(args.kill_at_step)] if args.kill_at_step else []
    Trainer(cfg, run, callbacks, config=cfg, device=device).fit(
        model, step, train, val, resume=args.run_dir if args.resume else None
    )
    if args.dump:
        torch.save(unwrap(model).state_dict(), f"{args.dump}.rank{rank()}")
    cleanup_distributed()


if __name__ == "__main__":
    main()
