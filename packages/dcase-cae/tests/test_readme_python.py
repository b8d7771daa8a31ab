"""The README's "From Python" examples run as written (offline: shipped weights, generated audio)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sigzoo_shared.readme import run_python_blocks

README = Path(__file__).resolve().parents[1] / "README.md"


def test_from_python_blocks_run(tmp_path: Path) -> None:
    names = run_python_blocks(README, section="From Python", cwd=tmp_path)
    assert names["scores"].shape == (2,) and np.isfinite(names["scores"]).all()
    assert names["flags"].shape == (1,)
    assert (tmp_path / "clip.wav").is_file()
