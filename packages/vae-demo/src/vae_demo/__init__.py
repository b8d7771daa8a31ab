"""A VAE that clusters repeating patterns in a time series, with per-epoch latent plots.

Public names load lazily, so `vae-demo --help` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_WHERE = {
    "Config": "config",
    "DataConfig": "config",
    "ModelConfig": "config",
    "PlotConfig": "config",
    "TimeSeriesVAE": "model",
}

__all__ = ["__version__", *sorted(_WHERE)]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"vae_demo.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'vae_demo' has no attribute {name!r}")
