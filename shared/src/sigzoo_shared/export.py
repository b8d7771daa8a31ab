"""ONNX export of a package's inference model, its parity with PyTorch, and its speed on one CPU thread.

Deployment targets (a gateway, an edge box, a browser) run ONNX Runtime, not PyTorch. A package's
`export` verb hands its eval-mode model and one example input here; the file is written atomically, and
`parity` reruns both on fresh inputs of other sizes along the dynamic axes, since an exporter that
froze a batch or time length would pass a check at the example's shape only. The exporter is PyTorch's
`torch.export`-based one (`dynamo=True`), which needs `onnxscript`; both it and `onnxruntime` come with
the `sigzoo-shared[export]` extra and are imported only when used.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch loads only when a verb runs: `<pkg> --help` stays fast
    import numpy as np
    import torch

from sigzoo_shared.errors import ConfigError
from sigzoo_shared.io import _FILE_MODE

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


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporter's libraries log every graph pass at INFO: a user of `export` wants one line."""
    loggers = [
        logging.getLogger(n) for n in ("onnxscript", "onnx_ir", "torch.onnx", "torch.export")
    ]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def export_onnx(
    model: torch.nn.Module,
    example: Sequence[torch.Tensor],
    path: Path | str,
    *,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: Mapping[str, Mapping[int, str]] | None = None,
    optimize: bool = True,
) -> Path:
    """Write `model` (put in eval mode) as ONNX to `path`; `dynamic_axes`: input -> {dim: name}.

    `optimize=False` skips the exporter's graph optimisation, which for a model whose loop is
    unrolled (a step-by-step decoder) takes minutes while changing little at run time.
    """
    import torch

    _require("onnxscript")
    path = Path(path)
    model = model.eval()
    shapes = None
    if dynamic_axes:
        dims: dict[str, Any] = {}
        # positional, not by name: the exporter matches dict keys to forward()'s argument names,
        # which a wrapper module need not share with the ONNX input names
        shapes = tuple(
            {
                axis: dims.setdefault(label, torch.export.Dim(label, min=1))
                for axis, label in dynamic_axes.get(name, {}).items()
            }
            or None
            for name in input_names
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with torch.no_grad(), _quiet_exporter():
            program = torch.onnx.export(
                model,
                tuple(example),
                dynamo=True,
                input_names=list(input_names),
                output_names=list(output_names),
                dynamic_shapes=shapes,
                verbose=False,
                optimize=optimize,
            )
        program.save(tmp)
        os.chmod(tmp, _FILE_MODE)  # as open() would make it, not mkstemp's 0600
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
    import numpy as np
    import torch

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
    import torch

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


# ------------------------------------------------------------------------------- the export verb


@dataclass
class ExportSpec:
    """What a package hands the `export` verb: its inference path as a tensor-in, tensor-out module.

    `module` wraps the model so that forward takes plain tensors (already normalised the way `notes`
    says) and returns what the package's API scores with. `check_inputs` are input sets of other sizes
    along the dynamic axes, for the parity check. `notes` (units, normalisation, output meaning, sample
    rate) go into the sidecar JSON, since an .onnx file alone does not tell a deployer how to feed it.
    """

    module: torch.nn.Module
    example: tuple[torch.Tensor, ...]
    input_names: Sequence[str]
    output_names: Sequence[str]
    dynamic_axes: Mapping[str, Mapping[int, str]] = field(default_factory=dict)
    check_inputs: Sequence[Sequence[torch.Tensor]] = ()
    notes: Mapping[str, Any] = field(default_factory=dict)
    optimize: bool = True  # False: skip the exporter's slow graph optimisation (unrolled loops)


def export_torchscript(
    model: torch.nn.Module, example: Sequence[torch.Tensor], path: Path | str
) -> Path:
    """Trace `model` to TorchScript at `path`, atomically: for models ONNX cannot express."""
    import torch

    from sigzoo_shared.io import atomic_write

    model = model.eval()
    with torch.no_grad():
        traced = torch.jit.trace(model, tuple(example), check_trace=False)
    return atomic_write(path, lambda f: torch.jit.save(traced, f))


def torchscript_parity(
    model: torch.nn.Module, path: Path | str, inputs: Sequence[Sequence[torch.Tensor]]
) -> float:
    """The largest |TorchScript - eager| over every output of every input set."""
    import torch

    # our own export, read back for the check; a user's file never goes through torch.jit.load here
    scripted = torch.jit.load(str(path))
    worst = 0.0
    for args in inputs:
        with torch.no_grad():
            want, got = model.eval()(*args), scripted(*args)
        want = want if isinstance(want, (tuple, list)) else (want,)
        got = got if isinstance(got, (tuple, list)) else (got,)
        for w, g in zip(want, got):
            worst = max(worst, float((w - g).abs().max()))
    return worst


def add_export_verb(sub: Any) -> argparse.ArgumentParser:
    """`<pkg> export (--run-dir R | --pretrained NAME) --out F [--format onnx|torchscript]`.

    Returns the verb's parser, for a package's own options (e.g. which of its models to export).
    """
    p = sub.add_parser("export", help="write the inference model as ONNX (or TorchScript)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--run-dir", type=Path, help="a training run (its best checkpoint)")
    source.add_argument("--pretrained", help="a shipped model (see `pretrained list`)")
    p.add_argument("--out", type=Path, required=True, help="the file to write, e.g. model.onnx")
    p.add_argument("--format", choices=("onnx", "torchscript"), default="onnx")
    p.add_argument(
        "--no-check",
        action="store_true",
        help=f"skip the parity check (max abs diff <= {PARITY_ATOL})",
    )
    return p


def write_export(spec: ExportSpec, out: Path | str, fmt: str = "onnx", check: bool = True) -> dict:
    """Export `spec` to `out`, check parity on its inputs, write `out`.json; return that record.

    A parity above PARITY_ATOL is a ConfigError after the files are written, naming the figure, so
    a deployer never ships a model that silently computes something else.
    """
    import platform

    import torch

    from sigzoo_shared.io import atomic_write_json

    out = Path(out)
    if fmt == "onnx":
        export_onnx(
            spec.module,
            spec.example,
            out,
            input_names=spec.input_names,
            output_names=spec.output_names,
            dynamic_axes=spec.dynamic_axes,
            optimize=spec.optimize,
        )
    else:
        export_torchscript(spec.module, spec.example, out)
    inputs = [spec.example, *spec.check_inputs]
    worst = None
    if check:
        worst = (parity if fmt == "onnx" else torchscript_parity)(spec.module, out, inputs)
    record = {
        "format": fmt,
        "file": out.name,
        "inputs": {
            name: {"shape": list(x.shape), "dtype": str(x.dtype).replace("torch.", "")}
            for name, x in zip(spec.input_names, spec.example)
        },
        "outputs": list(spec.output_names),
        "dynamic_axes": {
            k: {str(a): n for a, n in v.items()} for k, v in spec.dynamic_axes.items()
        },
        "notes": dict(spec.notes),
        "parity_max_abs_diff": worst,
        "parity_inputs": [[list(x.shape) for x in args] for args in inputs] if check else [],
        "parity_tolerance": PARITY_ATOL,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    atomic_write_json(out.with_name(out.name + ".json"), record)
    if worst is not None and worst > PARITY_ATOL:
        raise ConfigError(
            f"{out}: exported model differs from PyTorch by {worst:.2e} (tolerance {PARITY_ATOL})"
        )
    return record


def dispatch_export(
    args: Any, load: Callable[[Any], Any], spec: Callable[[Any], ExportSpec]
) -> bool:
    """Run the `export` verb: `load(args)` -> LoadedRun, `spec(loaded)` -> ExportSpec; False otherwise."""
    if getattr(args, "command", None) != "export":
        return False
    record = write_export(spec(load(args)), args.out, args.format, check=not args.no_check)
    figure = record["parity_max_abs_diff"]
    parity_text = "not checked" if figure is None else f"max abs diff {figure:.1e} vs PyTorch"
    print(f"exported {args.out} ({args.format}; {parity_text}; details in {args.out}.json)")
    return True
