"""Shared fixtures: a tiny generated dataset in the DCASE layout, a tiny config, and one librosa warm-up."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from dcase_cae.config import Config, DataConfig, DecisionConfig, FiguresConfig, ModelConfig
from dcase_cae.generator import GeneratorConfig, generate
from sigzoo_shared import TrainConfig

# The test models are tiny: a second intra-op thread costs more in synchronisation than it gains, and on a
# busy machine spinning threads make every small op slower by orders of magnitude.
torch.set_num_threads(1)

TINY_GEN = GeneratorConfig(
    machine_types=("toy_fan",),
    machine_ids=("00", "02"),
    n_train=8,
    n_test_normal=4,
    n_test_anomaly=6,
    duration_s=2.5,
    seed=1,
)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """<root>/toy_fan/{train,test}/..., 2 machine IDs, 2.5 s clips (read-only: copy before changing)."""
    return generate(tmp_path_factory.mktemp("tiny") / "data", TINY_GEN)


def make_tiny_config(
    data_dir: Path | None = None, model: str = "dense_ae", figures: bool = False, **train: object
) -> Config:
    """64 mels, a few epochs: fast enough for unit tests."""
    train_cfg = TrainConfig(
        epochs=2, batch_size=32, lr=5e-3, seed=3, progress=False, save_top_k=1, device="cpu"
    )
    return Config(
        data=DataConfig(data_dir=data_dir, n_mels=64, patch_hop_frames=8, feature_workers=1),
        model=ModelConfig(name=model),
        decision=DecisionConfig(n_bootstrap=100),
        figures=FiguresConfig(enabled=figures),
        train=replace(train_cfg, **train),
    )


TINY_OVERRIDES = [
    "data.n_mels=64",
    "data.patch_hop_frames=8",
    "data.feature_workers=1",
    "train.epochs=2",
    "train.batch_size=32",
    "train.lr=5e-3",
    "train.seed=3",
    "figures.enabled=false",
    "train.progress=false",
    "train.save_top_k=1",
    "train.device=cpu",
    "decision.n_bootstrap=100",
]


@pytest.fixture(scope="session")
def librosa_mel():
    """`librosa.feature.melspectrogram`, compiled once per session (numba JIT takes ~30 s on first use)."""
    librosa = pytest.importorskip("librosa")
    librosa.feature.melspectrogram(
        y=np.zeros(2048, np.float32), sr=16000, n_fft=1024, hop_length=512, n_mels=64
    )
    return librosa.feature.melspectrogram


@pytest.fixture(scope="session")
def tiny_config():
    """`tiny_config(data_dir, model="dense_ae", **train_overrides) -> Config`."""
    return make_tiny_config


@pytest.fixture(scope="session")
def tiny_overrides() -> list[str]:
    """The tiny config as CLI overrides."""
    return list(TINY_OVERRIDES)
