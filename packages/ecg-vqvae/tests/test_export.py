"""`ecg-vqvae export`: the ONNX graph computes what the Python API computes (float32, max abs diff
<= 1e-4 on batch sizes other than the exported example's)."""

from __future__ import annotations

import json
from pathlib import Path

import ecg_vqvae
import numpy as np
import pytest
from ecg_vqvae.baselines import repeat_last_beat
from ecg_vqvae.cli import main
from sigzoo_shared.export import PARITY_ATOL

pytest.importorskip("onnxscript", reason="ONNX export needs sigzoo-shared[export]")
ort = pytest.importorskip("onnxruntime", reason="ONNX export needs sigzoo-shared[export]")


def test_forecaster_exports_with_parity_and_sidecar(
    tiny_runs: tuple[Path, Path], tmp_path: Path, capsys
) -> None:
    out = tmp_path / "ecg.onnx"
    assert main(["export", "--run-dir", str(tiny_runs[1]), "--out", str(out)]) == 0
    assert "max abs diff" in capsys.readouterr().out
    meta = json.loads((tmp_path / "ecg.onnx.json").read_text())
    assert meta["parity_max_abs_diff"] <= PARITY_ATOL == 1e-4
    assert {shapes[0][0] for shapes in meta["parity_inputs"]} == {1, 2, 5}  # batch is dynamic
    assert list(meta["inputs"]) == ["window", "prior"]
    assert meta["outputs"] == ["reconstruction", "forecast", "beats"]
    assert meta["notes"]["sample_rate_hz"] == 360

    # the graph on real windows of a record gives the API's reconstruction, point and beat forecasts
    model = ecg_vqvae.load_run(tiny_runs[1])
    x = model.read_record(Path(model.config.data.data_dir) / "s005")  # (2, n)
    w = model.window_samples
    windows = np.stack([x[:, i * w : (i + 1) * w] for i in range(3)])  # (3, 2, W)
    priors = np.stack([repeat_last_beat(c, model.horizon_samples, model.fs) for c in windows])
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    recon, forecast, beats = session.run(
        None, {"window": windows, "prior": priors.astype(np.float32)}
    )  # (3, 2, W), (3, 2, F), (3, 2, F)
    np.testing.assert_allclose(
        recon.transpose(1, 0, 2).reshape(2, -1), model.reconstruct(x[:, : 3 * w]), atol=1e-4
    )
    for i in range(3):
        fc = model.forecast(x[:, : (i + 1) * w], samples=0)
        np.testing.assert_allclose(forecast[i], fc.point, atol=1e-4)
        np.testing.assert_allclose(beats[i], fc.beats, atol=1e-4)


def test_a_vqvae_run_exports_its_reconstruction(
    tiny_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "vq.onnx"
    assert main(["export", "--run-dir", str(tiny_runs[0]), "--out", str(out)]) == 0
    meta = json.loads((tmp_path / "vq.onnx.json").read_text())
    assert meta["outputs"] == ["reconstruction"] and list(meta["inputs"]) == ["window"]
    assert meta["parity_max_abs_diff"] <= PARITY_ATOL
