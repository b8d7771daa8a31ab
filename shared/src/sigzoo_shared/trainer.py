"""The one training loop every sigzoo package uses.

A package supplies a model, loaders and a *step function* `step(model, batch) -> (loss, parts)` (loss a
scalar tensor, parts a dict of named scalars for logging); the Trainer does the rest: device placement,
AMP, gradient accumulation and clipping, optimizer and LR scheduler, validation, early stopping,
checkpoints (last/best/top-k, atomic, with full RNG state), metrics.jsonl + TensorBoard, progress bars,
resume, and DDP under torchrun. No package calls `optimizer.step()` itself.

The step function must call the model through `model(...)` (that is how DDP synchronises gradients); use
`sigzoo_shared.distributed.unwrap(model)` to reach other attributes.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from sigzoo_shared.callbacks import Callback, EarlyStopping
from sigzoo_shared.checkpoint import (
    CheckpointManager,
    capture_rng_state,
    find_checkpoint,
    load_checkpoint,
    remove_stale_temps,
    restore_rng_state,
)
from sigzoo_shared.config import TrainConfig, to_dict
from sigzoo_shared.device import amp_dtype, memory_report, resolve_device, seed_everything
from sigzoo_shared.distributed import (
    all_reduce_mean,
    distributed_device,
    init_distributed,
    is_distributed,
    unwrap,
    wrap_ddp,
)
from sigzoo_shared.errors import CheckpointError, ConfigError, NonFiniteLossError
from sigzoo_shared.heap import heap_reuse
from sigzoo_shared.loader import set_epoch
from sigzoo_shared.log import Heartbeat, progress, progress_enabled
from sigzoo_shared.precise_bn import recompute_batchnorm
from sigzoo_shared.rundir import RunDir

log = logging.getLogger(__name__)

StepFn = Callable[[nn.Module, Any], tuple[Tensor, dict[str, Any]]]


def setup(cfg: TrainConfig) -> torch.device:
    """Pick the device, join the DDP process group when under torchrun, seed everything. Call first."""
    device = distributed_device(resolve_device(cfg.device))
    init_distributed(device)
    seed_everything(cfg.seed, cfg.deterministic, cfg.cudnn_benchmark)
    return device


@dataclass
class FitResult:
    run_dir: Path
    epochs_completed: int
    global_step: int
    best_metric: float | None
    monitor: str
    best_checkpoint: Path | None
    last_checkpoint: Path | None
    stopped_early: bool
    history: list[dict[str, Any]] = field(default_factory=list)


def _update_kind(params: list[Any]) -> dict[str, bool]:
    """`fused` where every parameter lives on a CPU or CUDA device, else the multi-tensor update."""
    tensors = [t for p in params for t in (p["params"] if isinstance(p, dict) else [p])]
    if tensors and all(t.device.type in ("cpu", "cuda") for t in tensors):
        return {"fused": True}
    return {"foreach": True}


def build_optimizer(params: Any, cfg: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer named in the config, with the cheapest update PyTorch offers for it.

    PyTorch's default on a CPU loops over the parameters in Python, which for small models costs a
    sizeable share of the step. Adam and AdamW take the fused update (one kernel over all parameters:
    on the DCASE 2023 baseline's dense step 20.1 ms against 22.0 for the multi-tensor update and 23.9
    for the loop, dcase-cae's scripts/profile_dense_step.py); the others the multi-tensor update. Same
    maths, other rounding. Build it after the model is on its device.
    """
    params = list(params)
    common = {"lr": cfg.lr, "weight_decay": cfg.weight_decay}
    if cfg.optimizer in ("adam", "adamw"):
        adam = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
        return adam(params, betas=cfg.betas, **common, **_update_kind(params))
    if cfg.optimizer == "radam":
        return torch.optim.RAdam(params, betas=cfg.betas, foreach=True, **common)
    return torch.optim.SGD(params, momentum=cfg.momentum, foreach=True, **common)


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int
) -> tuple[Any, Literal["epoch", "step"]]:
    """The scheduler named in the config and how often it steps."""
    if cfg.scheduler == "none":
        return None, "epoch"
    if cfg.scheduler == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer,
            mode=cfg.mode,
            factor=cfg.scheduler_factor,
            patience=cfg.scheduler_patience,
            min_lr=cfg.min_lr,
        ), "epoch"
    if cfg.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=cfg.epochs, eta_min=cfg.min_lr
        ), "epoch"
    if cfg.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(
            optimizer, step_size=cfg.scheduler_step_size, gamma=cfg.scheduler_factor
        ), "epoch"
    total = cfg.max_steps or cfg.epochs * max(1, steps_per_epoch)
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=total), "step"


# what a cosine (epochs) or one-cycle (steps) schedule fixes when it is built
_PLANNED_LENGTH = ("T_max", "total_steps")


def check_schedule_length(scheduler: Any, saved: dict[str, Any], path: Path) -> None:
    """Refuse to resume a schedule planned for another length.

    A cosine or one-cycle schedule's state holds the length it was built for; loading it into a run
    with more epochs would keep the old plan, so the added epochs train at the schedule's final rate
    (and cosine's rate then climbs back). A plan cannot be stretched after the fact without changing
    the epochs already trained, so the honest way to train longer is a new run from these weights.
    """
    for key in _PLANNED_LENGTH:
        planned, asked = saved.get(key), getattr(scheduler, key, None)
        if planned is not None and asked is not None and planned != asked:
            raise ConfigError(
                f"{path}: cannot resume: its {type(scheduler).__name__} schedule was planned for "
                f"{key}={planned} and this run asks for {asked} (train.epochs or train.max_steps "
                "changed, or the batches per epoch did); keep them as they were, or train a new run "
                "that starts from this run's weights"
            )


def move_to(batch: Any, device: torch.device) -> Any:
    """Tensors inside tuples/lists/dicts go to `device`; everything else is left alone."""
    if isinstance(batch, Tensor):
        return batch.to(device, non_blocking=device.type == "cuda")
    if isinstance(batch, dict):
        return {k: move_to(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        moved = [move_to(v, device) for v in batch]
        return type(batch)(*moved) if hasattr(batch, "_fields") else type(batch)(moved)
    return batch


def batch_size_of(batch: Any) -> int:
    """Leading dimension of the first tensor found (used to weight epoch means)."""
    if isinstance(batch, Tensor):
        return int(batch.shape[0]) if batch.dim() else 1
    if isinstance(batch, dict):
        batch = list(batch.values())
    if isinstance(batch, (list, tuple)):
        for item in batch:
            n = batch_size_of(item)
            if n:
                return n
    return 0


class _Means:
    """Sample-weighted running means of named scalars."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0

    def add(self, values: dict[str, float], n: int) -> None:
        n = max(n, 1)
        for k, v in values.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v) * n
        self.count += n

    def result(self, prefix: str) -> dict[str, float]:
        return {f"{prefix}_{k}": v / max(self.count, 1) for k, v in self.sums.items()}

    def state_dict(self) -> dict[str, Any]:
        return {"sums": dict(self.sums), "count": self.count}

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> _Means:
        means = cls()
        if state:
            means.sums, means.count = dict(state["sums"]), int(state["count"])
        return means


def _scalars(parts: dict[str, Any]) -> dict[str, float]:
    out = {}
    for k, v in parts.items():
        if isinstance(v, Tensor):
            if v.numel() != 1:
                continue
            v = v.detach().float().item()
        if isinstance(v, (int, float)):
            out[k] = float(v)
    return out


class Trainer:
    """Fit a model with a step function; see the module docstring for what it handles."""

    def __init__(
        self,
        cfg: TrainConfig,
        run_dir: RunDir,
        callbacks: Sequence[Callback] = (),
        config: Any = None,
        device: torch.device | None = None,
    ) -> None:
        self.cfg = cfg
        self.run_dir = run_dir
        self.config = config  # the package's whole Config, stored in every checkpoint
        self.device = device or distributed_device(resolve_device(cfg.device))
        self.callbacks: list[Callback] = list(callbacks)
        if cfg.early_stopping_patience is not None:
            self.callbacks.append(
                EarlyStopping(cfg.monitor, cfg.mode, cfg.early_stopping_patience, cfg.min_delta)
            )
        self.amp_dtype = amp_dtype(self.device, cfg.amp)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.epoch = 0
        self.global_step = 0
        self.should_stop = False
        self.is_last_epoch = False
        self.history: list[dict[str, Any]] = []
        self._resume_batches = 0  # set when resuming from a mid-epoch checkpoint
        self._resume_means: dict[str, Any] | None = None

    # ----------------------------------------------------------------------------------- helpers
    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed precision when enabled (`train.amp`); a no-op context otherwise."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    @contextlib.contextmanager
    def eval_mode(self, model: nn.Module) -> Iterator[None]:
        """Eval mode and no gradients for the duration, restoring the previous mode after."""
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                yield
        finally:
            model.train(was_training)

    # ----------------------------------------------------------------------------------------- fit
    def fit(
        self,
        model: nn.Module,
        train_step: StepFn,
        train_loader: Any,
        val_loader: Any = None,
        *,
        val_step: StepFn | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        scheduler: Any = None,
        scheduler_interval: Literal["epoch", "step"] = "epoch",
        resume: Path | str | None = None,
        bn_step: StepFn | None = None,
    ) -> FitResult:
        """Train until `epochs`, `max_steps` or early stopping; return where the results are.

        `resume` is a run directory or checkpoint file of an interrupted run with the same config: model,
        optimizer, scheduler, scaler, callbacks, epoch/step and RNG states are restored and training
        continues with the next epoch, reaching the same weights as an uninterrupted run on CPU.
        `bn_step` (default `train_step`) is the forward that precise BN runs: a package whose loss
        terms after the last BatchNorm cost much (a decoder, spectral terms) passes a cheaper step
        that only drives the BatchNorm layers, since precise BN needs their inputs, not the loss.
        """
        cfg = self.cfg
        model.to(self.device)
        ddp_model = wrap_ddp(model, self.device)
        n_train = self._n_batches(train_loader, cfg.limit_train_batches)
        # said before the optimizer is built: its first construction imports torch's compiler stack,
        # which can take many seconds, and a user should not face a silent terminal meanwhile
        log.info(
            "setting up: %d parameters on %s, %s training batches per epoch, %d epochs",
            sum(p.numel() for p in model.parameters()),
            self.device,
            n_train if n_train is not None else "?",
            cfg.epochs,
        )
        optimizer = optimizer or build_optimizer(model.parameters(), cfg)
        if scheduler is None:
            scheduler, scheduler_interval = build_scheduler(optimizer, cfg, n_train or 1)
        monitor = cfg.monitor
        if val_loader is None and monitor.startswith("val_"):
            monitor = "train_" + monitor[4:]
            log.info("no validation data: monitoring %s instead of %s", monitor, cfg.monitor)
        for cb in self.callbacks:
            if (
                isinstance(cb, EarlyStopping)
                and cb.monitor.startswith("val_")
                and val_loader is None
            ):
                cb.monitor = monitor
        manager = CheckpointManager(self.run_dir.checkpoints, monitor, cfg.mode, cfg.save_top_k)

        start_epoch = 0
        if resume is None and (self.run_dir.checkpoints / "last.pt").exists():
            # starting over here would overwrite that run's checkpoints and mix its metrics with ours
            raise ConfigError(
                f"{self.run_dir.path} already holds a training run ({self.run_dir.checkpoints}/last.pt): "
                "resume it (--resume) or train into a new --run-dir"
            )
        if resume is not None:
            start_epoch = self._resume(resume, model, optimizer, scheduler, manager)
            if self.should_stop or start_epoch >= cfg.epochs:
                log.info("resume: run already finished at epoch %d", start_epoch - 1)
                return self._result(manager, stopped=self.should_stop)
        if self.config is not None:
            self.run_dir.save_config(self.config)
        for cb in self.callbacks:
            cb.on_fit_start(self, model)

        def save_mid_epoch(batches_done: int, means: _Means) -> None:
            if self.run_dir.write_enabled:
                state = self._state(model, optimizer, scheduler, manager, self.epoch)
                manager.save_last(
                    {**state, "batches_done": batches_done, "epoch_means": means.state_dict()}
                )

        # on CPU, activations freed at one step are reused at the next instead of re-mapped
        with heap_reuse(self.device.type == "cpu"):
            for epoch in range(start_epoch, cfg.epochs):
                self.epoch = epoch
                self.is_last_epoch = epoch == cfg.epochs - 1
                t0 = time.perf_counter()
                set_epoch(train_loader, epoch)
                train_metrics = self._train_epoch(
                    ddp_model,
                    model,
                    train_step,
                    train_loader,
                    optimizer,
                    scheduler if scheduler_interval == "step" else None,
                    n_train,
                    save_mid_epoch,
                )
                if self.should_stop:  # max_steps reached inside the epoch
                    self.is_last_epoch = True
                if cfg.precise_bn_batches > 0:
                    self._precise_bn(model, bn_step or train_step, train_loader)
                metrics: dict[str, Any] = {
                    "epoch": epoch,
                    "step": self.global_step,
                    **train_metrics,
                }
                if val_loader is not None:
                    metrics.update(self._validate(ddp_model, val_step or train_step, val_loader))
                metrics = {
                    **metrics,
                    **all_reduce_mean(
                        {k: v for k, v in metrics.items() if k not in ("epoch", "step")},
                        self.device,
                    ),
                }
                metrics["lr"] = optimizer.param_groups[0]["lr"]
                self._announce_callbacks(t0)
                for cb in self.callbacks:
                    cb.on_epoch_end(self, model, metrics)
                if scheduler is not None and scheduler_interval == "epoch":
                    self._step_scheduler(scheduler, metrics.get(monitor))
                metrics["epoch_time_s"] = round(time.perf_counter() - t0, 3)
                self._log_epoch(metrics)
                stop = self.should_stop or epoch == cfg.epochs - 1
                if (epoch + 1) % cfg.checkpoint_every_n_epochs == 0 or stop:
                    state = self._state(model, optimizer, scheduler, manager, epoch)
                    if self.run_dir.write_enabled:
                        manager.save(state, epoch, metrics.get(monitor))
                    elif manager.is_improvement(metrics.get(monitor)):
                        manager.best = metrics[monitor]
                if self.should_stop:
                    break
        result = self._result(manager, stopped=self.should_stop)
        for cb in self.callbacks:
            cb.on_fit_end(self, model, result)
        self.run_dir.close()
        return result

    # --------------------------------------------------------------------------------- one epoch
    @staticmethod
    def _n_batches(loader: Any, limit: int | None) -> int | None:
        try:
            n = len(loader)
        except TypeError:
            return limit
        return min(n, limit) if limit is not None else n

    def _train_epoch(
        self,
        ddp_model: nn.Module,
        model: nn.Module,
        step: StepFn,
        loader: Any,
        optimizer: torch.optim.Optimizer,
        step_scheduler: Any,
        n_batches: int | None,
        save_mid_epoch: Callable[[int, _Means], None],
    ) -> dict[str, float]:
        cfg = self.cfg
        accum = cfg.accumulate_grad_batches
        ddp_model.train()
        skip, means = self._resume_batches, _Means.from_state(self._resume_means)
        self._resume_batches, self._resume_means = 0, None
        every = cfg.checkpoint_every_n_steps
        optimizer.zero_grad(set_to_none=True)
        desc = f"epoch {self.epoch + 1}/{cfg.epochs}"
        bar = progress(loader, desc=desc, total=n_batches, enabled=cfg.progress)
        beat = Heartbeat(desc, n_batches, cfg.progress_every_s, progress_enabled(cfg.progress))
        for i, batch in enumerate(bar):
            if n_batches is not None and i >= n_batches:
                break
            if i < skip:  # done before the interruption (the order is a function of seed and epoch)
                continue
            group_start = (i // accum) * accum
            group_len = accum if n_batches is None else min(accum, n_batches - group_start)
            is_update = (i - group_start + 1) == group_len
            batch = move_to(batch, self.device)
            sync = contextlib.nullcontext()
            if is_distributed() and not is_update:
                sync = ddp_model.no_sync()  # type: ignore[operator]
            with sync:
                with self.autocast():
                    loss, parts = step(ddp_model, batch)
                loss_value = float(loss.detach().float().item())
                if not math.isfinite(loss_value):
                    raise NonFiniteLossError(
                        f"non-finite loss ({loss_value}) at step {self.global_step + 1} (epoch {self.epoch}, "
                        f"batch {i}); lower train.lr, set train.grad_clip_norm, or check the input for NaN"
                    )
                self.scaler.scale(loss / group_len).backward()
            values = {"loss": loss_value, **_scalars(parts)}
            means.add(values, batch_size_of(batch))
            if is_update:
                self._optimizer_step(model, optimizer)
                if step_scheduler is not None:
                    step_scheduler.step()
                if self.global_step % cfg.log_every_n_steps == 0:
                    self.run_dir.add_scalars(
                        {f"step/{k}": v for k, v in values.items()}, self.global_step
                    )
            bar.set_postfix(loss=f"{loss_value:.4g}", refresh=False)
            beat.tick(i + 1, loss=loss_value)
            for cb in self.callbacks:
                cb.on_train_batch_end(self, model, loss_value, values)
            if cfg.max_steps is not None and self.global_step >= cfg.max_steps and is_update:
                self.should_stop = True
                break
            last_batch = n_batches is not None and i + 1 >= n_batches
            if every and is_update and self.global_step % every == 0 and not last_batch:
                save_mid_epoch(i + 1, means)
        bar.close()
        return means.result("train")

    def _optimizer_step(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        if self.cfg.grad_clip_norm is not None:
            self.scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), self.cfg.grad_clip_norm)
        self.scaler.step(optimizer)
        self.scaler.update()
        optimizer.zero_grad(set_to_none=True)
        self.global_step += 1

    def _precise_bn(self, model: nn.Module, step: StepFn, loader: Any) -> None:
        """BatchNorm statistics of this epoch's weights (`train.precise_bn_batches`, precise_bn.py).

        Runs on the unwrapped model: each rank estimates from its own shard, and DDP broadcasts rank
        0's buffers at the next forward."""

        def forward(batch: Any) -> None:
            with self.autocast():
                step(model, move_to(batch, self.device))

        recompute_batchnorm(model, forward, loader, self.cfg.precise_bn_batches)

    def _announce_callbacks(self, epoch_start: float) -> None:
        """Say that end-of-epoch work (figures, custom metrics) starts, when nothing else would.

        Without a progress bar the only other sign of life is the epoch line that follows them, and
        figure or scoring callbacks can take as long as the epoch itself.
        """
        slow_epoch = time.perf_counter() - epoch_start >= self.cfg.progress_every_s
        if self.callbacks and slow_epoch and not progress_enabled(self.cfg.progress):
            names = ", ".join(type(cb).__name__ for cb in self.callbacks)
            if self.cfg.progress_every_s > 0 and self.run_dir.write_enabled:
                log.info(
                    "epoch %d/%d: end-of-epoch callbacks (%s)",
                    self.epoch + 1,
                    self.cfg.epochs,
                    names,
                )

    def _validate(self, ddp_model: nn.Module, step: StepFn, loader: Any) -> dict[str, float]:
        n_batches = self._n_batches(loader, self.cfg.limit_val_batches)
        means = _Means()
        beat = Heartbeat(
            f"epoch {self.epoch + 1}/{self.cfg.epochs} validation",
            n_batches,
            self.cfg.progress_every_s,
            bar_visible=False,
        )
        with self.eval_mode(ddp_model):
            for i, batch in enumerate(loader):
                if n_batches is not None and i >= n_batches:
                    break
                batch = move_to(batch, self.device)
                with self.autocast():
                    loss, parts = step(ddp_model, batch)
                loss_value = float(loss.float().item())
                means.add({"loss": loss_value, **_scalars(parts)}, batch_size_of(batch))
                beat.tick(i + 1, loss=loss_value)
        return means.result("val")

    @staticmethod
    def _step_scheduler(scheduler: Any, monitored: float | None) -> None:
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            if monitored is not None:
                scheduler.step(monitored)
        else:
            scheduler.step()

    def _log_epoch(self, metrics: dict[str, Any]) -> None:
        self.history.append(metrics)
        self.run_dir.log_metrics(metrics)
        self.run_dir.add_scalars(
            {k: v for k, v in metrics.items() if k not in ("epoch", "step")}, metrics["epoch"]
        )
        shown = " ".join(
            f"{k}={v:.4g}"
            for k, v in metrics.items()
            if isinstance(v, float) and k not in ("epoch_time_s",)
        )
        log.info(
            "epoch %d/%d %s (%.1f s)",
            metrics["epoch"] + 1,
            self.cfg.epochs,
            shown,
            metrics["epoch_time_s"],
        )

    # ------------------------------------------------------------------------------ checkpointing
    def _state(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
        manager: CheckpointManager,
        epoch: int,
    ) -> dict[str, Any]:
        return {
            "model_state": unwrap(model).state_dict(),
            "optimizer_state": optimizer.state_dict(),
            "scheduler_state": scheduler.state_dict() if scheduler is not None else None,
            "scaler_state": self.scaler.state_dict(),
            "epoch": epoch,
            "global_step": self.global_step,
            "stopped": self.should_stop,
            "monitor": manager.monitor,
            "rng_state": capture_rng_state(),
            "callbacks": [
                [type(cb).__name__, cb.state_dict()] for cb in self.callbacks if cb.state_dict()
            ],
            "config": to_dict(self.config) if self.config is not None else None,
            "history": self.history,
            "memory": memory_report(self.device),
        }

    def _resume(
        self,
        resume: Path | str,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
        manager: CheckpointManager,
    ) -> int:
        path = find_checkpoint(resume, which="last")
        if self.run_dir.write_enabled:
            remove_stale_temps(path.parent)
        state = load_checkpoint(path, map_location=self.device)
        try:
            unwrap(model).load_state_dict(state["model_state"])
            optimizer.load_state_dict(state["optimizer_state"])
        except (RuntimeError, ValueError, KeyError) as err:
            raise CheckpointError(
                f"{path}: cannot resume: checkpoint does not match this model/optimizer "
                f"({str(err).splitlines()[0]})"
            ) from err
        if scheduler is not None and state.get("scheduler_state") is not None:
            check_schedule_length(scheduler, state["scheduler_state"], path)
            scheduler.load_state_dict(state["scheduler_state"])
        if state.get("scaler_state"):
            self.scaler.load_state_dict(state["scaler_state"])
        if "manager_state" in state:
            manager.load_state_dict(state["manager_state"])
        self._load_callback_states(state.get("callbacks") or [], path)
        restore_rng_state(state["rng_state"])
        self.global_step = int(state["global_step"])
        self.should_stop = bool(state.get("stopped", False))
        self.history = list(state.get("history") or [])
        epoch = int(state["epoch"])
        if state.get("batches_done"):  # a mid-epoch checkpoint: finish that epoch first
            self._resume_batches = int(state["batches_done"])
            self._resume_means = state.get("epoch_means")
            self.run_dir.truncate_metrics(epoch - 1)
            log.info(
                "resumed from %s (epoch %d, batch %d, step %d)",
                path,
                epoch,
                self._resume_batches,
                self.global_step,
            )
            return epoch
        self.run_dir.truncate_metrics(epoch)
        log.info("resumed from %s (epoch %d, step %d)", path, epoch, self.global_step)
        return epoch + 1

    def _load_callback_states(self, saved: list[Any], path: Path) -> None:
        """Give each stateful callback its saved state, matched by class name in order."""
        pending = [(str(name), cb_state) for name, cb_state in saved]
        for cb in self.callbacks:
            name = type(cb).__name__
            match = next((i for i, (n, _) in enumerate(pending) if n == name), None)
            if match is not None:
                cb.load_state_dict(pending.pop(match)[1])
        if pending:
            log.warning(
                "%s: no callback to take the saved state of %s", path, [n for n, _ in pending]
            )

    def _result(self, manager: CheckpointManager, stopped: bool) -> FitResult:
        best = self.run_dir.checkpoints / "best.pt"
        last = self.run_dir.checkpoints / "last.pt"
        return FitResult(
            run_dir=self.run_dir.path,
            epochs_completed=len(self.history),
            global_step=self.global_step,
            best_metric=manager.best,
            monitor=manager.monitor,
            best_checkpoint=best if best.exists() else None,
            last_checkpoint=last if last.exists() else None,
            stopped_early=stopped,
            history=self.history,
        )
