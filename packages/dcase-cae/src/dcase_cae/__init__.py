"""Convolutional autoencoder for DCASE anomalous machine-sound detection."""

__version__ = "0.1.0"
