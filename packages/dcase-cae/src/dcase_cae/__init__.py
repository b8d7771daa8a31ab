"""Convolutional autoencoder (and the DCASE 2020 dense baseline) for anomalous machine-sound detection.

Public names load lazily, so `dcase-cae --help` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_WHERE = {
    "CNNAutoEncoder": "model",
    "Config": "config",
    "DataConfig": "config",
    "DecisionConfig": "config",
    "DenseAE": "model",
    "ModelConfig": "config",
}

__all__ = ["__version__", *sorted(_WHERE)]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"dcase_cae.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'dcase_cae' has no attribute {name!r}")
