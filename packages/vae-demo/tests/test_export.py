"""`vae-demo export`: the encoder as ONNX, equal to PyTorch within 1e-4 on batch sizes (and window
lengths, where the encoder takes any) other than the example's, with a sidecar JSON a deployer can feed
it from."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from vae_demo.cli import main


@pytest.mark.parametrize(
    "overrides, axes",
    [
        ({}, {0: "batch"}),  # the min-spectrum encoder: its dense layer reads one window's bins
        ({"encoder": "spectrum"}, {0: "batch"}),  # its DFT is built for one window length
        ({"encoder": "attention"}, {0: "batch", 2: "time"}),  # statistics pooling: any length
        ({"encoder": "attention", "encoder_pool": "flatten"}, {0: "batch"}),
    ],
)
def test_the_export_has_a_time_axis_only_where_the_encoder_takes_any_length(
    overrides: dict, axes: dict
) -> None:
    import dataclasses

    from vae_demo.api import PatternModel
    from vae_demo.config import Config
    from vae_demo.evaluate import build_model
    from vae_demo.export import export_spec

    cfg = Config()
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, **overrides))
    loaded = PatternModel(build_model(cfg), cfg, {}, np.zeros((3, 2)), np.arange(3))
    spec = export_spec(loaded)
    assert spec.dynamic_axes["windows"] == axes
    lengths = {inputs[0].shape[-1] for inputs in spec.check_inputs}
    assert lengths == ({64, 128, 256} if 2 in axes else {128})


def _needs_onnx() -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")


def test_export_verb_writes_onnx_and_sidecar_with_parity(
    tiny_run: Path, tmp_path: Path, capsys
) -> None:
    _needs_onnx()
    out = tmp_path / "encoder.onnx"
    assert main(["export", "--run-dir", str(tiny_run), "--out", str(out)]) == 0
    assert "max abs diff" in capsys.readouterr().out
    record = json.loads((tmp_path / "encoder.onnx.json").read_text(encoding="utf-8"))
    assert record["parity_max_abs_diff"] <= 1e-4
    assert record["dynamic_axes"]["windows"] == {"0": "batch"}  # the default min-spectrum encoder
    # parity was checked on other batch sizes than the example's (4)
    assert [3, 8, 128] in [s[0] for s in record["parity_inputs"]]
    assert [17, 8, 128] in [s[0] for s in record["parity_inputs"]]
    notes = record["notes"]
    assert set(notes["scaling"]) == {"lo1", "hi1", "lo2", "hi2"}
    assert len(notes["centroids"]) == 4  # k = n_patterns + 1 of the tiny config


def test_onnx_encoder_gives_the_api_latents(tiny_run: Path, tmp_path: Path) -> None:
    """The exported file, fed windows cut as the API cuts them, gives the API's z_mean."""
    import vae_demo
    from sigzoo_shared.export import onnx_session, run_onnx

    _needs_onnx()
    out = tmp_path / "encoder.onnx"
    assert main(["export", "--run-dir", str(tiny_run), "--out", str(out)]) == 0
    model = vae_demo.load_run(tiny_run)
    signal, _ = model.sample_series(seed=5)
    windows = model.windows(signal, stride=32).x  # (W, C, T)
    (got,) = run_onnx(onnx_session(out), [torch.from_numpy(windows)])
    np.testing.assert_allclose(got, model.encode(signal, stride=32), atol=1e-4)
