"""scripts/partition_spread.py: the spectrum-space spreads the docs quote for the spectral term."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from partition_spread import spectra_and_groupings, within_spread  # noqa: E402


def test_within_spread_is_the_mean_squared_distance_to_the_group_mean() -> None:
    x = np.array([[0.0], [2.0], [10.0], [10.0]])
    groups = np.array([0, 0, 1, 1])
    # group 0: mean 1, squared distances 1 and 1; group 1: 0 and 0 -> 2 / 4 windows
    assert within_spread(x, groups) == 0.5


def test_majority_groups_are_tighter_than_junction_groups_in_spectrum() -> None:
    spectra, majority, junction = spectra_and_groupings(85)
    assert spectra.shape == (30 * 128, 7, 65)
    # one tile: every pattern is a start block 128 times and a majority label as often (a tie at
    # offset 64 goes to the smaller id, so between patterns 29 and 0 to 0)
    assert np.bincount(junction).tolist() == [128] * 30
    assert np.abs(np.bincount(majority) - 128).max() <= 1
    ratio = within_spread(spectra, majority) / within_spread(spectra, junction)
    assert ratio < 0.8
