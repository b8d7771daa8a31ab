"""The three error types every sigzoo package raises for problems a user can fix.

The CLI catches `SigzooError` at the top and prints its message as one line, so a message must name the
place (file, field, record, step), say what is wrong and what was expected.
"""

from __future__ import annotations


class SigzooError(Exception):
    """Base class: an error caused by user input, not by a bug."""


class ConfigError(SigzooError):
    """A config file or override is malformed: unknown key, wrong type, value out of range."""


class DataError(SigzooError):
    """An input file or array is missing, corrupt, or not what the package expects."""


class CheckpointError(SigzooError):
    """A checkpoint is missing, foreign, truncated or unsafe to load."""


class NonFiniteLossError(SigzooError):
    """Training produced a NaN or infinite loss; the message names the step."""
