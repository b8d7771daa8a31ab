"""scripts/ambiguity.py: the diagnosis the docs quote (merged labels, windows in the neighbour's cluster)."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from ambiguity import flipped_ari, trailing, with_neighbour  # noqa: E402


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


def test_a_stroke_towards_the_neighbour_is_measured_as_trailing() -> None:
    # label 0's core at (0, 0), label 1's at (4, 0), label 2's at (0, -4); label-0 windows mixed
    # with label 1 sit a quarter of the way to it, those mixed with label 2 stay in the core
    mu, y = _blobs({0: (0, 0), 1: (4, 0), 2: (0, -4)}, n=20)
    share = np.ones(len(y))
    neighbour = y.copy()
    mixed = np.arange(5)  # five label-0 windows
    share[mixed], neighbour[mixed], mu[mixed] = 0.55, 1, (1.0, 0.0)
    share[5:10], neighbour[5:10] = 0.6, 2  # mixed with label 2 but left in the core
    dist, cos = trailing(mu, y, share, neighbour)
    np.testing.assert_allclose(dist[mixed], 0.25, atol=0.05)  # 1 of a gap of 4
    np.testing.assert_allclose(cos[mixed], 1.0, atol=0.1)
    assert np.all(dist[5:10] < 0.1) and np.all(np.isnan(cos[10:]))  # pure windows: no direction


def test_transition_offsets_find_the_label_change_or_the_block_start() -> None:
    from ambiguity import transition_offsets

    P, n = 128, 4
    start = np.arange(P * n * 2)  # two repeats of four blocks, every window
    y = ((start + P // 2) // P) % n  # the majority label: it changes at offset 64
    rng = np.random.default_rng(0)
    points = rng.normal(0, 5, size=(n, 2))
    # a latent that follows the label: one point per label, the jump at offset 64
    by_label = points[y] + rng.normal(0, 0.05, size=(len(y), 2))
    np.testing.assert_array_equal(transition_offsets(by_label, start, y, P, n), [64] * n)
    # a latent that follows the junction: one point per start block, the jump at the block start
    by_block = points[(start // P) % n] + rng.normal(0, 0.05, size=(len(y), 2))
    np.testing.assert_array_equal(transition_offsets(by_block, start, y, P, n), [128] * n)
