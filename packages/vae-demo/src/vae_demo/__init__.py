"""A VAE that clusters repeating patterns in a time series, with per-epoch latent plots."""

__version__ = "0.1.0"
