"""Device choice, seeding and determinism, AMP dtype, DataLoader defaults and a memory report.

Everything that differs between a laptop CPU, an Apple GPU and a CUDA box is decided here, once, so the
Trainer and the packages never test `torch.cuda.is_available()` themselves.
"""

from __future__ import annotations

import os
import random
import resource
import sys
from typing import Literal

import numpy as np
import torch

from sigzoo_shared.errors import ConfigError

AmpChoice = Literal["auto", "off", "bf16", "fp16"]


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` picks cuda > mps > cpu; an explicit name that is not available is an error, not a fallback."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ConfigError(
            f"train.device: unknown device {name!r} (use auto, cpu, cuda, cuda:N or mps)"
        ) from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"train.device: {name!r} requested but CUDA is not available (use auto or cpu)"
        )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(
            f"train.device: {name!r} requested but MPS is not available (use auto or cpu)"
        )
    return device


def seed_everything(seed: int, deterministic: bool = False, cudnn_benchmark: bool = False) -> None:
    """Seed python, numpy and torch (all devices); optionally force deterministic kernels.

    Deterministic mode trades speed for bit-exact reruns: it disables cudnn.benchmark and sets the cuBLAS
    workspace variable that deterministic matmuls need on CUDA.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    else:
        torch.backends.cudnn.benchmark = cudnn_benchmark


def seed_worker(worker_id: int) -> None:
    """DataLoader `worker_init_fn`: derive numpy/python seeds from the torch seed torch gave this worker."""
    worker_seed = torch.initial_seed() % 2**32
    np.random.seed(worker_seed)
    random.seed(worker_seed)


def amp_dtype(device: torch.device, choice: AmpChoice = "auto") -> torch.dtype | None:
    """The autocast dtype for this device, or None for full precision.

    On CUDA `auto` takes bf16 when the GPU supports it (no loss scaling needed), else fp16 (the Trainer
    then uses a GradScaler). On CPU `auto` means off, and `bf16` is an explicit opt-in: CPUs with bf16
    matrix units (Intel AMX, avx512_bf16) run convolutions faster under bf16 autocast, but
    older CPUs emulate it and run slower, and the reduced precision should be checked against a
    full-precision run before results are compared. fp16 autocast is CUDA-only (it needs loss scaling).
    """
    if choice == "off":
        return None
    if device.type == "cpu" and choice == "bf16":
        return torch.bfloat16
    if device.type != "cuda":
        if choice in ("bf16", "fp16"):
            raise ConfigError(
                f"train.amp={choice!r} needs a CUDA device, got {device} "
                f"(on CPU only bf16 is supported; use auto or off)"
            )
        return None
    if choice == "bf16" or (choice == "auto" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16
    return torch.float16


def loader_defaults(device: torch.device, num_workers: int | None = None) -> dict[str, object]:
    """num_workers / pin_memory / persistent_workers suited to this machine.

    Small machines gain nothing from worker processes for in-memory tensors (and pay their start-up), so
    `auto` uses workers only with more than 4 cores; pinned memory only helps host-to-CUDA copies.
    """
    if num_workers is None:
        cores = os.cpu_count() or 1
        num_workers = 0 if cores <= 4 else min(8, cores // 2)
    return {
        "num_workers": num_workers,
        "pin_memory": device.type == "cuda",
        "persistent_workers": num_workers > 0,
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def memory_report(device: torch.device) -> dict[str, float]:
    """Peak host RSS and, on CUDA, peak allocated/reserved device memory, all in MiB."""
    report = {"peak_rss_mb": round(peak_rss_mb(), 1)}
    if device.type == "cuda":
        report["cuda_max_allocated_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
        report["cuda_max_reserved_mb"] = round(torch.cuda.max_memory_reserved(device) / 2**20, 1)
    return report
