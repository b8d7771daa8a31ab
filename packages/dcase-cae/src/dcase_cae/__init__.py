"""Convolutional autoencoder (and the DCASE 2020 dense baseline) for anomalous machine-sound detection."""

from dcase_cae.config import Config, DataConfig, DecisionConfig, ModelConfig
from dcase_cae.model import CNNAutoEncoder, DenseAE

__version__ = "0.1.0"

__all__ = [
    "CNNAutoEncoder",
    "Config",
    "DataConfig",
    "DecisionConfig",
    "DenseAE",
    "ModelConfig",
    "__version__",
]
