"""A toy package config, model and finished run for the core's tests of runs, packing and sweeps."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from sigzoo_shared.checkpoint import save_checkpoint
from sigzoo_shared.config import TrainConfig, save_config, to_dict


@dataclass
class ModelConfig:
    width: int = 4


@dataclass
class DataConfig:
    data_dir: str = "data"


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def build(cfg: Config) -> torch.nn.Module:
    return torch.nn.Linear(cfg.model.width, 2)


def make_run(path: Path, cfg: Config | None = None) -> Path:
    cfg = cfg or Config()
    torch.manual_seed(0)
    model = build(cfg)
    (path / "checkpoints").mkdir(parents=True)
    save_config(cfg, path / "config.yaml")
    state = {
        "model_state": model.state_dict(),
        "config": to_dict(cfg),
        "optimizer_state": {"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]},
        "rng_state": {"torch": torch.get_rng_state()},
        "epoch": 3,
        "global_step": 30,
    }
    for name in ("last.pt", "best.pt"):
        save_checkpoint(path / "checkpoints" / name, state)
    return path
