"""Shared fixtures: a few synthetic WFDB records (written once per session) and a tiny config."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from ecg_vqvae.config import Config
from ecg_vqvae.generator import write_records
from sigzoo_shared.config import load_config

torch.set_num_threads(1)

TINY = [
    "data.signals_per_patient=6",
    "data.forecast_stride_s=1.5",
    "model.channel=8",
    "model.n_res_block=1",
    "model.n_res_channel=8",
    "model.embed_dim=8",
    "model.n_embed=32",
    "model.kmeans_iters=2",
    "train.epochs=2",
    "train.batch_size=8",
    "train.progress=false",
    "train.num_workers=0",
    "forecast.d_model=16",
    "forecast.n_layers=1",
    "forecast.n_heads=2",
    "forecast.train.epochs=1",
    "forecast.train.batch_size=8",
    "forecast.train.progress=false",
    "forecast.train.num_workers=0",
    "figure_every_n_epochs=1",
]


@pytest.fixture(scope="session")
def ecg_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six synthetic 30 s two-lead records s001..s006 in MIT-BIH format."""
    out = tmp_path_factory.mktemp("ecg")
    write_records(out, n_records=6, duration_s=30.0, seed=1)
    return out


@pytest.fixture(scope="session")
def tiny_settings() -> list[str]:
    """TINY, for fixtures of wider scope than a test."""
    return list(TINY)


@pytest.fixture()
def tiny_overrides(ecg_dir: Path) -> list[str]:
    return [f"data.data_dir={ecg_dir}", *TINY]


@pytest.fixture()
def tiny_cfg(tiny_overrides: list[str]) -> Config:
    return load_config(Config, overrides=tiny_overrides)


@pytest.fixture(scope="session")
def mitdb_dir() -> Path:
    root = Path(
        os.environ.get(
            "SIGZOO_SHARED_DATA", Path(__file__).resolve().parents[3].parent / "shared" / "data"
        )
    )
    path = root / "mitdb"
    if not (path / "101.hea").is_file():
        pytest.skip(f"MIT-BIH records not found under {path} (set SIGZOO_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def tiny_runs(
    ecg_dir: Path, tiny_settings: list[str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """A tiny VQ-VAE run and a forecaster run on it, trained once per session by the CLI."""
    from ecg_vqvae.cli import main

    root = tmp_path_factory.mktemp("runs")
    vq, fc = root / "vq", root / "fc"
    settings = [f"data.data_dir={ecg_dir}", *tiny_settings]
    assert main(["train", "--run-dir", str(vq), *settings, "train.epochs=1"]) == 0
    assert main(["train-forecaster", "--vqvae", str(vq), "--run-dir", str(fc), *settings]) == 0
    return vq, fc
