"""Hooks into the one training loop: early stopping, per-epoch figures, per-epoch custom metrics.

A callback sees the Trainer (run directory, epoch, step, device) and the unwrapped model. `on_epoch_end`
receives the epoch's metrics dict and may add entries to it; they are logged, checkpointed against and
monitored like the built-in ones. Callbacks with state return it from `state_dict` so a resumed run
continues exactly where the interrupted one stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import torch

if TYPE_CHECKING:
    from sigzoo_shared.trainer import FitResult, Trainer

log = logging.getLogger(__name__)


class Callback:
    """Base class; override what you need. All hooks run on every rank (writes go through the RunDir)."""

    def on_fit_start(self, trainer: Trainer, model: torch.nn.Module) -> None: ...

    def on_train_batch_end(
        self, trainer: Trainer, model: torch.nn.Module, loss: float, parts: dict[str, float]
    ) -> None: ...

    def on_epoch_end(
        self, trainer: Trainer, model: torch.nn.Module, metrics: dict[str, Any]
    ) -> None: ...

    def on_fit_end(self, trainer: Trainer, model: torch.nn.Module, result: FitResult) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by more than `min_delta` for `patience` epochs."""

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: Literal["min", "max"] = "min",
        patience: int = 10,
        min_delta: float = 0.0,
    ) -> None:
        self.monitor, self.mode, self.patience, self.min_delta = monitor, mode, patience, min_delta
        self.best: float | None = None
        self.bad_epochs = 0

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(
        self, trainer: Trainer, model: torch.nn.Module, metrics: dict[str, Any]
    ) -> None:
        value = metrics.get(self.monitor)
        if value is None:
            return
        if self._improved(value):
            self.best, self.bad_epochs = float(value), 0
        else:
            self.bad_epochs += 1
            if self.bad_epochs >= self.patience:
                log.info(
                    "early stopping: %s has not improved for %d epochs (best %.6g)",
                    self.monitor,
                    self.bad_epochs,
                    self.best,
                )
                trainer.should_stop = True

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.bad_epochs = state.get("best"), int(state.get("bad_epochs", 0))


FigureFn = Callable[["Trainer", torch.nn.Module, int], Any]


class EpochFigures(Callback):
    """Every `every_n_epochs` (and at the last epoch) call `make(trainer, model, epoch)`.

    `make` returns a matplotlib Figure or a dict name -> Figure; each is written to
    `figures/<name>_epoch<NNNN>.png` and to TensorBoard. The model is in eval mode and gradients are off
    while it runs; the RNG state is saved and restored around it, so figures never change training.
    """

    def __init__(self, make: FigureFn, name: str = "figure", every_n_epochs: int = 1) -> None:
        self.make, self.name, self.every = make, name, max(1, every_n_epochs)

    def on_epoch_end(
        self, trainer: Trainer, model: torch.nn.Module, metrics: dict[str, Any]
    ) -> None:
        epoch = trainer.epoch
        if (epoch + 1) % self.every and not trainer.is_last_epoch:
            return
        with trainer.eval_mode(model), torch.random.fork_rng(devices=[]):
            figures = self.make(trainer, model, epoch)
        if figures is None:
            return
        if not isinstance(figures, dict):
            figures = {self.name: figures}
        for name, fig in figures.items():
            trainer.run_dir.save_figure(fig, f"{name}_epoch{epoch:04d}", step=epoch)


MetricFn = Callable[["Trainer", torch.nn.Module, int], dict[str, float]]


class EpochMetrics(Callback):
    """Every `every_n_epochs` call `compute(trainer, model, epoch)` and add its dict to the epoch metrics.

    Runs in eval mode without gradients and with the RNG state restored afterwards, like EpochFigures.
    """

    def __init__(self, compute: MetricFn, every_n_epochs: int = 1) -> None:
        self.compute, self.every = compute, max(1, every_n_epochs)

    def on_epoch_end(
        self, trainer: Trainer, model: torch.nn.Module, metrics: dict[str, Any]
    ) -> None:
        if (trainer.epoch + 1) % self.every and not trainer.is_last_epoch:
            return
        with trainer.eval_mode(model), torch.random.fork_rng(devices=[]):
            metrics.update(self.compute(trainer, model, trainer.epoch))
