"""Tiny configs and generated data shared by the tests (small enough for a 2-core machine)."""

from __future__ import annotations

from pathlib import Path

import pytest
from event_lstm.config import Config
from sigzoo_shared.config import load_config

TINY = [
    "generator.window_samples=400",
    "generator.n_train=48",
    "generator.n_val=16",
    "generator.n_test=16",
    "generator.n_unlabelled=32",
    "generator.stream_s=12",
    "generator.event_rate_hz=1.0",
    "model.hidden_size=16",
    "model.frontend_channels=16",
    "model.attention_heads=4",
    "model.num_layers=2",  # transfer tests: the pre-trained upper LSTM layer fits the classifier
    "model.cnn_channels=2",
    "model.cnn_out_per_event=1",
    "model.timing_head_dim=8",
    "model.dropout=0.0",
    "detect.overlap_samples=100",
    "train.epochs=2",
    "train.scheduler=none",  # resume test: 1 epoch resumed to 2 must equal a 2-epoch run
    "train.batch_size=16",
    "train.progress=false",
    "train.num_workers=0",
]


def tiny_config(*extra: str) -> Config:
    return load_config(Config, overrides=[*TINY, *extra])


@pytest.fixture
def tiny_cfg() -> Config:
    return tiny_config()


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from event_lstm.generator import generate_dataset

    cfg = tiny_config()
    return generate_dataset(tmp_path_factory.mktemp("data"), cfg.generator, cfg.data)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder holding an untrained tiny event-specific classifier (weights from seed 0)."""
    import torch
    from event_lstm.builders import build_model
    from sigzoo_shared.checkpoint import save_checkpoint
    from sigzoo_shared.config import to_dict

    cfg = tiny_config()
    torch.manual_seed(0)
    model = build_model(cfg.model)
    run = tmp_path_factory.mktemp("run")
    state = {
        "model_state": model.state_dict(),
        "config": to_dict(cfg),
        "epoch": 0,
        "global_step": 0,
    }
    save_checkpoint(run / "checkpoints" / "best.pt", state)
    return run


@pytest.fixture
def tiny_args() -> list[str]:
    return list(TINY)


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> None:
    """Tiny models run fastest on one thread; several threads only spin on a shared 2-core machine."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
