"""The Python API and the ONNX export: what a user who never runs `train` relies on."""

from __future__ import annotations

import json
from pathlib import Path

import event_lstm
import numpy as np
import pytest
import torch
from event_lstm.api import EventDetector, export_spec
from event_lstm.cli import main
from event_lstm.detect import count_refractory_violations, detect_file
from sigzoo_shared import ConfigError, DataError
from sigzoo_shared.export import PARITY_ATOL


@pytest.fixture(scope="module")
def exported(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    for module in ("onnxscript", "onnxruntime"):  # the sigzoo-shared[export] extra
        pytest.importorskip(module, reason=f"ONNX export needs {module}")
    out = tmp_path_factory.mktemp("onnx") / "detector.onnx"
    assert main(["export", "--run-dir", str(tiny_run), "--out", str(out)]) == 0
    return out


def _signal(seconds: float, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((int(seconds * 2000), 6)).astype(np.float32)


def test_detect_gives_the_cli_events_in_seconds(tiny_run, tmp_path) -> None:
    det = event_lstm.load_run(tiny_run)
    assert isinstance(det, EventDetector) and det.config.model.arch == "event_specific"
    signal = _signal(9.0)
    events = det.detect(signal, threshold=0.0)
    assert events and all(0 <= e.event < 16 for e in events)
    assert [e.time_s for e in events] == [e.sample / 2000 for e in events]
    s, t = np.array([e.sample for e in events]), np.array([e.event for e in events])
    assert count_refractory_violations(s, t, det.config.model.refractory_period_samples) == 0
    # the CLI's detect on the same recording (file) gives the same events
    rec = tmp_path / "rec.npz"
    np.savez(rec, signal=signal, fs=np.int64(2000))
    cfg = det.config.detect
    cfg.threshold = 0.0
    detect_file(tiny_run, rec, tmp_path / "events.csv", tmp_path / "det", cfg)
    rows = (tmp_path / "events.csv").read_text().splitlines()[1:]
    assert [(int(r.split(",")[0]), int(r.split(",")[2])) for r in rows] == [
        (e.sample, e.event) for e in events
    ]
    assert [(e.sample, e.event) for e in det.detect(rec, threshold=0.0)] == [
        (e.sample, e.event) for e in events
    ]


def test_classify_returns_per_window_presence_onsets_and_probabilities(tiny_run) -> None:
    det = event_lstm.load_run(tiny_run)
    res = det.classify(_signal(0.8).reshape(4, 400, 6), threshold=0.0)
    assert res["present"].shape == res["onset_s"].shape == res["probability"].shape == (4, 16)
    assert res["present"].all()  # threshold 0: every type reported, with an onset inside the window
    assert ((res["onset_s"] >= 0) & (res["onset_s"] < 400 / 2000)).all()
    high = det.classify(_signal(0.8).reshape(4, 400, 6), threshold=1.0)
    assert np.isnan(high["onset_s"][~high["present"]]).all()


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros((100, 5), np.float32), r"shape \(100, 5\), expected \(T, 6\)"),
        (np.zeros(600, np.float32), r"shape \(600,\), expected \(T, 6\)"),
        (np.full((100, 6), np.nan, np.float32), "600 NaN/inf values"),
    ],
)
def test_detect_rejects_bad_input_naming_the_value(tiny_run, bad, message) -> None:
    with pytest.raises(DataError, match=message):
        event_lstm.load_run(tiny_run).detect(bad)


def test_detect_and_classify_refuse_what_the_cli_refuses(tiny_run) -> None:
    det = event_lstm.load_run(tiny_run)
    with pytest.raises(DataError, match="'fs' is 1000 Hz, expected 2000 Hz"):
        det.detect(_signal(1.0), fs_hz=1000)
    with pytest.raises(DataError, match=r"expected \(N, T, 6\)"):
        det.classify(_signal(1.0))
    with pytest.raises(DataError, match="shorter than a template"):
        det.classify(_signal(0.02).reshape(1, 40, 6))
    with pytest.raises(ConfigError, match="threshold 1.5"):
        det.detect(_signal(1.0), threshold=1.5)


def test_export_writes_the_model_and_its_record_with_parity(exported, capsys) -> None:
    record = json.loads(exported.with_name(exported.name + ".json").read_text())
    assert exported.stat().st_size > 0
    assert record["inputs"]["windows"]["shape"] == [2, 400, 6]
    assert record["outputs"] == ["event_probs", "onsets"]
    assert record["notes"]["refractory_period_samples"] == 4000
    assert record["parity_max_abs_diff"] <= PARITY_ATOL
    # parity was checked on batch sizes other than the example's
    assert [[5, 400, 6]] in record["parity_inputs"] and [[33, 400, 6]] in record["parity_inputs"]


def test_export_matches_pytorch_on_new_sizes(tiny_run, exported) -> None:
    from sigzoo_shared.export import parity

    det = event_lstm.load_run(tiny_run)
    spec = export_spec(det.model, det.config)
    x = torch.from_numpy(_signal(1.4, seed=3)).reshape(7, 400, 6)
    assert parity(spec.module, exported, [(x,), (x[:2],)]) <= PARITY_ATOL


def test_streaming_on_onnx_runtime_gives_the_pytorch_events(tiny_run, exported) -> None:
    """Issue 32: streaming detection, refractory logic included, on the exported model."""
    det = event_lstm.load_run(tiny_run)
    onnx = det.with_onnx(exported)
    signal = _signal(12.3, seed=1)
    want = det.detect(signal, threshold=0.0)
    got = onnx.detect(signal, threshold=0.0)
    assert len(want) > 20
    assert [(e.sample, e.event) for e in got] == [(e.sample, e.event) for e in want]
    assert np.allclose([e.probability for e in got], [e.probability for e in want], atol=1e-5)
    res = onnx.classify(signal[:1600].reshape(4, 400, 6), threshold=0.0)
    ref = det.classify(signal[:1600].reshape(4, 400, 6), threshold=0.0)
    assert np.array_equal(res["onset_s"], ref["onset_s"])


def test_onnx_detector_refuses_a_recording_shorter_than_a_window(tiny_run, exported) -> None:
    onnx = event_lstm.load_run(tiny_run).with_onnx(exported)
    with pytest.raises(ConfigError, match="needs full windows of 400"):
        onnx.detect(_signal(0.1))


def test_with_onnx_names_a_missing_record(tiny_run, tmp_path) -> None:
    with pytest.raises(ConfigError, match="model.onnx.json: not found"):
        event_lstm.load_run(tiny_run).with_onnx(tmp_path / "model.onnx")
