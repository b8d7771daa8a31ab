"""Streaming detection: state across chunks, no double detections at borders, refractory enforcement."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from event_lstm.detect import (
    Detection,
    RefractoryEnforcer,
    StreamingDetector,
    count_refractory_violations,
    detect_array,
)
from sigzoo_shared import ConfigError


class OracleModel(torch.nn.Module):
    """Reports the planted events whose onset lies in a window (probability depends on the position)."""

    refractory_period_samples = 4000

    def __init__(self, events: np.ndarray) -> None:
        super().__init__()
        self.events = events
        self.starts: list[int] = []
        self.lengths: list[list[int] | None] = []

    def predict_events(
        self, x, lengths=None, threshold=0.5, timing="expected", apply_refractory=True, offsets=None
    ):
        B, T, _ = x.shape
        self.lengths.append(None if lengths is None else lengths.tolist())
        present = torch.zeros(B, 16, dtype=torch.bool)
        onsets = torch.full((B, 16), float("nan"))
        probs = torch.zeros(B, 16)
        for b in range(B):
            start = int(x[b, 0, 0].item())  # the test signal carries its sample index in channel 0
            for s, e in self.events:
                if start <= s < start + T:
                    present[b, e], onsets[b, e] = True, float(s - start)
                    probs[b, e] = 0.6 + 0.3 * (s - start) / T
        return {"present": present, "onsets": onsets, "probs": probs}


def _ramp(n: int) -> np.ndarray:
    x = np.zeros((n, 6), np.float32)
    x[:, 0] = np.arange(n)
    return x


@pytest.mark.parametrize("chunk", [777, 5000, 100_000])
def test_streaming_finds_each_event_once_whatever_the_chunking(chunk) -> None:
    events = np.array([[150, 0], [995, 1], [1000, 2], [5100, 0], [9990, 3], [19_999, 4]])
    model = OracleModel(events)
    dets, _ = detect_array(model, _ramp(20_000), window=1000, hop=800, chunk_samples=chunk)
    assert [(d.sample, d.event) for d in dets] == [tuple(e) for e in events]


def test_enforcer_keeps_the_more_probable_of_two_conflicting_events() -> None:
    """Original defect: the stateful enforcer kept the earlier event even when the later was more probable."""
    enf = RefractoryEnforcer(4000)
    out = enf.push([Detection(1000, 5, 0.55)], horizon=1500)
    out += enf.push([Detection(3000, 5, 0.99)], horizon=3500)
    out += enf.flush()
    assert out == [Detection(3000, 5, 0.99)]


def test_enforcer_emits_only_when_no_future_window_can_conflict() -> None:
    enf = RefractoryEnforcer(4000)
    assert enf.push([Detection(100, 1, 0.9)], horizon=4000) == []
    assert enf.push([], horizon=4100) == [Detection(100, 1, 0.9)]
    a = enf.push([Detection(4200, 1, 0.7), Detection(8300, 1, 0.8)], horizon=9000)
    assert a == [Detection(4200, 1, 0.7)]


def test_untrained_model_output_never_violates_the_refractory_period(tiny_cfg) -> None:
    from event_lstm.train import build_model

    torch.manual_seed(0)
    model = build_model(tiny_cfg.model)
    signal = np.random.default_rng(0).standard_normal((30_000, 6)).astype(np.float32)
    dets, info = detect_array(model, signal, 400, 300, threshold=0.0, chunk_samples=4321)
    s, e = np.array([d.sample for d in dets]), np.array([d.event for d in dets])
    assert info["raw_candidates"] > len(dets) > 0
    assert count_refractory_violations(s, e, 4000) == 0
    again, _ = detect_array(model, signal, 400, 300, threshold=0.0, chunk_samples=30_000)
    assert [(d.sample, d.event) for d in again] == [(d.sample, d.event) for d in dets]


def test_the_default_overlap_holds_a_whole_event() -> None:
    """Each event (signature plus the largest channel skew) must lie whole inside one window."""
    from event_lstm.config import Config

    cfg = Config()
    event = cfg.generator.signature_samples + cfg.generator.max_skew_samples
    assert cfg.detect.overlap_samples > event
    assert cfg.detect.hop(cfg.generator.window_samples) == 900


def test_streaming_detector_rejects_a_bad_hop() -> None:
    with pytest.raises(ConfigError, match="hop"):
        StreamingDetector(OracleModel(np.zeros((0, 2), int)), window=100, hop=200)


def test_the_tail_is_covered_by_a_full_window() -> None:
    """Every window a model sees has its training length (what an exported model requires)."""
    events = np.array([[150, 0], [21_050, 3]])  # the last event lies only in the tail window
    model = OracleModel(events)
    dets, _ = detect_array(model, _ramp(21_100), window=1000, hop=800, chunk_samples=7000)
    assert [(d.sample, d.event) for d in dets] == [tuple(e) for e in events]
    assert model.lengths and all(n is None for n in model.lengths)


def test_a_recording_shorter_than_a_window_is_one_masked_window() -> None:
    model = OracleModel(np.array([[300, 2]]))
    dets, _ = detect_array(model, _ramp(700), window=1000, hop=800)
    assert [(d.sample, d.event) for d in dets] == [(300, 2)] and model.lengths == [[700]]


def test_an_emitted_event_is_final() -> None:
    enf = RefractoryEnforcer(4000)
    out = enf.push([Detection(100, 1, 0.6)], horizon=4100)
    assert out == [Detection(100, 1, 0.6)]
    # a later look at the same neighbourhood (the tail window) cannot add a conflicting event
    assert enf.push([Detection(3000, 1, 0.9)]) + enf.flush() == []
