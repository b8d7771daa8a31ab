"""VQ-VAE ECG model on MIT-BIH that reconstructs and forecasts the coming seconds."""

__version__ = "0.1.0"
