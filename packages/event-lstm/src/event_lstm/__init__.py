"""16-event detector with 5 ms onset timing on 6-channel 2 kHz sensor streams."""

__version__ = "0.1.0"
