"""A VAE that clusters repeating patterns in a time series, with per-epoch latent plots."""

from vae_demo.config import Config, DataConfig, ModelConfig, PlotConfig
from vae_demo.model import TimeSeriesVAE

__version__ = "0.1.0"

__all__ = ["Config", "DataConfig", "ModelConfig", "PlotConfig", "TimeSeriesVAE", "__version__"]
