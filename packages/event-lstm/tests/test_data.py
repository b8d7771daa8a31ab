"""Generator realism and the file formats: shapes, shared event shapes, refractory placement, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from event_lstm.config import GeneratorConfig
from event_lstm.data import WindowSet, load_recording, load_windows, write_recording, write_windows
from event_lstm.generator import generate_windows, make_signatures
from sigzoo_shared import DataError


def test_generated_files_have_the_documented_format(dataset) -> None:
    ws = load_windows(dataset["train"])
    assert ws.signals.shape == (48, 400, 6) and ws.signals.dtype == np.float32
    assert ws.event_labels.shape == ws.event_timings.shape == (48, 16)
    present = ws.event_labels > 0.5
    assert present.any() and (ws.event_timings[present] < 400).all()
    assert load_windows(dataset["unlabelled"], labelled=False).event_labels is None
    rec = load_recording(dataset["stream"])
    assert rec.signal.shape == (24000, 6) and rec.fs_hz == 2000 and rec.events.shape[1] == 2


def test_every_split_and_seed_shares_the_event_shapes() -> None:
    """Original defect: the example drew train and validation data with different event shapes."""
    a, b = GeneratorConfig(seed=0), GeneratorConfig(seed=99)
    assert np.array_equal(make_signatures(a), make_signatures(b))
    assert not np.array_equal(make_signatures(a), make_signatures(GeneratorConfig(shape_seed=7)))
    tr = generate_windows(a, 8, "train")
    va = generate_windows(a, 8, "val")
    assert not np.array_equal(tr.signals, va.signals)
    # a clean, isolated event reproduces its signature exactly in both splits
    clean = GeneratorConfig(noise_std=0.0, drift_std=0.0, amplitude_jitter=0.0, event_rate_hz=0.01)
    sig = make_signatures(clean)
    for split in ("train", "val"):
        ws = generate_windows(clean, 40, split)
        n, e = np.argwhere(ws.event_labels > 0.5)[0]
        t = int(ws.event_timings[n, e])
        if t + 80 <= 1000:
            seg = ws.signals[n, t : t + 80].T
            others = ws.event_labels[n].sum() == 1
            if others:
                assert np.allclose(seg, sig[e], atol=1e-5)


def test_streams_respect_the_refractory_period() -> None:
    from event_lstm.generator import _rng, generate_recording

    cfg = GeneratorConfig(event_rate_hz=5.0)
    rec = generate_recording(cfg, 60 * 2000, _rng(cfg, "stream"))
    for e in range(16):
        s = rec.events[rec.events[:, 1] == e, 0]
        assert len(s) > 5 and np.diff(s).min() > 4000


def _write(tmp_path, **arrays):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "case, message",
    [
        ("channels", r"'signals' has shape \(2, 100, 5\), expected \(N, T, 6\)"),
        ("nan", "'signals' holds 1 NaN/inf"),
        ("short", "shorter than a template"),
        ("labels", r"'event_labels' has shape \(2, 15\), expected \(2, 16\)"),
        ("onset", r"'event_timings'\[1, 3\] = 150.0 is outside the window"),
    ],
)
def test_bad_windows_raise_errors_naming_the_file_and_array(tmp_path, case, message) -> None:
    x = np.zeros((2, 100, 6), np.float32)
    labels = np.zeros((2, 16), np.float32)
    timings = np.zeros((2, 16), np.float32)
    if case == "channels":
        x = np.zeros((2, 100, 5), np.float32)
    elif case == "nan":
        x[1, 5, 2] = np.nan
    elif case == "short":
        x = np.zeros((2, 50, 6), np.float32)
    elif case == "labels":
        labels = np.zeros((2, 15), np.float32)
    elif case == "onset":
        labels[1, 3], timings[1, 3] = 1, 150
    path = _write(tmp_path, signals=x, event_labels=labels, event_timings=timings)
    with pytest.raises(DataError, match=message) as err:
        load_windows(path)
    assert "bad.npz" in str(err.value)


def test_recording_errors_and_events_csv_round_trip(tmp_path) -> None:
    from event_lstm.data import Recording

    rec = Recording(np.zeros((500, 6), np.float32), 2000, np.array([[10, 3], [300, 15]]))
    path, csv_path = write_recording(tmp_path / "rec.npz", rec)
    assert csv_path.read_text().splitlines()[0] == "sample,event"
    assert np.array_equal(load_recording(path).events, rec.events)
    with pytest.raises(DataError, match="'fs' is 2000 Hz, expected 1000 Hz"):
        load_recording(path, fs_hz=1000)
    bad = _write(tmp_path, signal=np.zeros((500, 4), np.float32), fs=np.int64(2000))
    with pytest.raises(DataError, match=r"'signal' has shape \(500, 4\), expected \(T, 6\)"):
        load_recording(bad)
    with pytest.raises(DataError, match="file not found"):
        load_windows(tmp_path / "missing.npz")


def test_write_windows_round_trip(tmp_path) -> None:
    ws = WindowSet(
        np.ones((3, 100, 6), np.float32),
        np.eye(3, 16, dtype=np.float32),
        np.full((3, 16), 5, np.float32),
    )
    back = load_windows(write_windows(tmp_path / "w.npz", ws))
    assert np.array_equal(back.signals, ws.signals) and np.array_equal(
        back.event_timings, ws.event_timings
    )
