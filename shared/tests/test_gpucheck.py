"""`nox -s gpu`: skips with one line without CUDA; with it, fp32 vs AMP losses compared per package."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from sigzoo_shared.gpucheck import compare, final_losses, main


def test_without_cuda_it_skips_with_one_clear_line(capsys) -> None:
    assert main(["dcase-cae"], has_cuda=lambda: False) == 0
    assert capsys.readouterr().out == (
        "gpu: skipped: no CUDA device visible (torch.cuda.is_available() is False)\n"
    )


def test_the_module_runs_as_a_script_here() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sigzoo_shared.gpucheck", "vae-demo"],
        capture_output=True,
        text=True,
        check=False,
    )
    import torch

    if not torch.cuda.is_available():
        assert done.returncode == 0 and done.stdout.startswith("gpu: skipped")


def fake_runner(loss_of: dict[str, float]):
    """Writes the metrics a package run would, with the loss each AMP setting gives."""

    def run(cmd: list[str]) -> int:
        run_dir = Path(cmd[cmd.index("--run-dir") + 1])
        amp = next(c.split("=")[1] for c in cmd if c.startswith("train.amp="))
        (run_dir / "phase2").mkdir(parents=True, exist_ok=True)
        for folder in (run_dir, run_dir / "phase2"):
            (folder / "metrics.jsonl").write_text(
                json.dumps({"epoch": 0, "train_loss": 9.0, "val_auc": 0.5})
                + "\n"
                + json.dumps({"epoch": 1, "train_loss": loss_of[amp], "val_loss": 1.0})
                + "\n"
            )
        return 0

    return run


def test_losses_within_tolerance_pass_and_nan_fails(tmp_path: Path, capsys) -> None:
    ok = main(
        ["pkg", "--out", str(tmp_path / "a")],
        run=fake_runner({"off": 1.0, "auto": 1.02}),
        has_cuda=lambda: True,
    )
    assert ok == 0
    table = (tmp_path / "a" / "gpu.md").read_text()
    assert "| pkg | yes | 0.02 |" in table
    assert final_losses(tmp_path / "a" / "pkg" / "amp-off") == {
        "train_loss": 1.0,
        "val_loss": 1.0,
        "phase2/train_loss": 1.0,
        "phase2/val_loss": 1.0,
    }
    bad = main(
        ["pkg", "--out", str(tmp_path / "b")],
        run=fake_runner({"off": 1.0, "auto": float("nan")}),
        has_cuda=lambda: True,
    )
    assert bad == 1 and "| pkg | NO |" in (tmp_path / "b" / "gpu.md").read_text()


def test_compare_needs_the_same_losses_and_finite_values() -> None:
    ok, gap = compare({"l": 2.0}, {"l": 2.08})
    assert ok and gap == pytest.approx(0.04)
    assert compare({"l": 2.0}, {"l": 2.5})[0] is False
    ok, gap = compare({"l": 2.0}, {})
    assert ok is False and math.isnan(gap)
