"""`resp-mhavae leaderboard`, the NAB protocol, "not scorable" series, bad input and one source of defaults."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np
import pytest
from resp_mhavae.cli import main
from resp_mhavae.config import Config, LeaderboardConfig
from resp_mhavae.data import load_recording, prepare
from resp_mhavae.generator import write_collected, write_nab
from resp_mhavae.leaderboard import find_series, leaderboard, series_config
from sigzoo_shared.errors import DataError


def _early_nab(tmp_path: Path) -> Path:
    """A NAB tree whose only labelled window lies at 20-24 % of the rows."""
    csv_path = write_nab(tmp_path / "nab", n_rows=3000, seed=3)
    stamps = [line.split(",")[0] for line in csv_path.read_text().splitlines()[1:]]
    labels = tmp_path / "nab" / "labels" / "combined_windows.json"
    labels.write_text(json.dumps({"realKnownCause/synthetic.csv": [[stamps[600], stamps[720]]]}))
    return csv_path


def test_nab_protocol_uses_no_label_for_training_and_scores_after_probation(tmp_path: Path) -> None:
    csv_path = _early_nab(tmp_path)
    base = Config()
    cfg = series_config(base, find_series([str(csv_path)])[0], "nab")
    assert cfg.data.l_win == 75  # one day = 288 five-minute rows, capped at rows / 40
    rec = load_recording(cfg.data)
    p = prepare(rec, cfg.data)
    L = cfg.data.l_win
    assert np.flatnonzero(p.split == 2)[0] * L == 6 * L  # 15 % of 40 windows: 6 probation windows
    chrono = prepare(rec, dataclasses.replace(cfg.data, split="chronological"))
    assert (chrono.split == 2).sum() < (p.split == 2).sum()


def test_leaderboard_scores_every_method_and_marks_unscorable_series(
    tmp_path: Path, tiny, caplog: pytest.LogCaptureFixture
) -> None:
    collected = write_collected(tmp_path / "rec", "synthetic_1", n_rows=3600, seed=2)
    early = _early_nab(tmp_path)
    cfg = tiny(None)
    cfg = dataclasses.replace(
        cfg,
        leaderboard=LeaderboardConfig(series=[str(collected), str(early)], seeds=[0]),
    )
    with caplog.at_level(logging.WARNING):
        md = leaderboard(cfg, tmp_path / "lb")
    assert "holds no labelled anomaly; not scorable" in caplog.text
    rows = json.loads((tmp_path / "lb" / "leaderboard.json").read_text())["rows"]
    methods = {r["method"] for r in rows}
    assert methods == {"mhavae", *cfg.score.detectors}
    for r in rows:
        if r["series"] == "synthetic" and r["split"] == "chronological":
            assert r["scorable"] is False and r["vus_pr"] is None  # never 0
        else:
            assert r["scorable"] and 0 <= r["vus_pr"] <= 1
    text = md.read_text()
    assert "not scorable" in text and "MHA-VAE-LSTM" in text and "IsolationForest" in text
    assert (tmp_path / "lb" / "figures" / "leaderboard_vus_pr.png").stat().st_size > 1000
    # planted breathing anomalies: the best detector is far above chance on the collected series
    best = max(
        r["vus_pr"] for r in rows if r["series"] == "synthetic_1" and r["split"] == "chronological"
    )
    prevalence = next(r["prevalence"] for r in rows if r["series"] == "synthetic_1")
    assert best > 1.5 * prevalence


def _nab_file(tmp_path: Path, values: list[float], windows: list[list[str]] | None = None) -> Path:
    root = tmp_path / "nab"
    csv_path = root / "data" / "realKnownCause" / "x.csv"
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    stamps = [f"2014-01-01 {h:02d}:{m:02d}:00" for h in range(24) for m in range(0, 60, 5)]
    csv_path.write_text("timestamp,value\n" + "".join(f"{s},{v}\n" for s, v in zip(stamps, values)))
    labels = root / "labels" / "combined_windows.json"
    labels.parent.mkdir(parents=True, exist_ok=True)
    labels.write_text(json.dumps({"realKnownCause/x.csv": windows or []}))
    return csv_path


@pytest.mark.parametrize(
    "case, message",
    [
        ("short", "shorter than one window plus the look-back"),
        ("constant", "constant over all"),
        ("outside", "lies outside the series"),
    ],
)
def test_bad_series_is_one_line_and_leaves_nothing(
    tmp_path: Path, case: str, message: str, capsys
) -> None:
    rng = np.random.default_rng(0)
    if case == "short":
        path = _nab_file(tmp_path, list(rng.random(20)))
    elif case == "constant":
        path = _nab_file(tmp_path, [3.0] * 288)
    else:
        path = _nab_file(
            tmp_path, list(rng.random(288)), [["2015-01-01 00:00:00", "2015-01-02 00:00:00"]]
        )
    run = tmp_path / "lb"
    code = main(["leaderboard", "--run-dir", str(run), "--series", str(path), "data.l_win=96"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and path.name in err and message in err, err
    assert not run.exists()
    with pytest.raises(DataError, match="lies outside|constant|shorter"):
        series = find_series([str(path)])[0]
        cfg = series_config(Config(), series, "chronological")
        prepare(load_recording(cfg.data), cfg.data)
