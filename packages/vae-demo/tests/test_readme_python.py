"""The README's "From Python" blocks run as a user would paste them (offline, the shipped model)."""

from __future__ import annotations

from pathlib import Path

from sigzoo_shared.readme import run_python_blocks

README = Path(__file__).resolve().parents[1] / "README.md"


def test_from_python_blocks_run(tmp_path: Path, capsys) -> None:
    names = run_python_blocks(README, section="From Python", cwd=tmp_path)
    out = capsys.readouterr().out
    assert "of the windows in their own pattern's cluster" in out
    assert "expected (samples, 7)" in out
    assert names["z"].shape == (24, 2)
    assert (tmp_path / "encoder.onnx").is_file() and (tmp_path / "encoder.onnx.json").is_file()
