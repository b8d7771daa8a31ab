"""A VAE that clusters repeating patterns in a time series, with per-epoch latent plots.

Public names load lazily, so `vae-demo --help` does not import torch.
"""

from __future__ import annotations

from sigzoo_shared.lazy import lazy_getattr

__version__ = "0.1.0"

_WHERE = {
    "PatternModel": "api",
    "load_pretrained": "api",
    "load_run": "api",
    "Config": "config",
    "DataError": "api",
    "DataConfig": "config",
    "ModelConfig": "config",
    "PlotConfig": "config",
    "TimeSeriesVAE": "model",
}

__all__ = ["__version__", *sorted(_WHERE)]


__getattr__ = lazy_getattr(__name__, _WHERE)
