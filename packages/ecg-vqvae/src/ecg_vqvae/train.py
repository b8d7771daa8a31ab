"""Training of the VQ-VAE and of the latent forecaster through the core Trainer.

Step functions turn a batch into (loss, named parts); everything else (optimiser, scheduler, checkpoints,
resume, TensorBoard) is the core's. The VQ-VAE loss is the seed's: MSE(x_hat, x) + 0.2 * commitment, in mV.
The forecaster's loss is L1 (default) or MSE in mV between the decoded forecast and the true next window(s),
plus, for its beat head, L1 and the earth mover's distance of the QRS energy along time.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sigzoo_shared import (
    CheckpointError,
    ConfigError,
    EpochFigures,
    EpochMetrics,
    FitResult,
    RunDir,
    Trainer,
    load_state_dict,
    setup,
)
from sigzoo_shared.runs import LoadedRun, load_run, make_loaders
from torch import Tensor, nn

from ecg_vqvae import plots
from ecg_vqvae.config import Config
from ecg_vqvae.data import (
    ForecastDataset,
    WindowDataset,
    find_records,
    load_segments,
    split_records,
)
from ecg_vqvae.model import VQVAE, LatentForecaster, build_vqvae

log = logging.getLogger(__name__)
PACKAGE = "ecg-vqvae"


# --------------------------------------------------------------------------------------------- steps


def prd_percent(x: Tensor, x_hat: Tensor) -> Tensor:
    """Pooled PRD (%) of a batch: 100 * ||x - x_hat|| / ||x||."""
    return 100 * torch.sqrt(((x - x_hat) ** 2).sum() / (x**2).sum().clamp_min(1e-12))


def make_reconstruction_step(commitment_weight: float):
    def reconstruction_step(model: nn.Module, batch: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        x_hat, commitment, _ = model(batch)
        mse = F.mse_loss(x_hat, batch)
        loss = mse + commitment_weight * commitment
        return loss, {"mse": mse, "commitment": commitment, "prd": prd_percent(batch, x_hat)}

    return reconstruction_step


ENVELOPE_BAND_HZ = (5.0, 15.0)  # the R-peak detector's band (baselines.detect_r_peaks)
ENVELOPE_SMOOTH_S = 0.1  # about a QRS width: a beat a few ms off still overlaps the true envelope


def qrs_envelope_kernels(fs: float) -> tuple[Tensor, Tensor]:
    """(band-pass FIR (1, 1, taps), moving average (1, 1, n)) for `qrs_envelope` at `fs` Hz."""
    from scipy.signal import firwin

    taps = int(round(0.2 * fs)) | 1  # odd: a linear-phase filter that keeps peaks in place
    band = firwin(taps, list(ENVELOPE_BAND_HZ), pass_zero=False, fs=fs)
    n = max(1, int(round(ENVELOPE_SMOOTH_S * fs)))
    return (
        torch.tensor(band, dtype=torch.float32).view(1, 1, -1),
        torch.full((1, 1, n), 1.0 / n),
    )


def qrs_envelope(x: Tensor, kernels: tuple[Tensor, Tensor]) -> Tensor:
    """Signal (B, L, T) mV -> smoothed |5-15 Hz band| (B, L, T): where the beats' energy lies."""
    band, smooth = (k.to(x.device, x.dtype) for k in kernels)
    B, L, T = x.shape
    flat = x.reshape(B * L, 1, T)
    energy = F.conv1d(flat, band, padding=band.shape[-1] // 2).abs()
    n = smooth.shape[-1]
    return F.conv1d(F.pad(energy, ((n - 1) // 2, n // 2)), smooth).view(B, L, T)


def energy_shift(pred_env: Tensor, true_env: Tensor, fs: float) -> Tensor:
    """Mean |difference of cumulative QRS energy| (B, L, T) -> () in mV s: the earth mover's distance
    of the beats' energy along time (1-D, so the L1 distance of the cumulative sums).

    A beat forecast d seconds late costs its energy x d, and a missing beat its energy for the rest
    of the window; averaged over uncertain beat times it is least for a sharp beat at their median
    time, where L1 in mV prefers a damped one.
    """
    cum = torch.cumsum(pred_env - true_env, dim=-1) / fs  # (B, L, T) mV s
    return cum.abs().mean()


def make_forecast_step(loss_name: str, beat_shift_weight: float = 2.0, fs: float = 360.0):
    """The forecaster's step: the point forecast's L1 (or MSE) in mV, plus, with a beat head, the
    beat forecast's L1 + `beat_shift_weight` x `energy_shift` (both heads weigh alike in the sum)."""
    kernels = qrs_envelope_kernels(fs)

    def forecast_step(
        model: nn.Module, batch: tuple[Tensor, ...]
    ) -> tuple[Tensor, dict[str, Tensor]]:
        context, future = batch[0], batch[1]
        pred, beats = model(context, batch[2] if len(batch) > 2 else None, head="both")
        mae = (pred - future).abs().mean()  # (B, L, W*T) -> ()
        mse = ((pred - future) ** 2).mean()
        loss = mae if loss_name == "l1" else mse
        parts = {"mae": mae, "rmse": mse.sqrt()}
        if beats is not None:
            beats_mae = (beats - future).abs().mean()
            shift = energy_shift(qrs_envelope(beats, kernels), qrs_envelope(future, kernels), fs)
            loss = loss + beats_mae + beat_shift_weight * shift
            parts["beats_mae"], parts["beats_shift"] = beats_mae, shift
        return loss, parts

    return forecast_step


# ---------------------------------------------------------------------------------------------- data


def load_splits(cfg: Config) -> tuple[dict[str, list[str]], dict[str, dict[str, np.ndarray]]]:
    """Record names per split and their (2, n) segments."""
    if cfg.data.data_dir is None:
        raise ConfigError(
            "data.data_dir is not set: pass data.data_dir=<folder of WFDB records> "
            "(or run `ecg-vqvae demo` for synthetic data)"
        )
    names = find_records(cfg.data.data_dir, cfg.data.records)
    split = split_records(names, cfg.data)
    log.info("records: train %s | val %s | test %s", split["train"], split["val"], split["test"])
    return split, {k: load_segments(cfg.data, v) for k, v in split.items()}


def _init_weights(model: nn.Module, path: Path | None) -> None:
    if path is None:
        return
    state = load_state_dict(path)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise CheckpointError(
            f"{path}: model.model_checkpoint_weights do not fit this model "
            f"({str(err).splitlines()[0]})"
        ) from err
    log.info("initialised weights from %s", path)


# ----------------------------------------------------------------------------------------- VQ-VAE


def train_vqvae(cfg: Config, run_dir: Path | None = None, resume: Path | None = None) -> FitResult:
    """Train the VQ-VAE on the training records, validate on held-out training records."""
    device = setup(cfg.train)
    split, segments = load_splits(cfg)
    w = cfg.data.window_samples
    train_set, val_set = WindowDataset(segments["train"], w), WindowDataset(segments["val"], w)
    run = RunDir.create(PACKAGE, run_dir=resume or run_dir, verb="train")
    model = build_vqvae(cfg.model, w)
    if resume is None:
        _init_weights(model, cfg.model.model_checkpoint_weights)
    tc = cfg.train
    train_loader, val_loader = make_loaders(train_set, val_set, tc, device)
    shown = (val_set if len(val_set) else train_set).x[
        :1
    ]  # a fixed window for the per-epoch figures
    fs = cfg.data.samples_per_second

    def recon_figure(trainer: Trainer, m: nn.Module, epoch: int):
        x = shown.to(trainer.device)
        x_hat = m(x)[0]
        return plots.reconstruction_figure(
            x[0].cpu().numpy(), x_hat[0].cpu().numpy(), fs, f"epoch {epoch + 1}"
        )

    callbacks = [
        EpochMetrics(lambda trainer, m, epoch: m.quantizer.epoch_usage()),
        EpochFigures(recon_figure, "reconstruction", every_n_epochs=cfg.figure_every_n_epochs),
    ]
    if resume is None:
        with torch.no_grad():
            model.eval()
            fig = plots.reconstruction_figure(
                shown[0].numpy(), model(shown)[0][0].numpy(), fs, "before training"
            )
            model.train()
        run.save_figure(fig, "reconstruction_before_training")
        run.write_json("split.json", split)
    log.info(
        "VQ-VAE (%s): %d parameters; %d train / %d val windows",
        cfg.model.variant,
        sum(p.numel() for p in model.parameters()),
        len(train_set),
        len(val_set),
    )
    trainer = Trainer(tc, run, callbacks, config=cfg, device=device)
    return trainer.fit(
        model,
        make_reconstruction_step(cfg.model.commitment_weight),
        train_loader,
        val_loader,
        resume=resume,
    )


def _build_vqvae(cfg: Config) -> VQVAE:
    return build_vqvae(cfg.model, cfg.data.window_samples)


def load_vqvae(run_or_file: Path | str, device: torch.device | str = "cpu") -> tuple[VQVAE, Config]:
    """The best VQ-VAE of a run (or a checkpoint file) and its config; also accepts a forecaster run
    (whose checkpoint holds its frozen VQ-VAE)."""
    run = load_model(run_or_file, device)
    model = run.model
    return (model.vqvae if isinstance(model, LatentForecaster) else model), run.config


# ------------------------------------------------------------------------------------- forecaster


def build_forecaster(cfg: Config, vqvae: VQVAE) -> LatentForecaster:
    f = cfg.forecast
    return LatentForecaster(
        vqvae,
        f.forecast_predictions,
        f.d_model,
        f.n_layers,
        f.n_heads,
        f.patch,
        f.dropout,
        use_prior=f.prior == "repeat_last_beat",
        beat_head=f.beat_head,
    )


def forecast_datasets(
    cfg: Config, segments: dict[str, np.ndarray], stride_s: float | None = None
) -> ForecastDataset:
    """Forecast examples every `stride_s` seconds (default `data.forecast_stride_s`)."""
    w = cfg.data.window_samples
    stride_s = cfg.data.forecast_stride_s if stride_s is None else stride_s
    stride = max(1, int(round(stride_s * cfg.data.samples_per_second)))
    prior_fs = cfg.data.samples_per_second if cfg.forecast.prior == "repeat_last_beat" else None
    return ForecastDataset(segments, w, w * cfg.forecast.forecast_predictions, stride, prior_fs)


def train_forecaster(
    cfg: Config, vqvae_run: Path, run_dir: Path | None = None, resume: Path | None = None
) -> FitResult:
    """Train a LatentForecaster on top of the frozen VQ-VAE of `vqvae_run` (same records and split).

    The data and model sections come from the VQ-VAE run's stored config (so the split stays patient-wise
    and identical); the `forecast` section comes from `cfg`.
    """
    vqvae, vq_cfg = load_vqvae(vqvae_run)
    cfg = Config(
        data=vq_cfg.data,
        model=vq_cfg.model,
        forecast=cfg.forecast,
        train=vq_cfg.train,
        evaluate=cfg.evaluate,
        figure_every_n_epochs=cfg.figure_every_n_epochs,
    )
    tc = cfg.forecast.train
    device = setup(tc)
    split, segments = load_splits(cfg)
    train_set, val_set = (
        forecast_datasets(cfg, segments["train"]),
        forecast_datasets(cfg, segments["val"], cfg.forecast.val_stride_s),
    )
    if len(train_set) == 0:
        raise ConfigError(
            f"no forecasting examples: records are shorter than context + "
            f"{cfg.forecast.forecast_predictions} window(s); raise data.signals_per_patient"
        )
    run = RunDir.create(PACKAGE, run_dir=resume or run_dir, verb="train-forecaster")
    model = build_forecaster(cfg, vqvae)
    train_loader, val_loader = make_loaders(train_set, val_set, tc, device)
    shown = (val_set if len(val_set) else train_set)[0]
    fs = cfg.data.samples_per_second

    def forecast_fig(trainer: Trainer, m: nn.Module, epoch: int):
        context, future = shown[0], shown[1]
        prior = shown[2][None].to(trainer.device) if len(shown) > 2 else None
        pred = m(context[None].to(trainer.device), prior)[0].cpu().numpy()
        return plots.forecast_figure(
            context.numpy(), future.numpy(), {"VQ-VAE forecaster": pred}, fs, f"epoch {epoch + 1}"
        )

    callbacks = [EpochFigures(forecast_fig, "forecast", every_n_epochs=cfg.figure_every_n_epochs)]
    if resume is None:
        run.write_json("split.json", split)
        run.write_json("vqvae_source.json", {"vqvae_run": str(vqvae_run)})
    log.info(
        "forecaster: %d trainable parameters; %d train / %d val examples",
        sum(p.numel() for p in model.parameters() if p.requires_grad),
        len(train_set),
        len(val_set),
    )
    trainer = Trainer(tc, run, callbacks, config=cfg, device=device)
    return trainer.fit(
        model,
        make_forecast_step(
            cfg.forecast.loss, cfg.forecast.beat_shift_weight, cfg.data.samples_per_second
        ),
        train_loader,
        val_loader,
        resume=resume,
    )


def is_forecaster_state(state: dict) -> bool:
    """A checkpoint of a forecaster (its weights include the transformer's patch embedding)."""
    return any(k.startswith("patch_in.") for k in state["model_state"])


def build_model(cfg: Config, state: dict) -> VQVAE | LatentForecaster:
    """The model a checkpoint holds, picked from its weights: a forecaster or a VQ-VAE alone."""
    if not is_forecaster_state(state):
        return _build_vqvae(cfg)
    stored = state.get("config")
    # written before `forecast.prior` existed: those forecasters were trained with learned queries
    if isinstance(stored, dict) and "prior" not in stored.get("forecast", {}):
        cfg.forecast.prior = "none"
    # the weights say whether it has a beat head (forecasters written before it existed have none)
    cfg.forecast.beat_head = any(k.startswith("beat_out.") for k in state["model_state"])
    return build_forecaster(cfg, _build_vqvae(cfg))


def load_model(run_or_file: Path | str, device: torch.device | str = "cpu") -> LoadedRun:
    """The best model of a run (or a checkpoint file), forecaster or VQ-VAE, through the core's
    `load_run`: the checkpoint is read once, and its weights say which model it is."""
    run = load_run(Config, run_or_file, build_model, map_location=str(device), needs_state=True)
    run.model.to(device)
    return run


def load_forecaster(
    run_or_file: Path | str, device: torch.device | str = "cpu"
) -> tuple[LatentForecaster, Config]:
    """The best forecaster of a run (or a checkpoint file), through the core's `load_run`."""
    run = load_model(run_or_file, device)
    if not isinstance(run.model, LatentForecaster):
        raise CheckpointError(
            f"{run.checkpoint}: not a forecaster checkpoint (train one with "
            "`ecg-vqvae train-forecaster --vqvae <run>`)"
        )
    return run.model, run.config


__all__ = ["load_forecaster", "load_model", "load_vqvae", "train_forecaster", "train_vqvae"]
