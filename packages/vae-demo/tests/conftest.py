"""A tiny configuration (3 patterns, a few hundred windows, a small model) shared by the tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

TINY = [
    "data.n_patterns=3",
    "data.repeats=2",
    "data.noise_len=256",
    "data.stride=8",
    "model.channels=4",
    "model.gru_units=8",
    "model.n_heads=2",
    "model.key_dim=4",
    "model.spectrum_units=16",
    "model.dense_decoder_units=16",
    "train.epochs=2",
    "train.batch_size=16",
    "train.progress=false",
    "train.num_workers=0",
    "plot.max_points=60",
    "plot.embedding_points=20",
    "plot.silhouette_points=60",
]


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny() -> list[str]:
    """The tiny configuration as CLI overrides."""
    return list(TINY)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, tiny: list[str]) -> Path:
    """A run of the tiny configuration (2 epochs), for the API and export tests."""
    from vae_demo.cli import main

    out = tmp_path_factory.mktemp("tiny") / "run"
    assert main(["train", "--run-dir", str(out), *tiny, "train.epochs=2"]) == 0
    return out
