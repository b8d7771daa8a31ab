"""Shared fixtures: a tiny config and generated recordings in the real on-disk formats."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from resp_mhavae.config import Config, DataConfig, DetectConfig, ModelConfig
from resp_mhavae.generator import write_collected
from sigzoo_shared import TrainConfig

torch.set_num_threads(1)


def tiny_config(path: Path | None = None, **data: object) -> Config:
    fast = dict(
        epochs=3,
        batch_size=16,
        progress=False,
        scheduler="none",
        early_stopping_patience=None,
        log_every_n_steps=1000,
    )
    return Config(
        data=DataConfig(path=path, l_win=24, look_back_num=2, **data),
        model=ModelConfig(
            code_size=4,
            vae_channels=[4, 8],
            num_hidden_units_vae=8,
            num_heads=2,
            dropout=0.0,
            num_hidden_units_lstm=16,
            num_layers_lstm=1,
        ),
        train=TrainConfig(lr=3e-3, **fast),
        lstm=TrainConfig(lr=3e-3, **fast),
        detect=DetectConfig(vis_recon_every_n_epochs=100, vis_lstm_every_n_epochs=100),
    )


@pytest.fixture(scope="session")
def tiny():
    """The tiny-config factory: tiny(path, **data_fields) -> Config."""
    return tiny_config


@pytest.fixture(scope="session")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4800-row (200 s) synthetic nose-sensor recording with 6 planted intervals, original CSV format."""
    return write_collected(tmp_path_factory.mktemp("rec"), "synthetic_1", n_rows=4800, seed=1)


@pytest.fixture(scope="session")
def trained_run(recording: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, Path]:
    """One trained run with every baseline (a few epochs), shared by the evaluation tests."""
    from resp_mhavae.train import train

    cfg = tiny_config(recording)
    cfg = dataclasses.replace(
        cfg,
        train=dataclasses.replace(cfg.train, epochs=8),
        lstm=dataclasses.replace(cfg.lstm, epochs=8),
    )
    return cfg, train(cfg, tmp_path_factory.mktemp("runs") / "run")
