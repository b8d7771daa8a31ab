"""ONNX export of a package's inference model, its parity with PyTorch, and its speed on one CPU thread.

Deployment targets (a gateway, an edge box, a browser) run ONNX Runtime, not PyTorch. A package's
`export` verb hands its eval-mode model and one example input here; the file is written atomically, and
`parity` reruns both on fresh inputs of other sizes along the dynamic axes, since an exporter that
froze a batch or time length would pass a check at the example's shape only. The exporter is PyTorch's
`torch.export`-based one (`dynamo=True`), which needs `onnxscript`; both it and `onnxruntime` come with
the `sigzoo-shared[export]` extra and are imported only when used.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sigzoo_shared.errors import ConfigError

log = logging.getLogger(__name__)

# float32 through a different kernel library: differences of ~1e-6 are rounding, 1e-4 is a real change
PARITY_ATOL = 1e-4


def _require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ConfigError(
            f"ONNX export needs {module}: pip install 'sigzoo-shared[export]'"
        ) from err


def export_onnx(
    model: torch.nn.Module,
    example: Sequence[torch.Tensor],
    path: Path | str,
    *,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: Mapping[str, Mapping[int, str]] | None = None,
) -> Path:
    """Write `model` (put in eval mode) as ONNX to `path`; `dynamic_axes`: input -> {dim: name}."""
    _require("onnxscript")
    path = Path(path)
    model = model.eval()
    shapes = None
    if dynamic_axes:
        dims: dict[str, Any] = {}
        shapes = {
            name: {
                axis: dims.setdefault(label, torch.export.Dim(label, min=1))
                for axis, label in dynamic_axes.get(name, {}).items()
            }
            or None
            for name in input_names
        }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with torch.no_grad():
            program = torch.onnx.export(
                model,
                tuple(example),
                dynamo=True,
                input_names=list(input_names),
                output_names=list(output_names),
                dynamic_shapes=shapes,
            )
        program.save(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def onnx_session(path: Path | str, threads: int = 1) -> Any:
    """An ONNX Runtime CPU session limited to `threads` threads (1: the edge-device case)."""
    ort = _require("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_onnx(session: Any, inputs: Sequence[torch.Tensor]) -> list[np.ndarray]:
    names = [i.name for i in session.get_inputs()]
    return session.run(None, {n: x.detach().cpu().numpy() for n, x in zip(names, inputs)})


def parity(
    model: torch.nn.Module, path: Path | str, inputs: Sequence[Sequence[torch.Tensor]]
) -> float:
    """The largest |ONNX Runtime - PyTorch| over every output of every input set (float32)."""
    session = onnx_session(path)
    worst = 0.0
    model = model.eval()
    for args in inputs:
        with torch.no_grad():
            expected = model(*args)
        expected = expected if isinstance(expected, (tuple, list)) else (expected,)
        got = run_onnx(session, args)
        if len(got) != len(expected):
            raise ConfigError(f"{path}: {len(got)} outputs, PyTorch gives {len(expected)}")
        for e, g in zip(expected, got):
            worst = max(worst, float(np.max(np.abs(e.detach().cpu().numpy() - g))))
    return worst


def speed_rows(
    model: torch.nn.Module, path: Path | str, inputs: Sequence[torch.Tensor], repeat: int = 20
) -> list[dict[str, Any]]:
    """Median latency of PyTorch and ONNX Runtime on one CPU thread for the same input."""
    from sigzoo_shared.bench import time_fn

    session = onnx_session(path, threads=1)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            torch_t = time_fn(lambda: model(*inputs), warmup=3, repeat=repeat)
        onnx_t = time_fn(lambda: run_onnx(session, inputs), warmup=3, repeat=repeat)
    finally:
        torch.set_num_threads(threads)
    shape = " x ".join("x".join(map(str, x.shape)) for x in inputs)
    return [
        {"runtime": "PyTorch (1 thread)", "input": shape, "median_ms": torch_t["median_s"] * 1e3},
        {
            "runtime": "ONNX Runtime (1 thread)",
            "input": shape,
            "median_ms": onnx_t["median_s"] * 1e3,
        },
    ]
