"""The generated series, its on-disk formats, and the windowing/labelling of the original."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from sigzoo_shared import DataError
from vae_demo.config import DataConfig
from vae_demo.data import load_series, load_splits, make_windows, time_encoding, window_labels
from vae_demo.generator import generate, make_series, write_series

SMALL = DataConfig(n_patterns=4, repeats=3, noise_len=300, stride=4)


def test_series_tiles_the_patterns_and_appends_noise() -> None:
    s = make_series(SMALL)
    block = SMALL.n_patterns * SMALL.pattern_len
    assert s.signal.shape == (3 * block + 300, 7)
    np.testing.assert_array_equal(
        s.signal[:block], s.signal[block : 2 * block]
    )  # repeats are identical
    assert (s.pattern_id[-300:] == -1).all()
    assert list(s.pattern_id[: block : SMALL.pattern_len]) == [0, 1, 2, 3]
    # each channel of a pattern is a sum of n_sines whole-Hz sines in the band, leading ones distinct
    assert s.frequencies_hz.shape == (4, 7, 5)
    assert s.frequencies_hz.min() >= 1 and s.frequencies_hz.max() <= 30
    for p in range(4):
        for f in range(7):
            assert len(set(s.frequencies_hz[p, f])) == 5
    for f in range(7):
        assert len(set(s.frequencies_hz[:, f, 0])) == 4
    spectrum = np.abs(np.fft.rfft(s.signal[:128, 0]))  # 1 s at 128 Hz: bin k = k Hz
    assert set(np.argsort(spectrum)[-5:]) == set(s.frequencies_hz[0, 0])


def test_generator_seed_decides_the_patterns() -> None:
    a, b = make_series(SMALL), make_series(SMALL)
    np.testing.assert_array_equal(a.signal, b.signal)
    c = make_series(DataConfig(n_patterns=4, repeats=3, noise_len=300, seed=86))
    assert not np.allclose(a.signal[:128], c.signal[:128])


def test_window_label_is_the_mode_of_the_pattern_ids() -> None:
    ids = np.array([0] * 5 + [1] * 3 + [-1] * 4)
    starts = np.array([0, 2, 3, 5, 8])
    assert list(window_labels(ids, starts, 4)) == [0, 0, 0, 1, -1]
    assert list(window_labels(ids, np.array([6]), 4)) == [
        -1
    ]  # 2 of pattern 1, 2 noise: the tie -> -1


def test_time_encoding_follows_the_formula() -> None:
    t = time_encoding(256, 128, [1, 2])
    n = np.arange(256)
    expected = 0.5 * (np.cos(2 * np.pi * n / 128) + 1) + 0.5 * (np.cos(4 * np.pi * n / 128) + 1)
    np.testing.assert_allclose(t, expected, atol=1e-6)


def test_windows_are_scaled_shuffled_and_split() -> None:
    splits = load_splits(SMALL)
    n_total = (3 * 4 * 128 + 300 - 128) // 4 + 1
    assert len(splits.train.y) + len(splits.val.y) == n_total
    assert len(splits.val.y) == round(0.2 * n_total)
    x = np.concatenate([splits.train.x, splits.val.x])
    assert x.shape[1:] == (8, 128)  # 7 signal channels + time
    assert x.min() == pytest.approx(0) and x.max() == pytest.approx(1)
    assert set(np.unique(splits.val.y)) <= {-1, 0, 1, 2, 3}
    assert not np.all(np.diff(splits.train.start) > 0)  # shuffled


def test_labels_match_the_series_at_the_window_position() -> None:
    s = make_series(SMALL)
    w = make_windows(s, SMALL, np.random.default_rng(0))
    for start, label in zip(w.start[:50], w.y[:50]):
        values, counts = np.unique(s.pattern_id[start : start + 128], return_counts=True)
        assert label == values[counts.argmax()]


@pytest.mark.parametrize("suffix", [".npz", ".csv"])
def test_series_files_round_trip(tmp_path: Path, suffix: str) -> None:
    s = make_series(DataConfig(n_patterns=2, repeats=1, noise_len=50))
    back = load_series(write_series(s, tmp_path / f"series{suffix}"))
    np.testing.assert_allclose(back.signal, s.signal, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(back.pattern_id, s.pattern_id)


def test_generate_writes_files_training_can_read(tmp_path: Path) -> None:
    paths = generate(SMALL, tmp_path)
    from_file = load_splits(
        DataConfig(n_patterns=4, repeats=3, noise_len=300, stride=4, series_path=paths["npz"])
    )
    np.testing.assert_allclose(from_file.train.x, load_splits(SMALL).train.x)


def test_bad_series_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="missing.npz: series file not found"):
        load_series(tmp_path / "missing.npz")
    bad = tmp_path / "nan.csv"
    bad.write_text("ch0,ch1\n0.1,0.2\nnan,0.3\n0.5,0.1\n")
    with pytest.raises(DataError, match=r"nan\.csv: 1 NaN/inf values .*sample 1"):
        load_series(bad)
    odd = tmp_path / "odd.npz"
    np.savez(odd, pattern_id=np.zeros(3))
    with pytest.raises(DataError, match=r"odd\.npz: no 'signal' array"):
        load_series(odd)
    with pytest.raises(DataError, match="channels"):
        make_windows(
            make_series(DataConfig(n_patterns=2, repeats=1, noise_len=0)),
            DataConfig(n_features=3),
            np.random.default_rng(0),
        )


def test_the_window_dataset_gives_the_loaders_batches_whole() -> None:
    """Fetched a batch at a time, the same batches as one window at a time, in the same order."""
    from sigzoo_shared.runs import make_loaders
    from torch.utils.data import TensorDataset
    from vae_demo.config import Config
    from vae_demo.data import Windows, keep_batch, to_dataset

    rng = np.random.default_rng(0)
    w = Windows(
        rng.random((50, 3, 16), dtype=np.float32), rng.integers(-1, 4, 50), np.arange(50), {}
    )
    train = dataclasses.replace(Config().train, batch_size=8, num_workers=0)
    cpu = torch.device("cpu")
    per_window, _ = make_loaders(
        TensorDataset(torch.from_numpy(w.x), torch.from_numpy(w.y)), None, train, cpu
    )
    batched, _ = make_loaders(to_dataset(w), None, train, cpu, collate_fn=keep_batch)
    pairs = list(zip(per_window, batched, strict=True))
    assert len(pairs) == 7
    for (x1, y1), (x2, y2) in pairs:
        assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert to_dataset(w)[3][0].shape == (3, 16)  # one window, for the core's other users
