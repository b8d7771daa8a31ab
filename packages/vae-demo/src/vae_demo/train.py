"""Training: the VAE step function, per-epoch monitoring callbacks, and the core Trainer.

Loss (fixing the original, whose reconstruction term was a sum over batch x time and so scaled with the
batch size): mean squared error per element + beta * KL per window averaged over the batch. The
original's effective beta on this scale is 1 / (batch_size * window) ~= 3e-5 (configs/seed.yaml). The
training KL weight warms up from 0 over `model.kl_warmup_epochs` (validation uses the full beta), and the
first `model.free_bits` nats per latent dimension are not penalised (both against posterior collapse).

Monitoring without a notebook: the validation windows are encoded once per monitored epoch; an
`EpochMetrics` callback (every `plot.metrics_every_n_epochs`) adds val_ari / val_nmi / val_silhouette /
val_noise_auc to the epoch's metrics (metrics.jsonl + TensorBoard), an `EpochFigures` callback (every
`plot.every_n_epochs`) writes latent / reconstruction / history PNGs (figures/ + TensorBoard images) and
sends the latent to TensorBoard's projector; at the end the latent PNGs become figures/latent.gif.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sigzoo_shared import (
    Callback,
    EpochFigures,
    EpochMetrics,
    FitResult,
    RunDir,
    Trainer,
    make_loader,
    setup,
)
from sigzoo_shared.checkpoint import find_checkpoint, load_checkpoint
from sigzoo_shared.config import load_config, read_yaml
from sigzoo_shared.distributed import unwrap
from torch import Tensor, nn

from vae_demo.config import Config, stored_config, stored_config_dict
from vae_demo.data import Windows, load_splits, to_dataset
from vae_demo.evaluate import build_model, encode_windows, latent_metrics, subset
from vae_demo.model import kl_divergence, roll_best, shift_tolerant_mse, spectral_errors
from vae_demo.plots import (
    epoch_frames,
    history_figure,
    latent_figure,
    make_gif,
    reconstruction_figure,
)

log = logging.getLogger(__name__)


class KLWarmup(Callback):
    """KL weight rising linearly from 0 to `beta` over `warmup_steps` optimizer steps (KL annealing,
    Bowman et al. 2016), so the decoder learns to use z before the KL term can collapse the posterior.

    The weight is a function of the Trainer's global step, so a resumed run continues the same ramp.
    """

    def __init__(self, beta: float, warmup_steps: int) -> None:
        self.beta, self.warmup_steps = beta, warmup_steps
        self._update(0)  # sets self.weight

    def _update(self, step: int) -> None:
        ramp = min(1.0, max(0.0, step / self.warmup_steps)) if self.warmup_steps > 0 else 1.0
        self.weight = self.beta * ramp

    def on_fit_start(self, trainer: Trainer, model: nn.Module) -> None:
        self._update(trainer.global_step)

    def on_train_batch_end(
        self, trainer: Trainer, model: nn.Module, loss: float, parts: dict[str, float]
    ) -> None:
        self._update(trainer.global_step)

    def on_epoch_end(self, trainer: Trainer, model: nn.Module, metrics: dict[str, Any]) -> None:
        metrics["kl_weight"] = self.weight


def make_step(
    beta: float,
    warmup: KLWarmup | None = None,
    free_bits: float = 0.0,
    shift_tolerant: bool = False,
    keep: float = 1.0,
    spectral: float = 0.0,
) -> Callable[[nn.Module, Any], tuple[Tensor, dict[str, Tensor]]]:
    """The step function: loss = MSE(recon, target) + beta * KL (beta from `warmup` when given);
    labels in the batch are ignored.

    With `free_bits` > 0 the penalised KL is sum_d max(KL_d, free_bits), KL_d the batch-mean KL of latent
    dimension d (Kingma et al. 2016, "free bits", eq. 15): the first `free_bits` nats per dimension are
    free, so the KL term cannot push the posterior onto the prior (collapse). The logged `kl` is the true
    KL per window either way. With `shift_tolerant` the MSE is that of the best cyclic shift, averaged
    over the best-fitting `keep` fraction of time steps (model.shift_tolerant_mse); with `spectral` > 0
    the loss adds spectral * model.spectral_errors(recon, target) (batch mean), logged as `spec`."""

    def vae_step(
        model: nn.Module, batch: tuple[Tensor, Tensor]
    ) -> tuple[Tensor, dict[str, Tensor]]:
        x, _labels = batch
        out = model(x)
        if shift_tolerant:
            recon, _ = shift_tolerant_mse(out.recon, out.target, keep)
        else:
            recon = F.mse_loss(out.recon, out.target)
        kl_d = kl_divergence(out.mu, out.logvar, per_dim=True).mean(dim=0)  # (D,)
        kl = kl_d.sum()
        penalised = kl_d.clamp(min=free_bits).sum() if free_bits > 0 else kl
        weight = warmup.weight if warmup is not None else beta
        loss = recon + weight * penalised
        parts = {"recon": recon.detach(), "kl": kl.detach()}
        if spectral > 0:
            spec = spectral_errors(out.recon, out.target).mean()
            loss = loss + spectral * spec
            parts["spec"] = spec.detach()
        return loss, parts

    return vae_step


class LatentMonitor(Callback):
    """Encodes the validation windows once per monitored epoch and serves metrics and figures from it.

    Put it before the EpochMetrics/EpochFigures that use `metrics`/`figures`: its `on_epoch_end` keeps
    the epoch's metrics dict so the history figure includes the current epoch.
    """

    def __init__(self, cfg: Config, val: Windows) -> None:
        self.cfg = cfg
        self.val = subset(val, cfg.plot.max_points)
        self.current: dict[str, Any] = {}
        self._cache: tuple[int, np.ndarray] | None = None
        self.lims: tuple[float, float, float, float] | None = None

    def on_epoch_end(self, trainer: Trainer, model: nn.Module, metrics: dict[str, Any]) -> None:
        self.current = metrics

    def latent(self, trainer: Trainer, model: nn.Module) -> np.ndarray:
        if self._cache is None or self._cache[0] != trainer.epoch:
            self._cache = (trainer.epoch, encode_windows(unwrap(model), self.val.x, trainer.device))
        return self._cache[1]

    def metrics(self, trainer: Trainer, model: nn.Module, epoch: int) -> dict[str, float]:
        mu = self.latent(trainer, model)
        values = latent_metrics(
            mu,
            self.val.y,
            self.cfg.data.n_patterns + 1,
            seed=self.cfg.train.seed,
            silhouette_points=self.cfg.plot.silhouette_points,
        )
        return {f"val_{k}": v for k, v in values.items()}

    def figures(self, trainer: Trainer, model: nn.Module, epoch: int) -> dict[str, Any]:
        mu = self.latent(trainer, model)
        figures: dict[str, Any] = {}
        m = self.current
        title = (
            f"epoch {epoch + 1}: ARI {m.get('val_ari', float('nan')):.3f}  "
            f"NMI {m.get('val_nmi', float('nan')):.3f}  noise AUC {m.get('val_noise_auc', float('nan')):.3f}"
        )
        if self.cfg.plot.latent_scatter and mu.shape[1] == 2:
            figures["latent"] = latent_figure(mu, self.val.y, title, lims=self._limits(mu))
        i = min(self.cfg.plot.sample_index, len(self.val.y) - 1)  # an index into the validation set
        x = torch.from_numpy(self.val.x[i : i + 1]).to(trainer.device)
        out = unwrap(model)(x)
        recon = roll_best(out.recon, out.target) if self.cfg.model.shift_tolerant else out.recon
        recon = recon[0].cpu().numpy()
        figures["reconstruction"] = reconstruction_figure(
            self.val.x[i], recon, int(self.val.y[i]), self.cfg.data.n_features, f"epoch {epoch + 1}"
        )
        figures["history"] = history_figure([*trainer.history, m])
        writer = trainer.run_dir.writer
        n_emb = min(self.cfg.plot.embedding_points, len(mu))
        if writer is not None and n_emb > 0:
            labels = ["noise" if y < 0 else f"pattern {y}" for y in self.val.y[:n_emb]]
            writer.add_embedding(
                torch.from_numpy(mu[:n_emb]), metadata=labels, global_step=epoch, tag="latent"
            )
        return figures

    def _limits(self, mu: np.ndarray) -> tuple[float, float, float, float]:
        """Axis limits that only grow, so the GIF frames share a scale."""
        lo, hi = np.percentile(mu, 0.5, axis=0), np.percentile(mu, 99.5, axis=0)
        pad = 0.1 * (hi - lo + 1e-6)
        new = (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])
        if self.lims is not None and all(np.isfinite(new)):
            old = self.lims
            new = (
                min(old[0], new[0]),
                max(old[1], new[1]),
                min(old[2], new[2]),
                max(old[3], new[3]),
            )
        self.lims = new if all(np.isfinite(new)) else self.lims
        return self.lims

    def on_fit_end(self, trainer: Trainer, model: nn.Module, result: FitResult) -> None:
        if not (self.cfg.plot.gif and trainer.run_dir.write_enabled):
            return
        gif = make_gif(
            epoch_frames(trainer.run_dir.figures, "latent"),
            trainer.run_dir.figures / "latent.gif",
            self.cfg.plot.gif_frame_ms,
        )
        if gif is not None:
            log.info("latent animation: %s", gif)


def check_resume(resume: Path | str) -> None:
    """Refuse a run that cannot be resumed before any data is made: no or a bad `last.pt`, or a stored
    config today's code cannot rebuild (CheckpointError / ConfigError naming the file)."""
    path = find_checkpoint(resume, "last")
    state = load_checkpoint(path)
    if state.get("config") is not None:
        stored_config(state["config"], source=f"{path} (stored config)")


def resume_config(resume: Path | str, overrides: Sequence[str] = ()) -> Config:
    """The config a run was trained with (its config.yaml, else its last checkpoint's), + overrides."""
    path = Path(resume) / "config.yaml"
    if path.is_file():
        stored, source = read_yaml(path), str(path)
    else:
        ckpt = find_checkpoint(resume, "last")
        stored, source = load_checkpoint(ckpt).get("config") or {}, f"{ckpt} (stored config)"
    return load_config(Config, None, overrides, base=stored_config_dict(stored, source))


def train(
    cfg: Config, run_dir: Path | str | None = None, resume: Path | str | None = None
) -> FitResult:
    """`vae-demo train`: fit the VAE on the configured series; returns the core's FitResult."""
    if resume is not None:
        check_resume(resume)
    device = setup(cfg.train)
    if resume is not None and run_dir is None:
        run_dir = resume
    with RunDir.created("vae-demo", run_dir=run_dir, verb="train") as run:
        return _fit(cfg, run, device, resume)


def _fit(cfg: Config, run: RunDir, device: torch.device, resume: Path | str | None) -> FitResult:
    splits = load_splits(cfg.data)
    log.info(
        "%d training / %d validation windows of %d channels x %d samples",
        len(splits.train.y),
        len(splits.val.y),
        splits.train.x.shape[1],
        splits.train.x.shape[2],
    )
    train_loader = make_loader(
        to_dataset(splits.train),
        cfg.train.batch_size,
        shuffle=True,
        seed=cfg.train.seed,
        device=device,
        num_workers=cfg.train.num_workers,
    )
    val_loader = make_loader(
        to_dataset(splits.val),
        cfg.train.batch_size,
        device=device,
        num_workers=cfg.train.num_workers,
    )
    model = build_model(cfg)
    monitor = LatentMonitor(cfg, splits.val)
    n_batches = len(train_loader)
    if cfg.train.limit_train_batches is not None:
        n_batches = min(n_batches, cfg.train.limit_train_batches)
    steps_per_epoch = max(1, n_batches // cfg.train.accumulate_grad_batches)
    warmup = KLWarmup(cfg.model.beta, round(cfg.model.kl_warmup_epochs * steps_per_epoch))
    callbacks: list[Callback] = [warmup]
    callbacks += [
        monitor,
        EpochMetrics(monitor.metrics, cfg.plot.metrics_every_n_epochs),
        EpochFigures(monitor.figures, "vae", cfg.plot.every_n_epochs),
    ]
    trainer = Trainer(cfg.train, run, callbacks, config=cfg, device=device)
    shift = cfg.model.shift_tolerant
    keep = cfg.model.keep_fraction
    step = make_step(
        cfg.model.beta,
        warmup,
        cfg.model.free_bits,
        shift_tolerant=shift,
        keep=keep,
        spectral=cfg.model.spectral_weight,
    )
    # validation at the full KL weight and without the spectral term, so val_loss stays comparable
    # with runs that leave the term off
    val_step = make_step(cfg.model.beta, shift_tolerant=shift, keep=keep)
    return trainer.fit(model, step, train_loader, val_loader, val_step=val_step, resume=resume)
