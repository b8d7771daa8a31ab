"""`export`: the autoencoders' window scorer in ONNX Runtime equals PyTorch on other batch sizes than the
example (the embedding model, dynamic in batch and time, is exported through the CLI in
test_pretrained.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from dcase_cae.api import export_spec
from dcase_cae.train import build_model
from sigzoo_shared.export import PARITY_ATOL, write_export


@pytest.mark.parametrize("kind", ["dense_ae", "cae"])
def test_autoencoder_export_matches_pytorch(kind: str, tmp_path: Path, tiny_config) -> None:
    pytest.importorskip("onnxruntime")
    cfg = tiny_config(model=kind)
    torch.manual_seed(0)
    spec = export_spec(build_model(cfg).eval(), cfg, 16000)
    batches = {x.shape[0] for (x,) in [spec.example, *spec.check_inputs]}
    assert len(batches) >= 2  # parity is checked away from the example's batch size
    record = write_export(spec, tmp_path / f"{kind}.onnx")
    assert record["parity_max_abs_diff"] <= PARITY_ATOL
    assert record["outputs"] == ["reconstruction"] and record["notes"]["sample_rate_hz"] == 16000
    assert "clip_score" in record["notes"]
