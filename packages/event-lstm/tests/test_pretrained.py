"""Every shipped model loads offline, matches its card's checksum and reproduces its card's figure."""

from __future__ import annotations

import pytest
from event_lstm.builders import classifier_model
from event_lstm.config import Config, GeneratorConfig
from event_lstm.evaluate import window_metrics
from event_lstm.generator import generate_windows
from sigzoo_shared.pretrained import list_pretrained, load_pretrained, verify_pretrained

SHIPPED = [card["name"] for card in list_pretrained("event_lstm")]
# the same code on the same generated windows gives the same events; the margin covers other CPUs'
# float rounding moving an onset across a 10-sample bin edge (one event of 470 is 0.002 of F1)
F1_TOLERANCE = 0.005


def test_the_default_pretrained_model_ships() -> None:
    from event_lstm.api import DEFAULT_PRETRAINED

    assert DEFAULT_PRETRAINED in SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_reproduces_its_card(name: str) -> None:
    verify_pretrained("event_lstm", name)
    loaded = load_pretrained("event_lstm", name, Config, classifier_model)
    card = loaded.card
    for key in ("summary", "command", "data", "licence", "metrics", "intended_use", "weaknesses"):
        assert card.get(key), key
    want = card["metrics"]["seed7_windows"]
    cfg = loaded.config
    # the unseen test windows of `event-lstm generate --out DIR generator.seed=7`
    gen = GeneratorConfig(**{**vars(cfg.generator), "seed": 7})
    test = generate_windows(gen, gen.n_test, "test", cfg.data.n_events, cfg.data.n_channels)
    res = window_metrics(loaded.model, test, cfg, tolerances_ms=[5.0])
    assert res["by_tolerance"]["5ms"]["overall"]["f1"] == pytest.approx(
        want["f1_5ms"], abs=F1_TOLERANCE
    )
    assert res["refractory_violations"] == 0
    assert res["chance_f1"]["5ms"] < 0.05 < want["f1_5ms"]


def test_fast_detection_gives_the_reference_events_on_a_generated_stream() -> None:
    """The default streaming path (FFT convolutions, timing heads of reported events only) finds
    the events of the training-time computation on an unseen generated recording."""
    import numpy as np
    from event_lstm.detect import detect_signal
    from event_lstm.generator import generate_recording

    loaded = load_pretrained("event_lstm", "event-specific", Config, classifier_model)
    cfg, model = loaded.config, loaded.model
    gen = GeneratorConfig(**{**vars(cfg.generator), "seed": 7})
    rec = generate_recording(gen, 40_000, np.random.default_rng(7))  # 20 s
    fast, _ = detect_signal(model, rec.signal, gen.window_samples, cfg.detect)
    model.fast_inference = False
    ref, _ = detect_signal(model, rec.signal, gen.window_samples, cfg.detect)
    assert len(ref) > 30
    assert [(d.sample, d.event) for d in fast] == [(d.sample, d.event) for d in ref]
    assert np.allclose([d.probability for d in fast], [d.probability for d in ref], atol=1e-5)


def test_bench_times_detection_with_the_shipped_weights_of_the_default() -> None:
    """Which timing heads run depends on the weights, so the bench's detection rows use the shipped
    model when it has the config's settings, and say which weights they used."""
    from event_lstm.bench import detection_model
    from sigzoo_shared.config import load_config

    model, label = detection_model(Config())
    assert "shipped" in label and not model.training
    _, other = detection_model(load_config(Config, overrides=["model.hidden_size=32"]))
    assert other == "untrained weights"
