"""Grid search writes one row per combination, reuses models across thresholds and resumes."""

import csv
import dataclasses
from pathlib import Path

from resp_mhavae.grid import grid_search


def test_grid_search_covers_the_grid_and_resumes_without_retraining(
    recording: Path, tmp_path: Path, tiny
) -> None:
    cfg = tiny(recording)
    cfg = dataclasses.replace(
        cfg,
        detect=dataclasses.replace(cfg.detect, baselines=[]),
        train=dataclasses.replace(cfg.train, epochs=1),
        lstm=dataclasses.replace(cfg.lstm, epochs=1),
        grid=dataclasses.replace(
            cfg.grid, l_win=[24, 48], look_back_num=[1], threshold_percent=[80.0, 90.0]
        ),
    )
    out = grid_search(cfg, tmp_path / "grid")
    rows = list(csv.DictReader(out.open()))
    assert {(r["l_win"], r["threshold_percent"]) for r in rows} == {
        ("24", "80.0"),
        ("24", "90.0"),
        ("48", "80.0"),
        ("48", "90.0"),
    }
    assert {r["method"] for r in rows} == {"mhavae"}
    ckpt = (
        tmp_path
        / "grid"
        / f"{recording.stem}_lwin24_lb1"
        / "mhavae"
        / "lstm"
        / "checkpoints"
        / "best.pt"
    )
    assert ckpt.is_file()
    stamp = ckpt.stat().st_mtime_ns
    grid_search(cfg, tmp_path / "grid")  # everything done: nothing retrained, no duplicate rows
    assert ckpt.stat().st_mtime_ns == stamp
    assert len(list(csv.DictReader(out.open()))) == len(rows)
