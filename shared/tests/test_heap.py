"""Heap reuse on CPU: large freed blocks are reused instead of re-mapped, and no number changes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from sigzoo_shared import EpochMetrics
from sigzoo_shared.heap import _glibc, heap_depth, heap_reuse
from test_trainer import fit
from torch import nn

needs_glibc = pytest.mark.skipif(
    _glibc() is None, reason="mallopt is glibc's (Linux with glibc only)"
)


FAULTS = """
import resource, sys
import torch
from torch import nn
from sigzoo_shared.heap import heap_reuse

torch.manual_seed(0)
model = nn.Sequential(nn.Conv1d(2, 64, 3, padding=1), nn.ReLU(), nn.Conv1d(64, 2, 3, padding=1))
x = torch.randn(16, 2, 16384)  # activations of 64 MB, above glibc's largest mmap threshold (32 MB)
opt = torch.optim.Adam(model.parameters(), 1e-3)
with heap_reuse(sys.argv[1] == "on"):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(4):
        loss = ((model(x) - x) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def training_page_faults(mode: str) -> int:
    """Minor page faults of 4 training steps in a fresh process (the test process's own heap layout
    depends on what earlier tests loaded)."""
    out = subprocess.run(
        [sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, check=True
    )
    return int(out.stdout.split()[-1])


@needs_glibc
def test_training_steps_reuse_freed_activations_instead_of_remapping_them() -> None:
    """Without the block every large activation is a fresh mapping the kernel faults in page by page."""
    plain = training_page_faults("off")
    reused = training_page_faults("on")
    assert plain > 100_000
    assert reused < plain / 3


def two_steps(reuse: bool) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(2, 64, 9, padding=4), nn.ReLU(), nn.Conv1d(64, 2, 9, padding=4))
    x = torch.randn(8, 2, 4096)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    with heap_reuse(reuse), heap_reuse(reuse):  # nested: only the outer block acts
        for _ in range(2):
            loss = ((model(x) - x) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.state_dict()


def test_training_inside_the_block_is_bit_identical() -> None:
    plain, reused = two_steps(False), two_steps(True)
    for key in plain:
        torch.testing.assert_close(plain[key], reused[key], rtol=0, atol=0)
    assert heap_depth() == 0


@needs_glibc
def test_the_block_closes_on_an_error() -> None:
    with pytest.raises(RuntimeError), heap_reuse():
        assert heap_depth() == 1
        raise RuntimeError("a failing step")
    assert heap_depth() == 0


@needs_glibc
def test_the_trainer_reuses_the_heap_on_cpu_while_it_trains(tmp_path: Path) -> None:
    depths: list[int] = []
    fit(tmp_path, callbacks=[EpochMetrics(lambda t, m, e: depths.append(heap_depth()) or {})])
    assert depths == [1, 1, 1]
    assert heap_depth() == 0
