"""The README's "From Python" blocks run as written (offline, on the shipped model)."""

from __future__ import annotations

from pathlib import Path

from sigzoo_shared.readme import run_python_blocks

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run(tmp_path) -> None:
    ns = run_python_blocks(README, section="From Python", cwd=tmp_path)
    # the shipped model finds most of the generated events of a stream it never saw
    assert 0.8 * len(ns["rec"].events) <= len(ns["events"]) <= 1.1 * len(ns["rec"].events)
    assert ns["res"]["present"].shape == (8, 16)
