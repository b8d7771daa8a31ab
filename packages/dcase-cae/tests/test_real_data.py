"""A small check on the real recordings beside the project (skipped when they are absent)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from dcase_cae.config import DataConfig
from dcase_cae.data import extract_features, list_clips, machine_dirs

REAL_DATA = Path(
    os.environ.get(
        "SIGZOO_SHARED_DATA", Path(__file__).resolve().parents[3].parent / "shared" / "data"
    )
)

CASES = [
    ("dcase2023t2-toycar", "ToyCar", 12.0, ".flac"),
    ("mimii-fan-id00", "mimii-fan-id00", 10.0, ".wav"),
]


@pytest.mark.parametrize(
    ("folder", "machine_type", "seconds", "suffix"), CASES, ids=[c[0] for c in CASES]
)
def test_real_clips_read_in_the_dcase_layout(
    folder: str, machine_type: str, seconds: float, suffix: str
) -> None:
    root = REAL_DATA / folder
    if not root.is_dir():
        pytest.skip(f"real data not found at {root} (set SIGZOO_SHARED_DATA)")
    dirs = machine_dirs(root)
    assert list(dirs) == [machine_type]
    test_clips = list_clips(dirs[machine_type], "test", machine_type)
    assert {c.label for c in test_clips} == {0, 1} and {c.machine_id for c in test_clips} == {"00"}
    if folder.startswith("dcase2023"):  # the 2021+ layout: domains and attributes on every clip
        assert {c.domain for c in test_clips} == {"source", "target"}
        assert all(c.attributes.startswith("car_") for c in test_clips)
        train = list_clips(dirs[machine_type], "train", machine_type)
        assert sum(c.domain == "target" for c in train) == 10 and len(train) == 410
    picked = [test_clips[0], test_clips[-1]]
    assert all(c.path.suffix == suffix for c in picked)
    feats = extract_features(picked, DataConfig(feature_workers=1))
    for f in feats:
        assert f.shape == (128, 1 + int(seconds * 16000) // 512)
        assert np.isfinite(f).all() and -120 < f.mean() < 40  # dB of real 16-bit recordings
