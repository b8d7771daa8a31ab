"""sigzoo's training core: one Trainer, checkpoints, config, metrics, device and DDP utilities.

Packages import from here; the core imports no package.
"""

from sigzoo_shared.callbacks import Callback, EarlyStopping, EpochFigures, EpochMetrics
from sigzoo_shared.checkpoint import find_checkpoint, load_checkpoint, load_state_dict, load_weights
from sigzoo_shared.config import TrainConfig, load_config, to_dict
from sigzoo_shared.device import memory_report, resolve_device, seed_everything
from sigzoo_shared.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    NonFiniteLossError,
    SigzooError,
)
from sigzoo_shared.loader import make_loader
from sigzoo_shared.rundir import RunDir
from sigzoo_shared.trainer import FitResult, Trainer, setup

__version__ = "0.1.0"

__all__ = [
    "Callback",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "EarlyStopping",
    "EpochFigures",
    "EpochMetrics",
    "FitResult",
    "NonFiniteLossError",
    "RunDir",
    "SigzooError",
    "TrainConfig",
    "Trainer",
    "find_checkpoint",
    "load_checkpoint",
    "load_config",
    "load_state_dict",
    "load_weights",
    "make_loader",
    "memory_report",
    "resolve_device",
    "seed_everything",
    "setup",
    "to_dict",
]
