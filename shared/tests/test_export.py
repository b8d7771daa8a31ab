"""ONNX export: a recurrent model exported once runs in ONNX Runtime at other batch and time sizes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from sigzoo_shared.errors import ConfigError
from sigzoo_shared.export import PARITY_ATOL, export_onnx, parity, speed_rows


class Tagger(torch.nn.Module):
    """An LSTM tagger: the hardest common case (recurrence, dynamic time length)."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = torch.nn.LSTM(6, 16, batch_first=True)
        self.head = torch.nn.Linear(16, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, 6) -> (B, T, 5)
        y, _ = self.lstm(x)
        return self.head(y)


def test_export_matches_pytorch_at_other_shapes(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = Tagger()
    path = export_onnx(
        model,
        (torch.randn(2, 40, 6),),
        tmp_path / "tagger.onnx",
        input_names=["x"],
        output_names=["logits"],
        dynamic_axes={"x": {0: "batch", 1: "time"}},
    )
    assert path.is_file() and not list(tmp_path.glob(".*.tmp"))
    gap = parity(model, path, [(torch.randn(1, 7, 6),), (torch.randn(3, 123, 6),)])
    assert gap <= PARITY_ATOL
    rows = speed_rows(model, path, (torch.randn(1, 200, 6),), repeat=3)
    assert [r["runtime"] for r in rows] == ["PyTorch (1 thread)", "ONNX Runtime (1 thread)"]
    assert all(r["median_ms"] > 0 for r in rows)


def test_a_missing_runtime_is_a_clear_error(monkeypatch) -> None:
    import importlib

    real = importlib.import_module

    def no_onnxscript(name: str, *args):
        if name == "onnxscript":
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", no_onnxscript)
    with pytest.raises(ConfigError, match=r"sigzoo-shared\[export\]"):
        export_onnx(
            Tagger(), (torch.randn(1, 4, 6),), "x.onnx", input_names=["x"], output_names=["y"]
        )
