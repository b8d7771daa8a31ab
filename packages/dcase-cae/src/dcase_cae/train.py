"""Training: one model per machine type (IDs or sections pooled), through the core Trainer.

Autoencoders learn to reconstruct the normal training windows (MSE); the embedding model learns to
classify each training crop's attribute class (section + attributes, or the clip itself when there is only
one such class) with a margin loss.

A training run directory holds one sub-run per machine type, each a complete core run directory:

    <run>/config.yaml                 the effective config
    <run>/cache/                      log-mel cache (unless data.cache_dir is set)
    <run>/<machine_type>/checkpoints/ last.pt, best.pt (lowest val_loss), top-3
    <run>/<machine_type>/metrics.jsonl, figures/, TensorBoard events

`--resume <run>` continues every machine type from its last.pt (types not started yet start fresh), so a
run killed during feature extraction, training or between types picks up where it stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sigzoo_shared import (
    Callback,
    EpochFigures,
    RunDir,
    Trainer,
    make_loaders,
    seed_everything,
    setup,
)
from sigzoo_shared.checkpoint import LAST
from sigzoo_shared.trainer import FitResult
from torch import Tensor, nn

from dcase_cae.config import Config
from dcase_cae.data import (
    WindowDataset,
    class_labels,
    common_rate,
    extract_features,
    list_clips,
    machine_dirs,
    make_bank,
    split_train_val,
)
from dcase_cae.model import AttributeEmbedder, CNNAutoEncoder, DenseAE

log = logging.getLogger(__name__)
PACKAGE = "dcase-cae"


def build_model(cfg: Config, n_classes: int = 2) -> nn.Module:
    """The configured model; `n_classes` sizes the embedding model's classification head."""
    if cfg.model.name == "embedding":
        m = cfg.model
        return AttributeEmbedder(
            cfg.data.n_mels,
            n_classes,
            m.embedding_dim,
            m.channels,
            m.n_subclusters,
            m.scale,
            m.margin,
        )
    if cfg.model.name == "cae":
        return CNNAutoEncoder(side=cfg.data.n_mels, z_dim=cfg.model.z_dim)
    return DenseAE(
        input_dim=cfg.data.frames * cfg.data.n_mels,
        hidden_dim=cfg.model.hidden_dim,
        bottleneck_dim=cfg.model.bottleneck_dim,
        n_hidden=cfg.model.n_hidden,
    )


def build_for_weights(cfg: Config, state: dict) -> nn.Module:
    """The model a checkpoint's weights fit: the embedding model's class count follows the training
    data, so it is read off the stored class centres."""
    centres = state.get("model_state", {}).get("head.centres")
    n_classes = 2 if centres is None else int(centres.shape[0]) // cfg.model.n_subclusters
    return build_model(cfg, n_classes)


def reconstruction_step(model: nn.Module, batch: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """MSE between the input windows and their reconstruction (both models, as in seed and baseline)."""
    loss = F.mse_loss(model(batch), batch)
    return loss, {}


def margin_step(
    model: AttributeEmbedder, batch: tuple[Tensor, Tensor]
) -> tuple[Tensor, dict[str, Tensor]]:
    """Cross-entropy of the margin logits against each crop's class, and the crops' accuracy."""
    x, labels = batch
    z = model.embed(x)  # (B, D)
    loss = F.cross_entropy(model.head(z, labels), labels)
    accuracy = (model.head.cosines(z).argmax(1) == labels).float().mean()
    return loss, {"accuracy": accuracy.detach()}


def cache_dir_for(cfg: Config, run_path: Path) -> Path:
    return Path(cfg.data.cache_dir) if cfg.data.cache_dir is not None else run_path / "cache"


def _example_figure(dataset: WindowDataset, cfg: Config, n: int = 2):
    """An EpochFigures maker: the first `n` windows of `dataset` beside their reconstructions."""
    from dcase_cae.plots import reconstruction_figure

    idx = np.linspace(0, len(dataset) - 1, min(n, len(dataset))).astype(int)
    x = dataset.gather(idx)

    def make(trainer: Trainer, model: nn.Module, epoch: int):
        x_hat = model(x.to(trainer.device)).cpu()
        return reconstruction_figure(x.numpy(), x_hat.numpy(), cfg, title=f"epoch {epoch + 1}")

    return make


def fit_windows(
    cfg: Config,
    model: nn.Module,
    train_ds: WindowDataset,
    val_ds: WindowDataset | None,
    run: RunDir,
    device: torch.device,
    callbacks: Sequence[Callback] = (),
    resume: Path | None = None,
) -> FitResult:
    """Loaders, optimizer and (with `model.compile`) a compiled forward, then the core Trainer.

    `bench --cases epoch` times this function, so what it measures is what `train` runs.
    `nn.Module.compile` compiles in place: parameter names, hence checkpoints, stay those of the
    plain model. On CPU the core Trainer keeps freed activations in the heap (`heap_reuse`).
    """
    loader, val_loader = make_loaders(
        train_ds,
        val_ds,
        cfg.train,
        device,
        collate_fn=train_ds.collate,
        val_collate_fn=val_ds.collate if val_ds is not None else None,
    )
    model.to(device)
    if cfg.model.compile:
        model.compile()
    trainer = Trainer(cfg.train, run, callbacks, config=cfg, device=device)
    step = margin_step if isinstance(model, AttributeEmbedder) else reconstruction_step
    return trainer.fit(model, step, loader, val_loader, resume=resume)


def train_machine(
    cfg: Config,
    machine_type: str,
    machine_dir: Path,
    run: RunDir,
    cache_dir: Path,
    device: torch.device,
    resume: bool = False,
    callbacks: Sequence[Callback] = (),
) -> Path:
    """Train one model on the normal training clips of one machine type; returns its run directory.

    `callbacks` are added to the Trainer's (e.g. a per-epoch evaluation in an ablation script).
    """
    clips = list_clips(machine_dir, "train", machine_type)
    rate = common_rate(clips, cfg.data)
    log.info(
        "%s: %d training clips at %d Hz from %s",
        machine_type,
        len(clips),
        rate,
        machine_dir / "train",
    )
    features = extract_features(clips, cfg.data, cache_dir, rate)
    names = [str(c.path) for c in clips]
    train_idx, val_idx = split_train_val(len(clips), cfg.data.validation_split, cfg.train.seed)
    kind = cfg.model.name
    labels, classes = class_labels(clips, cfg.model.classes) if kind == "embedding" else (None, [])

    def dataset(idx: np.ndarray) -> WindowDataset:
        bank = make_bank([features[i] for i in idx], cfg.data, kind, [names[i] for i in idx])
        return WindowDataset(bank, kind, None if labels is None else labels[idx])

    train_ds = dataset(train_idx)
    val_ds = dataset(val_idx) if len(val_idx) else None
    log.info(
        "%s: %d training / %d validation windows (%s)%s",
        machine_type,
        len(train_ds),
        len(val_ds) if val_ds else 0,
        kind,
        f", {len(classes)} classes" if classes else "",
    )
    seed_everything(cfg.train.seed, cfg.train.deterministic, cfg.train.cudnn_benchmark)
    model = build_model(cfg, len(classes))
    if isinstance(model, AttributeEmbedder):
        frames = np.concatenate([features[i] for i in train_idx], axis=1)  # (M, all frames)
        model.set_normalisation(
            torch.from_numpy(frames.mean(axis=1)), torch.from_numpy(frames.std(axis=1))
        )
    callbacks = list(callbacks)
    if cfg.figures.enabled and kind != "embedding":
        every = cfg.figures.every_n_epochs or max(1, cfg.train.epochs // 3)
        callbacks.append(
            EpochFigures(
                _example_figure(val_ds or train_ds, cfg),
                name="reconstruction",
                every_n_epochs=every,
            )
        )
    run.write_json(
        "machine.json",
        {
            "machine_type": machine_type,
            "machine_dir": str(machine_dir),
            "sample_rate_hz": rate,
            "n_train_clips": int(len(train_idx)),
            "n_val_clips": int(len(val_idx)),
            "n_train_windows": len(train_ds),
            "model": kind,
            "classes": classes,
        },
    )
    result = fit_windows(
        cfg,
        model,
        train_ds,
        val_ds,
        run,
        device,
        callbacks,
        resume=run.path if resume and (run.checkpoints / LAST).is_file() else None,
    )
    from sigzoo_shared.plots import loss_curves

    history = run.read_metrics()
    if history:
        run.save_figure(loss_curves(history, ["loss"], title=f"{machine_type} ({kind})"), "loss")
    log.info(
        "%s: %d epochs, best %s %.5g -> %s",
        machine_type,
        result.epochs_completed,
        result.monitor,
        result.best_metric if result.best_metric is not None else float("nan"),
        run.path,
    )
    return run.path


def train(cfg: Config, run_dir: Path | str | None = None, resume: Path | str | None = None) -> Path:
    """Train a model per machine type found under `cfg.data.data_dir`; returns the run directory."""
    if resume is not None:
        if not Path(resume).is_dir():
            from sigzoo_shared import CheckpointError

            raise CheckpointError(f"{resume}: run directory to resume not found")
        run_dir = resume
    dirs = machine_dirs(cfg.data.data_dir, cfg.data.machine_type)  # fail before creating anything
    device = setup(cfg.train)
    root = RunDir.create(PACKAGE, run_dir=run_dir, verb="train", tensorboard=False)
    root.save_config(cfg)
    cache_dir = cache_dir_for(cfg, root.path)
    for machine_type, machine_dir in dirs.items():
        sub = RunDir(root.path / machine_type)
        train_machine(
            cfg, machine_type, machine_dir, sub, cache_dir, device, resume=resume is not None
        )
    return root.path


def load_trained(
    run_or_checkpoint: Path, device: torch.device | str = "cpu"
) -> tuple[nn.Module, Config, dict]:
    """Model in eval mode, its Config and the checkpoint dict, from a run dir (best.pt) or a .pt file.

    The core's `load_run` rebuilds it from the config stored in the checkpoint; the embedding
    model's class count follows the training data, so it is read off the stored class centres.
    """
    from sigzoo_shared.runs import load_run

    loaded = load_run(
        Config,
        run_or_checkpoint,
        build_for_weights,
        which="best",
        map_location=str(device),
        needs_state=True,
    )
    loaded.model.to(device)
    state = loaded.state
    state["path"] = str(loaded.checkpoint)
    return loaded.model, loaded.config, state


__all__ = [
    "build_for_weights",
    "build_model",
    "fit_windows",
    "load_trained",
    "margin_step",
    "reconstruction_step",
    "train",
    "train_machine",
]
