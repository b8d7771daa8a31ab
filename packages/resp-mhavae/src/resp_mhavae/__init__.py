"""Multi-head-attention VAE + LSTM anomaly detection on multi-modal breathing sensors.

    import resp_mhavae
    detector = resp_mhavae.load_pretrained()      # or resp_mhavae.load_run("runs/resp-mhavae/x")
    scores = detector.score(values)               # (T, C) array -> (T,) point-wise anomaly scores

Public names load lazily, so `resp-mhavae --help` does not import torch.
"""

from __future__ import annotations

from sigzoo_shared.lazy import lazy_getattr

__version__ = "0.1.0"

_WHERE = {
    "Config": "config",
    "Detector": "api",
    "load_pretrained": "api",
    "load_run": "api",
    "MHAVAE": "model",
    "SequenceLSTM": "model",
    "TemporalSelfAttention": "model",
    "WindowScorer": "model",
}

__all__ = ["__version__", *sorted(_WHERE)]


__getattr__ = lazy_getattr(__name__, _WHERE)
