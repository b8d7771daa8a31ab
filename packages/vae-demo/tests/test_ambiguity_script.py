"""scripts/ambiguity.py: the diagnosis the docs quote (merged labels, windows in the neighbour's cluster)."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from ambiguity import flipped_ari, with_neighbour  # noqa: E402


def _blobs(centres: dict[int, tuple[float, float]], n: int = 50) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    mu = np.concatenate([rng.normal(c, 0.05, size=(n, 2)) for c in centres.values()])
    y = np.repeat(list(centres), n)
    return mu, y


def test_two_labels_in_one_blob_are_reported_as_merged() -> None:
    # labels 1 and 2 share a blob (three blobs, three clusters)
    mu, y = _blobs({-1: (0, 0), 0: (3, 0), 1: (0, 3), 2: (0, 3)})
    wrong, ari, merged = with_neighbour(mu, y, y.copy(), n_clusters=3, seed=0)
    assert merged == [[1, 2]]
    assert ari < 1.0 and not wrong.any()  # neighbour = label: nobody is in a neighbour's cluster


def test_separate_blobs_score_one_and_nothing_merged() -> None:
    mu, y = _blobs({-1: (0, 0), 0: (3, 0), 1: (0, 3), 2: (3, 3)})
    _, ari, merged = with_neighbour(mu, y, y.copy(), n_clusters=4, seed=0)
    assert ari == 1.0 and merged == []


def test_a_window_in_its_neighbours_blob_is_counted() -> None:
    mu, y = _blobs({0: (0, 0), 1: (3, 0)})
    neighbour = np.where(y == 0, 1, 0)
    mu[0] = (3, 0)  # a label-0 window sitting in label 1's blob
    wrong, _, _ = with_neighbour(mu, y, neighbour, n_clusters=2, seed=0)
    assert wrong[0] and wrong.sum() == 1


def test_moving_near_ties_to_the_neighbour_lowers_the_ari() -> None:
    y = np.repeat([0, 1], 10)
    share = np.tile(np.linspace(0.5, 1.0, 10), 2)
    neighbour = 1 - y
    assert flipped_ari(y, share, neighbour, threshold=0.5) == 1.0  # nothing below 0.5
    assert flipped_ari(y, share, neighbour, threshold=0.6) < 1.0
