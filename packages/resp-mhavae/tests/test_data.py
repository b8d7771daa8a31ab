"""Loaders read the real formats, keep the original's interval convention, and reject bad input clearly."""

import dataclasses
import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from resp_mhavae.config import DataConfig
from resp_mhavae.data import TEST, TRAIN, VAL, load_recording, prepare
from resp_mhavae.generator import write_collected, write_generic, write_nab
from sigzoo_shared.errors import DataError


def test_collected_format_drops_leading_rows_and_keeps_inclusive_intervals(recording: Path) -> None:
    rec = load_recording(DataConfig(path=recording))
    entry = json.loads((recording.parent / "dataset_config.json").read_text())["synthetic_1"]
    start = entry["recording_start_line"]
    assert rec.values.shape == (4800, 3)
    assert rec.name == "synthetic_1"
    assert 23 < rec.sample_rate_hz < 25
    s, e = entry["anomaly_intervals"][0]
    assert rec.labels[s - start] == 1 and rec.labels[e - start] == 1  # end inclusive
    assert rec.labels[s - start - 1] == 0 and rec.labels[e - start + 1] == 0
    assert rec.labels.sum() == sum(e - s + 1 for s, e in entry["anomaly_intervals"])


def test_prepare_splits_chronologically_and_trains_on_normal_windows_only(recording: Path) -> None:
    cfg = DataConfig(path=recording, l_win=48, look_back_num=2)
    rec = load_recording(cfg)
    p = prepare(rec, cfg)
    n = len(p.windows)
    assert p.windows.shape[1:] == (3, 48)
    assert (p.split[:-1] <= p.split[1:]).all()  # train, then validation, then test
    assert (p.split == TEST).sum() == n - int(n * 0.7)
    assert (p.split == VAL).sum() == round(int(n * 0.7) * 0.2)
    assert len(p.train_windows) == ((p.split == TRAIN) & (p.labels == 0)).sum()
    # honest protocol: statistics of the normal training rows only
    fit_rows = int((p.split == TRAIN).sum()) * 48
    normal = rec.values[:fit_rows][rec.labels[:fit_rows] == 0]
    assert np.allclose(p.mean, normal.mean(0)) and np.allclose(p.std, normal.std(0))
    assert not np.allclose(p.mean, rec.values.mean(0))
    original = DataConfig(
        path=recording, l_win=48, protocol="original", train_anomalies="drop_rows"
    )
    q = prepare(load_recording(original), original)
    whole = q.windows.transpose(1, 0, 2).reshape(3, -1)
    assert np.allclose(whole.mean(1), 0, atol=0.05)
    assert q.train_sequences.shape[1] == 3


def test_generic_csv_npz_and_nab_loaders(tmp_path: Path) -> None:
    csv_path, intervals = write_generic(tmp_path, "g", n_rows=1200, fmt="csv")
    rec = load_recording(
        DataConfig(
            format="csv",
            path=csv_path,
            intervals=intervals,
            timestamp_column=None,
            sample_rate_hz=24.0,
        )
    )
    npz_path, _ = write_generic(tmp_path, "g", n_rows=1200, fmt="npz")
    rec2 = load_recording(DataConfig(format="npz", path=npz_path, intervals=intervals))
    assert rec.values.shape == rec2.values.shape == (1200, 3)
    assert (rec.labels == rec2.labels).all() and rec.labels.sum() > 0
    assert rec2.channels == ["Audio", "Temperature(C)", "Humidity(%)"]
    nab = write_nab(tmp_path / "nab", n_rows=800)
    rec3 = load_recording(DataConfig(format="nab", path=nab))
    assert rec3.values.shape == (800, 1) and 0 < rec3.labels.sum() < 800


def _corrupt(path: Path, line: int, new: str) -> None:
    lines = path.read_bytes().decode().split("\r\n")
    lines[line - 1] = new
    path.write_bytes("\r\n".join(lines).encode())


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing_column", "missing column"),
        ("non_numeric", "line 200, column 'Audio': 'abc' is not a number"),
        ("nan", "NaN"),
        ("gap", "line 300: gap of"),
        ("interval_outside", "outside the recording"),
        ("too_short", "need at least"),
    ],
)
def test_bad_input_names_the_file_and_row(tmp_path: Path, case: str, message: str) -> None:
    path = write_collected(tmp_path, "bad", n_rows=600, n_anomalies=2, recording_start_line=0)
    cfg = DataConfig(path=path, l_win=24)
    if case == "missing_column":
        cfg = DataConfig(path=path, channels=["Audio", "CO2"])
    elif case == "non_numeric":
        _corrupt(path, 200, "2026-01-01 12:00:08,abc,25.0,70.0,0.0,0.0,0.0")
    elif case == "nan":
        _corrupt(path, 50, "2026-01-01 12:00:02,nan,25.0,70.0,0.0,0.0,0.0")
    elif case == "gap":
        lines = path.read_bytes().decode().split("\r\n")
        for i in range(299, len(lines) - 1):  # a one-minute hole before line 300
            stamp = datetime.fromisoformat(lines[i][:19]) + timedelta(minutes=1)
            lines[i] = f"{stamp:%Y-%m-%d %H:%M:%S}" + lines[i][19:]
        path.write_bytes("\r\n".join(lines).encode())
    elif case == "interval_outside":
        config = tmp_path / "dataset_config.json"
        config.write_text(
            json.dumps({"bad": {"recording_start_line": 0, "anomaly_intervals": [[500, 700]]}})
        )
    elif case == "too_short":
        cfg = DataConfig(path=path, l_win=200)
    with pytest.raises(DataError) as err:
        prepare(load_recording(cfg), cfg)
    assert message in str(err.value)
    if case != "too_short":
        assert str(path.name) in str(err.value) or "dataset_config.json" in str(err.value)


def test_center_windows_removes_each_windows_level(recording: Path) -> None:
    cfg = DataConfig(path=recording, l_win=48, center_windows=True)
    p = prepare(load_recording(cfg), cfg)
    assert np.allclose(p.windows.mean(-1), 0, atol=1e-5)
    assert np.allclose(p.train_windows.mean(-1), 0, atol=1e-5)


def test_nab_timestamps_out_of_order_are_an_error_or_kept_in_file_order(
    tmp_path: Path, caplog
) -> None:
    path = write_nab(tmp_path / "nab", n_rows=800)
    lines = path.read_text().splitlines()
    lines[400] = lines[399].split(",")[0] + "," + lines[400].split(",")[1]  # line 401 repeats 400
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as err:
        load_recording(DataConfig(format="nab", path=path))
    assert "synthetic.csv: line 401: timestamp not increasing" in str(err.value)
    assert "data.timestamp_order=file" in str(err.value)
    rec = load_recording(DataConfig(format="nab", path=path, timestamp_order="file"))
    assert rec.values.shape == (800, 1) and rec.sample_rate_hz == pytest.approx(1 / 300)
    assert "rows kept in file order" in caplog.text


def test_overlapping_training_windows_keep_the_models_grid(recording: Path) -> None:
    """train_overlap = 1 gives the non-overlapping windows; a smaller stride adds windows, and every
    LSTM run is l_win apart and free of labelled rows."""
    from resp_mhavae.data import load_recording, prepare

    base = DataConfig(path=recording, l_win=24)
    rec = load_recording(base)
    plain = prepare(rec, base)
    same = prepare(rec, dataclasses.replace(base, train_overlap=1))
    assert np.array_equal(plain.train_windows, same.train_windows)
    dense = prepare(rec, dataclasses.replace(base, train_overlap=4))
    assert len(dense.train_windows) > 3 * len(plain.train_windows)
    z = ((rec.values - dense.mean) / dense.std).astype(np.float32)
    view = np.lib.stride_tricks.sliding_window_view(z, 24, axis=0)  # (N - 23, C, 24)
    start_of = {view[i].tobytes(): i for i in range(len(view))}
    starts = np.array([start_of[w.tobytes()] for w in dense.train_windows])
    assert set(np.diff(np.sort(starts)) % 6) == {0}
    runs = starts[dense.train_sequences]  # (S, k + 1) start rows
    assert len(runs) > 3 * len(plain.train_sequences)
    assert (np.diff(runs, axis=1) == 24).all()
    labelled = np.flatnonzero(rec.labels)
    assert not np.isin(labelled, (starts[:, None] + np.arange(24)).ravel()).any()


def test_robust_normalisation_is_not_stretched_by_a_few_extreme_training_rows(
    recording: Path,
) -> None:
    """normalisation: robust centres on the median and scales by IQR / 1.349 of the normal training
    rows, so a short burst of extreme values in the training part barely moves it; zscore's std does."""
    cfg = DataConfig(path=recording, l_win=48)
    rec = load_recording(cfg)
    spiked = dataclasses.replace(rec, values=rec.values.copy())
    spiked.values[100:110, 1] += 1e3  # ten extreme rows in the (normal) training part
    robust = dataclasses.replace(cfg, normalisation="robust")
    p, q = prepare(rec, robust), prepare(spiked, robust)
    fit_rows = int((p.split == TRAIN).sum()) * 48
    normal = rec.values[:fit_rows][rec.labels[:fit_rows] == 0]
    q25, median, q75 = np.percentile(normal, [25, 50, 75], axis=0)
    assert np.allclose(p.mean, median) and np.allclose(p.std, (q75 - q25) / 1.349)
    assert np.allclose(q.std, p.std, rtol=0.02) and np.allclose(q.mean, p.mean, rtol=0.02)
    z, zs = prepare(rec, cfg), prepare(spiked, cfg)
    assert zs.std[1] > 5 * z.std[1]  # the seed's z-score is stretched by the same rows


def test_overlapping_training_windows_where_the_stride_does_not_divide_l_win(
    recording: Path,
) -> None:
    """l_win 47 (a prime, as NAB's rogue_agent_key_hold gets) with train_overlap 4: the offsets 0, 11,
    22, 33, 44 of every grid window, so the LSTM still gets runs l_win apart."""
    cfg = DataConfig(path=recording, l_win=47, train_overlap=4)
    rec = load_recording(cfg)
    plain = prepare(rec, dataclasses.replace(cfg, train_overlap=1))
    dense = prepare(rec, cfg)
    assert len(dense.train_windows) > 4 * len(plain.train_windows)
    assert len(dense.train_sequences) > 4 * len(plain.train_sequences)
    first = dense.train_windows[dense.train_sequences[:, 0]]
    after = dense.train_windows[dense.train_sequences[:, 1]]
    z = ((rec.values - dense.mean) / dense.std).astype(np.float32)
    view = np.lib.stride_tricks.sliding_window_view(z, 47, axis=0)
    start_of = {view[i].tobytes(): i for i in range(len(view))}
    gaps = [start_of[b.tobytes()] - start_of[a.tobytes()] for a, b in zip(first, after)]
    assert set(gaps) == {47}
