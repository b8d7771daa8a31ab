"""A small check on the real recordings beside the repository; skipped when they are absent."""

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
from resp_mhavae.config import DataConfig
from resp_mhavae.data import load_recording, prepare
from resp_mhavae.evaluate import isolation_forest_scores

DATA_ROOT = Path(
    os.environ.get(
        "SIGZOO_SHARED_DATA", Path(__file__).resolve().parents[3].parent / "shared" / "data"
    )
)
RESP = DATA_ROOT / "resp-collected"
NAB = DATA_ROOT / "nab"


@pytest.mark.skipif(not RESP.is_dir(), reason=f"real recordings not found at {RESP}")
@pytest.mark.parametrize(
    "name, rows, start", [("nosein_noseout_1", 7409, 90), ("nosein_noseout_3", 9714, 189)]
)
def test_collected_recordings_load_with_their_intervals(name: str, rows: int, start: int) -> None:
    cfg = DataConfig(path=RESP / f"sensor_data_{name}_with_anomalies.csv", l_win=96)
    rec = load_recording(cfg)
    assert rec.values.shape == (rows - start, 3)
    assert 20 < rec.sample_rate_hz < 30
    runs = np.diff(np.concatenate([[0], rec.labels, [0]]))
    assert (runs == 1).sum() == 7  # seven labelled intervals
    p = prepare(rec, cfg)
    s = isolation_forest_scores(p, seed=0)["score"]
    assert np.isfinite(s).all() and len(s) == len(p.windows)


@pytest.mark.skipif(not NAB.is_dir(), reason=f"NAB not found at {NAB}")
def test_nab_series_loads_with_its_windows() -> None:
    path = NAB / "data" / "realKnownCause" / "nyc_taxi.csv"
    rec = load_recording(DataConfig(format="nab", path=path))
    assert rec.values.shape == (10320, 1)
    runs = np.diff(np.concatenate([[0], rec.labels, [0]]))
    assert (runs == 1).sum() == 5
    assert Path(rec.source).name == "nyc_taxi.csv"


@pytest.mark.skipif(not NAB.is_dir(), reason=f"NAB not found at {NAB}")
def test_every_nab_series_loads_with_the_shipped_nab_config() -> None:
    from resp_mhavae.config import Config
    from sigzoo_shared.cli import packaged_config
    from sigzoo_shared.config import load_config

    cfg = load_config(Config, packaged_config("resp_mhavae", "nab.yaml"))
    series = sorted((NAB / "data" / "realKnownCause").glob("*.csv"))
    assert series
    for path in series:  # machine_temperature steps back once, ec2 repeats stamps: file order
        data = dataclasses.replace(cfg.data, path=path)
        rec = load_recording(data)
        assert rec.labels.any(), path.name
