"""VQ-VAE ECG model on MIT-BIH that reconstructs and forecasts the coming seconds.

Public names load lazily, so `ecg-vqvae --help` does not import torch.
"""

from __future__ import annotations

from sigzoo_shared.lazy import lazy_getattr

__version__ = "0.1.0"

_WHERE = {
    "load_run": "api",
    "load_pretrained": "api",
    "ECGModel": "api",
    "Forecast": "api",
    "Config": "config",
    "DataConfig": "config",
    "ModelConfig": "config",
    "ForecastConfig": "config",
    "EvaluateConfig": "config",
    "VQVAE": "model",
    "LatentForecaster": "model",
    "build_vqvae": "model",
    "VectorQuantizerEMA": "quantizer",
}

__all__ = ["__version__", *sorted(_WHERE)]


__getattr__ = lazy_getattr(__name__, _WHERE)
