"""The README's "From Python" blocks run as written (offline: the shipped model, synthetic data)."""

from __future__ import annotations

from pathlib import Path

from sigzoo_shared.readme import run_python_blocks

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_from_python_runs(tmp_path: Path) -> None:
    namespace = run_python_blocks(README, section="From Python", cwd=tmp_path)
    model, x = namespace["model"], namespace["x"]
    assert x.shape == (2, 30 * 360) and namespace["x_hat"].shape == x.shape
    assert namespace["fc"].samples.shape == (8, 2, model.horizon_samples)
    assert namespace["ana"].shape == namespace["nearest"].shape == (2, model.horizon_samples)
