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

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sigzoo_shared import (
    Callback,
    DataError,
    EpochFigures,
    EpochMetrics,
    FitResult,
    RunDir,
    Trainer,
    setup,
)
from sigzoo_shared.distributed import unwrap
from sigzoo_shared.runs import check_resumable, make_loaders
from torch import Tensor, nn

from vae_demo.config import Config, check_run
from vae_demo.data import Windows, keep_batch, load_splits, to_dataset
from vae_demo.evaluate import (
    build_model,
    encode_windows,
    latent_metrics,
    load_run_for_scoring,
    subset,
)
from vae_demo.model import (
    kl_divergence,
    real_spectra,
    roll_best,
    shift_tolerant_mse,
    spectral_errors,
)
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
        # both shift-invariant terms read the same FFTs: compute them once
        spectra = real_spectra(out.recon, out.target) if shift_tolerant or spectral > 0 else None
        if shift_tolerant:
            recon, _ = shift_tolerant_mse(out.recon, out.target, keep, spectra)
        else:
            recon = F.mse_loss(out.recon, out.target)
        kl_d = kl_divergence(out.mu, out.logvar, per_dim=True).mean(dim=0)  # (D,)
        kl = kl_d.sum()
        penalised = kl_d.clamp(min=free_bits).sum() if free_bits > 0 else kl
        weight = warmup.weight if warmup is not None else beta
        loss = recon + weight * penalised
        parts = {"recon": recon.detach(), "kl": kl.detach()}
        if spectral > 0:
            spec = spectral_errors(out.recon, out.target, spectra).mean()
            loss = loss + spectral * spec
            parts["spec"] = spec.detach()
        return loss, parts

    return vae_step


@torch.no_grad()
def validation_losses(model: nn.Module, cfg: Config, x: np.ndarray) -> dict[str, float]:
    """Reconstruction and KL per window of windows x (N, C, T) under the run's validation step,
    with the model as it is now (e.g. after its BatchNorm statistics were recomputed)."""
    m = cfg.model
    step = make_step(m.beta, shift_tolerant=m.shift_tolerant, keep=m.keep_fraction)
    sums, n = {"recon": 0.0, "kl": 0.0}, 0
    for i in range(0, len(x), 1024):
        batch = torch.from_numpy(x[i : i + 1024])
        _, parts = step(model, (batch, None))
        for k in sums:
            sums[k] += float(parts[k]) * len(batch)
        n += len(batch)
    return {f"val_{k}": v / max(n, 1) for k, v in sums.items()}


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


def train(
    cfg: Config, run_dir: Path | str | None = None, resume: Path | str | None = None
) -> FitResult:
    """`vae-demo train`: fit the VAE on the configured series; returns the core's FitResult."""
    if resume is not None:
        check_run(resume, resuming=True)  # a run today's code would rebuild differently, or a
        check_resumable(resume)  # bad last.pt, is refused before any data is made
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
    train_loader, val_loader = make_loaders(
        to_dataset(splits.train), to_dataset(splits.val), cfg.train, device, collate_fn=keep_batch
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
    return trainer.fit(
        model,
        step,
        train_loader,
        val_loader,
        val_step=val_step,
        resume=resume,
        bn_step=lambda m, batch: m.batchnorm_forward(batch[0]),
    )


def score_run(run_dir: Path | str, precise_bn: int = 0) -> dict[str, Any]:
    """The run's last checkpoint scored on all its validation windows -> `RUN/results.json`.

    `latent_metrics` of z_mean (k-means k = n_patterns + 1, seeded by train.seed), the last epoch's
    validation losses (recomputed when `precise_bn` > 0, since the logged ones used the old BatchNorm
    statistics), "explained" = 1 - val recon MSE / the MSE of the mean validation window (0 = a
    collapsed VAE), and chance levels: ARI 0, noise AUC 0.5 and `nmi_chance`, the NMI of a uniformly
    random (n_patterns + 1)-way partition (mean of 20 draws; NMI is not chance-corrected). Every run
    is scored by this code, so `vae-demo summarize RUN... --keys ari nmi` gives the seed table.
    It lives beside the step function because the recomputed losses are the run's own.
    """
    from sigzoo_shared.io import atomic_write_json
    from sklearn.metrics import normalized_mutual_info_score

    run = Path(run_dir)
    model, cfg, _, splits = load_run_for_scoring(run / "checkpoints" / "last.pt", precise_bn)
    val = splits.val
    epochs = [r for r in _metric_lines(run) if "val_recon" in r]
    if not epochs:
        raise DataError(f"{run / 'metrics.jsonl'}: no finished epoch with validation losses")
    last = epochs[-1]
    if precise_bn:
        last = {**last, **validation_losses(model, cfg, val.x)}
    mu = encode_windows(model, val.x)
    result: dict[str, Any] = latent_metrics(mu, val.y, cfg.data.n_patterns + 1, seed=cfg.train.seed)
    target = val.x if cfg.model.reconstruct_time else val.x[:, : cfg.data.n_features]
    mean_window_mse = float(target.var(axis=0).mean())  # the error of a collapsed VAE
    rng = np.random.default_rng(0)
    k = cfg.data.n_patterns + 1
    chance = [
        normalized_mutual_info_score(val.y, rng.integers(0, k, len(val.y))) for _ in range(20)
    ]
    result.update(
        val_recon=last["val_recon"],
        val_kl=last["val_kl"],
        explained=1 - last["val_recon"] / mean_window_mse,
        epoch=int(last["epoch"]) + 1,
        n_val=len(val.y),
        nmi_chance=float(np.mean(chance)),
        precise_bn=precise_bn,
    )
    atomic_write_json(run / "results.json", result)
    return result


def _metric_lines(run: Path) -> list[dict[str, Any]]:
    path = run / "metrics.jsonl"
    if not path.is_file():
        raise DataError(f"{path}: not found; {run} is not a finished train run")
    lines = path.read_text(encoding="utf-8").splitlines()
    try:
        return [json.loads(line) for line in lines if line.strip()]
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: not JSON lines ({err})") from err
