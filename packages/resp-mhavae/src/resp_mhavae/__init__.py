"""Multi-head-attention VAE + LSTM anomaly detection on multi-modal breathing sensors."""

__version__ = "0.1.0"
