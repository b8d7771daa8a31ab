"""The bench's per-stage profile covers the whole model, and its zoo rows compare only like with like."""

import json
from pathlib import Path

import pytest
import torch
from vae_demo.bench import profile_step, write_profile
from vae_demo.cli import main
from vae_demo.config import Config, ModelConfig
from vae_demo.evaluate import build_model

SMALL = dict(channels=4, gru_units=8, n_heads=2, key_dim=4)
ORIGINAL = dict(encoder="attention", decoder="gru")  # configs/attention-gru.yaml's layers


@pytest.mark.parametrize(
    "model_kw",
    [
        {},  # the default layers (spectrum + dense): each one stage
        ORIGINAL,
        {**ORIGINAL, "encoder_pool": "flatten", "time_bypass": True, "spectral_weight": 0.0},
        {**ORIGINAL, "shift_tolerant": False, "keep_fraction": 1.0},
    ],
)
def test_the_stages_own_every_parameter_once(model_kw: dict, tmp_path: Path) -> None:
    cfg = Config(model=ModelConfig(**SMALL, **model_kw))
    torch.manual_seed(0)
    model = build_model(cfg).train()
    x = torch.rand(6, 8, 128)
    rows = profile_step(model, x, cfg, repeat=1)
    stages = [r["stage"] for r in rows]
    assert sum(r.get("params") or 0 for r in rows) == sum(p.numel() for p in model.parameters())
    assert stages[-1].startswith("whole training step") and "optimizer: AdamW step" in stages
    assert any("GRU, 128 steps" in s for s in stages) == (cfg.model.decoder == "gru")
    assert ("loss: magnitude-spectrum error" in stages) == (cfg.model.spectral_weight > 0)
    assert any(s.startswith("loss: shift-tolerant") for s in stages) == cfg.model.shift_tolerant
    assert all(r["cpu_s"] >= 0 for r in rows)
    write_profile(tmp_path, rows, n_batches=10, batch_size=6)
    table = json.loads((tmp_path / "profile.json").read_text())["rows"]
    assert [r["stage"] for r in table] == stages
    assert table[-1]["share_of_step"] == "100 %"
    assert "| stage | cpu_s | epoch_cpu_s |" in (tmp_path / "profile.md").read_text()


def test_the_zoo_row_names_the_original_only_for_the_default_data(
    tmp_path: Path, tiny: list[str]
) -> None:
    assert main(["bench", "--run-dir", str(tmp_path), *tiny, "--repeat", "1"]) == 0
    zoo = json.loads((tmp_path / "bench.json").read_text())["zoo"]
    assert zoo[0]["package"] == "vae-demo" and zoo[0]["case"].startswith("train epoch, CPU-s")
    # the tiny data is not the data the original's 97-101 s were measured on
    assert zoo[0]["original_s"] is None and zoo[0]["speed-up"] is None
    assert (tmp_path / "profile.md").is_file()
