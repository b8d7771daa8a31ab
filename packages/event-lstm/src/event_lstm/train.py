"""Step functions and the train / pretrain / finetune verbs, all through the core Trainer.

Supervised training fits `LSTMEventClassifier` or `EventSpecificClassifier` (model.arch) with
`EventTimingLoss` / `EventSpecificLoss`; pre-training fits an autoencoder, a VAE (the original had no
working VAE trainer) or a contrastive encoder on unlabelled windows; fine-tuning copies a pre-trained
encoder into a classifier (`transfer_encoder_to_classifier`) and trains it on labelled windows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from sigzoo_shared import (
    Callback,
    ConfigError,
    EpochFigures,
    EpochMetrics,
    FitResult,
    RunDir,
    Trainer,
    setup,
)
from sigzoo_shared.distributed import unwrap
from sigzoo_shared.errors import CheckpointError
from sigzoo_shared.runs import check_resumable, load_run, make_loaders
from torch import Tensor, nn

from event_lstm.augment import TemporalAugmentation
from event_lstm.builders import build_loss, build_model, build_pretrain_model, pretraining_model
from event_lstm.config import Config
from event_lstm.data import WindowDataset, WindowSet, load_windows
from event_lstm.evaluate import window_metrics
from event_lstm.event_specific import EventSpecificClassifier
from event_lstm.generator import generate_windows
from event_lstm.losses import EventTimingLoss, autoencoder_loss, nt_xent_loss, vae_loss
from event_lstm.pretraining import transfer_encoder_to_classifier

log = logging.getLogger(__name__)
PACKAGE = "event-lstm"

Step = Callable[[nn.Module, Any], tuple[Tensor, dict[str, Tensor]]]


# ---------------------------------------------------------------------------------- step functions


def supervised_step(loss_fn: EventTimingLoss, teacher_mask: bool) -> Step:
    """(x, labels, timings) -> loss; the event-specific timing heads see the true presence mask."""

    def step(model: nn.Module, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        x, labels, timings = batch
        out = model(x, event_mask=labels > 0.5) if teacher_mask else model(x)
        parts = loss_fn(out, labels, timings)
        return parts.pop("loss"), parts

    return step


def pretrain_step(cfg: Config, method: str) -> Step:
    p = cfg.pretrain
    augment = TemporalAugmentation(p.noise_std, p.scale_range, p.crop_fraction, p.max_shift_samples)

    def step(model: nn.Module, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        x = batch[0]
        if method == "contrastive":
            loss = nt_xent_loss(model(augment(x)), model(augment(x)), p.temperature)
            return loss, {"nt_xent": loss}
        out = model(x)
        parts = vae_loss(out, p.kl_weight) if method == "vae" else autoencoder_loss(out)
        return parts.pop("loss"), parts

    return step


# ----------------------------------------------------------------------------------------- data


def load_labelled(cfg: Config, run: RunDir | None = None) -> tuple[WindowSet, WindowSet]:
    """Train and validation windows from data.*_path, or generated from `generator` (same shapes)."""
    d, m = cfg.data, cfg.model
    kw = {"n_channels": d.n_channels, "n_events": d.n_events, "min_length": m.template_length}
    if d.train_path is not None:
        train = load_windows(d.train_path, **kw)
        val = load_windows(d.val_path, **kw) if d.val_path is not None else None
        if val is None:
            raise ConfigError("data.val_path: a validation set is required with data.train_path")
        return train, val
    gen = {"n_events": d.n_events, "n_channels": d.n_channels, "fs_hz": d.fs_hz}
    log.info(
        "no data.train_path: generating %d/%d windows (generator.seed=%d)",
        cfg.generator.n_train,
        cfg.generator.n_val,
        cfg.generator.seed,
    )
    return (
        generate_windows(cfg.generator, cfg.generator.n_train, "train", **gen),
        generate_windows(cfg.generator, cfg.generator.n_val, "val", **gen),
    )


def load_unlabelled(cfg: Config) -> WindowSet:
    d = cfg.data
    kw = {
        "n_channels": d.n_channels,
        "n_events": d.n_events,
        "min_length": cfg.model.template_length,
    }
    if d.unlabelled_path is not None:
        return load_windows(d.unlabelled_path, labelled=False, **kw)
    if d.train_path is not None:
        return WindowSet(signals=load_windows(d.train_path, **kw).signals)
    return WindowSet(
        signals=generate_windows(
            cfg.generator,
            cfg.generator.n_unlabelled,
            "unlabelled",
            d.n_events,
            d.n_channels,
            d.fs_hz,
        ).signals
    )


# ---------------------------------------------------------------------------------------- verbs


class FreezeBackbone(Callback):
    """Fine-tuning: keep the transferred encoder frozen for the first `epochs` epochs."""

    def __init__(self, epochs: int) -> None:
        self.epochs, self.released = epochs, epochs <= 0

    def on_fit_start(self, trainer: Trainer, model: nn.Module) -> None:
        if not self.released:
            unwrap(model).freeze_backbone()

    def on_epoch_end(self, trainer: Trainer, model: nn.Module, metrics: dict[str, Any]) -> None:
        if not self.released and trainer.epoch + 1 >= self.epochs:
            unwrap(model).unfreeze_backbone()
            self.released = True

    def state_dict(self) -> dict[str, Any]:
        return {"released": self.released}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.released = bool(state.get("released", self.released))


def _supervised_callbacks(cfg: Config, val: WindowSet) -> list[Callback]:
    from event_lstm.plots import detection_figure, template_grid

    n = min(len(val.signals), 256)
    subset = WindowSet(val.signals[:n], val.event_labels[:n], val.event_timings[:n])

    def metrics(trainer: Trainer, model: nn.Module, epoch: int) -> dict[str, float]:
        # a line between the training batches' heartbeat and the epoch summary: scoring and the
        # figures take a while on a CPU, and off a terminal nothing else shows the run is alive
        log.info("epoch %d: scoring events on %d validation windows", epoch + 1, n)
        res = window_metrics(model, subset, cfg, device=trainer.device, tolerances_ms=[5.0])
        o = res["by_tolerance"]["5ms"]["overall"]
        return {"val_f1_5ms": o["f1"], "val_onset_median_ms": res["onset_error_ms"]["median"]}

    def figures(trainer: Trainer, model: nn.Module, epoch: int) -> dict[str, Any]:
        log.info("epoch %d: drawing the window and template figures", epoch + 1)
        x = torch.from_numpy(subset.signals[:1]).to(trainer.device)
        figs = {
            "window": detection_figure(
                model, x, subset.event_labels[0], subset.event_timings[0], cfg.detect.threshold
            )
        }
        if isinstance(model, EventSpecificClassifier):
            figs["templates"] = template_grid(model)
        return figs

    every = max(1, cfg.train.epochs // 5)
    return [EpochMetrics(metrics), EpochFigures(figures, every_n_epochs=every)]


def train(
    cfg: Config,
    run_dir: Path | str | None = None,
    resume: Path | str | None = None,
    pretrained: Path | str | None = None,
    verb: str = "train",
) -> FitResult:
    """Supervised training (or fine-tuning when `pretrained` names a pre-training run or checkpoint)."""
    if resume is not None:
        check_resumable(resume)  # a bad last.pt is refused before any data is generated or loaded
    device = setup(cfg.train)
    # an input error while the data and model are prepared removes the run directory this call made
    with RunDir.created(PACKAGE, run_dir=run_dir if resume is None else resume, verb=verb) as run:
        return _fit_supervised(cfg, run, device, resume, pretrained)


def _fit_supervised(
    cfg: Config,
    run: RunDir,
    device: torch.device,
    resume: Path | str | None,
    pretrained: Path | str | None,
) -> FitResult:
    train_ws, val_ws = load_labelled(cfg, run)
    model = build_model(cfg.model)
    callbacks = _supervised_callbacks(cfg, val_ws)
    if pretrained is not None:
        copied = transfer_pretrained(model, pretrained)
        log.info("transferred %d encoder tensors from %s", len(copied), pretrained)
        callbacks.insert(0, FreezeBackbone(cfg.pretrain.freeze_backbone_epochs))
    loader, val_loader = make_loaders(
        WindowDataset(train_ws), WindowDataset(val_ws), cfg.train, device
    )
    step = supervised_step(
        build_loss(cfg).to(device), teacher_mask=cfg.model.arch == "event_specific"
    )
    trainer = Trainer(cfg.train, run, callbacks, config=cfg, device=device)
    log.info(
        "training %s (%d parameters) on %d windows, %d batches per epoch",
        type(model).__name__,
        sum(p.numel() for p in model.parameters()),
        len(train_ws.signals),
        len(loader),
    )
    return trainer.fit(
        model,
        step,
        loader,
        val_loader,
        val_step=supervised_step(build_loss(cfg).to(device), teacher_mask=False),
        resume=resume,
    )


def transfer_pretrained(model: nn.Module, pretrained: Path | str) -> list[str]:
    """Rebuild the pre-training model from its run (`load_run`) and copy its encoder into `model`.

    The pre-training method is the stored `pretrain.method` (`pretrain` sets it to the verb's method).
    """
    try:
        run = load_run(Config, pretrained, pretraining_model)
    except CheckpointError as err:
        raise CheckpointError(
            f"{err} (--pretrained needs a `pretrain ae|vae|contrastive` run)"
        ) from err
    copied = transfer_encoder_to_classifier(run.model, model)
    if not copied:
        raise ConfigError(
            f"{run.checkpoint}: no encoder tensor fits this classifier; use the same model.hidden_size, "
            f"model.num_layers, model.downsample and model.frontend_channels as the "
            f"pre-training run"
        )
    return copied


def pretrain(
    cfg: Config, method: str, run_dir: Path | str | None = None, resume: Path | str | None = None
) -> FitResult:
    """Unsupervised (ae, vae) or self-supervised (contrastive) pre-training of the encoder."""
    if method not in ("ae", "vae", "contrastive"):
        raise ConfigError(f"pretrain method {method!r}: expected one of ae, vae, contrastive")
    from sigzoo_shared.config import replace

    cfg = replace(cfg, pretrain=replace(cfg.pretrain, method=method))
    if resume is not None:
        check_resumable(resume)
    device = setup(cfg.train)
    with RunDir.created(
        PACKAGE, run_dir=run_dir if resume is None else resume, verb=f"pretrain-{method}"
    ) as run:
        return _fit_pretraining(cfg, method, run, device, resume)


def _fit_pretraining(
    cfg: Config, method: str, run: RunDir, device: torch.device, resume: Path | str | None
) -> FitResult:
    from sigzoo_shared.config import replace

    ws = load_unlabelled(cfg)
    n_val = max(1, len(ws.signals) // 10)
    train_ws, val_ws = WindowSet(ws.signals[n_val:]), WindowSet(ws.signals[:n_val])
    model = build_pretrain_model(cfg, method)
    # contrastive batches need >= 2 windows (NT-Xent pairs each window with the rest of its batch)
    loader, val_loader = make_loaders(
        WindowDataset(train_ws),
        WindowDataset(val_ws),
        cfg.train,
        device,
        drop_last=method == "contrastive",
    )
    tcfg = cfg.train
    if tcfg.monitor.startswith("val_f1") or tcfg.monitor.startswith("val_onset"):
        tcfg = replace(tcfg, monitor="val_loss", mode="min")  # no event metrics without labels
    trainer = Trainer(tcfg, run, [], config=cfg, device=device)
    return trainer.fit(model, pretrain_step(cfg, method), loader, val_loader, resume=resume)
