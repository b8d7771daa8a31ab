"""Multi-head-attention VAE + LSTM anomaly detection on multi-modal breathing sensors.

Public names load lazily, so `resp-mhavae --help` does not import torch.
"""

from __future__ import annotations

from sigzoo_shared.lazy import lazy_getattr

__version__ = "0.1.0"

_WHERE = {
    "Config": "config",
    "MHAVAE": "model",
    "SequenceLSTM": "model",
    "TemporalSelfAttention": "model",
}

__all__ = ["__version__", *sorted(_WHERE)]


__getattr__ = lazy_getattr(__name__, _WHERE)
