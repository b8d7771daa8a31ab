"""Convolutional autoencoder (and the DCASE 2020 dense baseline) for anomalous machine-sound detection.

Public names load lazily, so `dcase-cae --help` does not import torch.
"""

from __future__ import annotations

from sigzoo_shared.lazy import lazy_getattr

__version__ = "0.1.0"

_WHERE = {
    "CNNAutoEncoder": "model",
    "Config": "config",
    "DataConfig": "config",
    "DecisionConfig": "config",
    "DenseAE": "model",
    "Detector": "api",
    "load_pretrained": "api",
    "load_run": "api",
    "ModelConfig": "config",
}

__all__ = ["__version__", *sorted(_WHERE)]


__getattr__ = lazy_getattr(__name__, _WHERE)
