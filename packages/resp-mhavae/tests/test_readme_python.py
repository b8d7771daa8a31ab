"""The README's "From Python" examples run as written (offline, with the shipped model)."""

from pathlib import Path

from sigzoo_shared.readme import run_python_blocks

README = Path(__file__).resolve().parents[1] / "README.md"


def test_from_python_blocks_run(tmp_path: Path) -> None:
    namespace = run_python_blocks(README, "From Python", cwd=tmp_path)
    scores, values = namespace["scores"], namespace["values"]
    assert scores.shape == (len(values),)
    # the burst the example plants scores above the rest
    assert scores[1200:1230].mean() > 3 * float(__import__("numpy").median(scores))
