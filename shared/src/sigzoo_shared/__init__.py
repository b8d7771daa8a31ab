"""sigzoo's training core: one Trainer, checkpoints, config, metrics, device and DDP utilities.

Packages import from here; the core imports no package.
"""

from sigzoo_shared.lazy import lazy_getattr

# Public names load lazily (PEP 562): `sigzoo_shared.cli` and `.config` stay free of torch, so every
# package's `--help` answers at once; the first use of e.g. `Trainer` imports torch.
_WHERE = {
    "Callback": "callbacks",
    "EarlyStopping": "callbacks",
    "EpochFigures": "callbacks",
    "EpochMetrics": "callbacks",
    "find_checkpoint": "checkpoint",
    "load_checkpoint": "checkpoint",
    "load_state_dict": "checkpoint",
    "load_weights": "checkpoint",
    "TrainConfig": "config",
    "load_config": "config",
    "to_dict": "config",
    "memory_report": "device",
    "resolve_device": "device",
    "seed_everything": "device",
    "CheckpointError": "errors",
    "ConfigError": "errors",
    "DataError": "errors",
    "NonFiniteLossError": "errors",
    "SigzooError": "errors",
    "make_loader": "loader",
    "recompute_batchnorm": "precise_bn",
    "RunDir": "rundir",
    "LoadedRun": "runs",
    "load_run": "runs",
    "make_loaders": "runs",
    "resume_config": "runs",
    "FitResult": "trainer",
    "Trainer": "trainer",
    "setup": "trainer",
}


__getattr__ = lazy_getattr(__name__, _WHERE)


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_WHERE))


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
    "LoadedRun",
    "NonFiniteLossError",
    "RunDir",
    "SigzooError",
    "TrainConfig",
    "Trainer",
    "find_checkpoint",
    "load_checkpoint",
    "load_config",
    "load_run",
    "load_state_dict",
    "load_weights",
    "make_loader",
    "make_loaders",
    "memory_report",
    "recompute_batchnorm",
    "resolve_device",
    "resume_config",
    "seed_everything",
    "setup",
    "to_dict",
]
