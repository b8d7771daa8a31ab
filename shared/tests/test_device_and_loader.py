"""Device choice, seeding, AMP dtype, loader defaults, and shuffling that depends only on (seed, epoch)."""

from __future__ import annotations

import pytest
import torch
from sigzoo_shared.device import (
    amp_dtype,
    loader_defaults,
    memory_report,
    resolve_device,
    seed_everything,
)
from sigzoo_shared.errors import ConfigError
from sigzoo_shared.loader import make_loader, set_epoch
from torch.utils.data import TensorDataset


def test_auto_device_and_explicit_cpu() -> None:
    assert resolve_device("cpu").type == "cpu"
    expected = "cuda" if torch.cuda.is_available() else resolve_device("auto").type
    assert resolve_device("auto").type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="machine has CUDA")
def test_unavailable_cuda_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="CUDA is not available"):
        resolve_device("cuda")
    with pytest.raises(ConfigError, match="unknown device 'gpu0'"):
        resolve_device("gpu0")


def test_amp_dtype_rules() -> None:
    cpu = torch.device("cpu")
    assert amp_dtype(cpu, "auto") is None and amp_dtype(cpu, "off") is None
    with pytest.raises(ConfigError, match="needs a CUDA device"):
        amp_dtype(cpu, "fp16")
    assert amp_dtype(cpu, "bf16") is torch.bfloat16  # explicit opt-in on CPU
    if torch.cuda.is_available():
        assert amp_dtype(torch.device("cuda"), "fp16") is torch.float16


def test_loader_defaults_and_memory_report() -> None:
    opts = loader_defaults(torch.device("cpu"), num_workers=0)
    assert opts == {"num_workers": 0, "pin_memory": False, "persistent_workers": False}
    assert loader_defaults(torch.device("cuda"), num_workers=2)["pin_memory"] is True
    assert memory_report(torch.device("cpu"))["peak_rss_mb"] > 10


def test_seeding_is_reproducible() -> None:
    seed_everything(7)
    a = torch.rand(3)
    seed_everything(7)
    assert torch.equal(a, torch.rand(3))


def order(loader) -> list[int]:
    return [int(i) for (batch,) in loader for i in batch]


def test_shuffle_depends_only_on_seed_and_epoch() -> None:
    ds = TensorDataset(torch.arange(20))
    loader = make_loader(ds, 4, shuffle=True, seed=5)
    set_epoch(loader, 0)
    first = order(loader)
    torch.rand(100)  # global RNG use must not change the order
    set_epoch(loader, 0)
    assert order(loader) == first
    set_epoch(loader, 1)
    second = order(loader)
    assert second != first and sorted(second) == list(range(20))
    assert order(make_loader(ds, 4)) == list(range(20))
