"""16-event detector with 5 ms onset timing on 6-channel 2 kHz sensor streams, with pre-training and
streaming detection (rebuild of gfr10598/lstm; see README.md).

From Python: `event_lstm.load_pretrained()` or `event_lstm.load_run(path)` give an `EventDetector`
whose `detect(stream)` returns `Event`s (type, onset in s) and `classify(windows)` per-window results.

Public names load lazily, so `event-lstm --help` does not import torch.
"""

from __future__ import annotations

from sigzoo_shared.lazy import lazy_getattr

__version__ = "0.1.0"

_WHERE = {
    "Config": "config",
    "Event": "api",
    "EventDetector": "api",
    "load_pretrained": "api",
    "load_run": "api",
    "visualize_learned_templates": "plots",
    "LSTMEventClassifier": "model",
    "TemporalAugmentation": "augment",
    "EventSpecificCNN": "event_specific",
    "EventSpecificClassifier": "event_specific",
    "EventSpecificTimingHeads": "event_specific",
    "EventTemplateBank": "event_specific",
    "EventSpecificLoss": "losses",
    "EventTimingLoss": "losses",
    "ContrastiveLSTM": "pretraining",
    "LSTMAutoencoder": "pretraining",
    "VariationalLSTMAutoencoder": "pretraining",
    "transfer_encoder_to_classifier": "pretraining",
}

__all__ = ["__version__", *sorted(_WHERE)]


__getattr__ = lazy_getattr(__name__, _WHERE)
