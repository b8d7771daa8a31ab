"""Two-phase training through the core Trainer: the VAE on windows, then the LSTM on VAE means.

Each model of a run lives in its own folder of the run directory, one core run per phase:

    RUN/data/prepared-<hash>.npz       cached windows (written by `preprocess` or the first `train`)
    RUN/mhavae/vae/, RUN/mhavae/lstm/  the MHA-VAE-LSTM
    RUN/vae_lstm_no_attention/{vae,lstm}/   baseline: the same VAE-LSTM without attention
    RUN/lstm_only/                     baseline: an LSTM predicting raw samples

A phase whose `done.json` exists is skipped (the seed skips a phase when its checkpoint exists) unless
`force=True`; `resume` continues interrupted phases from their `last.pt`.

Inputs are read and validated before the run directory is created, and a run directory this call
created is removed again if a config or data error stops it: a bad input leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from sigzoo_shared import EpochFigures, RunDir, Trainer, seed_everything, setup
from sigzoo_shared.config import TrainConfig
from sigzoo_shared.runs import make_loaders
from torch import Tensor, nn

from resp_mhavae import plots
from resp_mhavae.config import Config, resolved_modality_weights
from resp_mhavae.data import (
    TRAIN,
    VAL,
    Prepared,
    SequenceDataset,
    WindowDataset,
    cache_key,
    load_prepared,
    write_normalisation,
)
from resp_mhavae.factory import build_lstm, build_vae, load_model
from resp_mhavae.model import MHAVAE, vae_loss, weighted_squared_error

log = logging.getLogger(__name__)
PACKAGE = "resp-mhavae"
MAIN = "mhavae"
# one core run per phase: RUN/mhavae/vae, RUN/mhavae/lstm, RUN/lstm_only, ... (any depth)
PHASES = "**"


def vae_variants(cfg: Config) -> dict[str, bool]:
    """Model name -> use_attention, for the main model and the no-attention baseline."""
    out = {MAIN: cfg.model.use_attention}
    if "vae_lstm_no_attention" in cfg.detect.baselines:
        out["vae_lstm_no_attention"] = False
    return out


def make_vae_step(weights: Tensor, kl_weight: float) -> Callable:
    def vae_step(model: nn.Module, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        recon, mu, logvar = model(x)
        return vae_loss(x, recon, mu, logvar, weights.to(x.device), kl_weight)

    return vae_step


def make_sequence_step(weights: Tensor | None) -> Callable:
    """MSE of the teacher-forced prediction of the last window (weighted per channel when given)."""

    def sequence_step(model: nn.Module, seq: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        pred = model(seq)  # (B, D, L)
        target = seq[:, -1]
        if weights is None:
            loss = ((pred - target) ** 2).mean()
        else:
            loss = weighted_squared_error(target, pred, weights.to(seq.device)).mean()
        return loss, {}

    return sequence_step


@torch.no_grad()
def encode_means(
    vae: MHAVAE, windows: np.ndarray, device: torch.device, batch_size: int = 64
) -> np.ndarray:
    """VAE means (W, D, L) of windows (W, C, L), in eval mode."""
    vae.eval().to(device)
    out = [
        vae.encode(torch.from_numpy(windows[i : i + batch_size]).to(device))[0].cpu()
        for i in range(0, len(windows), batch_size)
    ]
    return (
        torch.cat(out).numpy()
        if out
        else np.zeros((0, vae.code_size, windows.shape[-1]), np.float32)
    )


def _phase(run: RunDir, sub: str, force: bool, resume: bool) -> tuple[RunDir | None, Path | None]:
    """The phase's RunDir and resume source, or (None, None) when it is done and not forced."""
    path = run.path / sub
    if (path / "done.json").is_file() and not force:
        log.info("%s: already trained (done.json); skipping (force=True retrains)", path)
        return None, None
    if resume and (path / "checkpoints" / "last.pt").is_file() and not force:
        return RunDir(path), path
    if path.exists():
        shutil.rmtree(path)
    return RunDir(path), None


def _fit(
    tcfg: TrainConfig,
    phase: RunDir,
    cfg: Config,
    device: torch.device,
    model: nn.Module,
    step: Callable,
    train_ds: torch.utils.data.Dataset,
    val_ds: torch.utils.data.Dataset | None,
    callbacks: list,
    resume: Path | None,
) -> None:
    seed_everything(tcfg.seed, tcfg.deterministic, tcfg.cudnn_benchmark)
    # windows are in-memory tensors: worker processes would only add start-up time, so `auto`
    # (None) means none here
    workers = tcfg.num_workers if tcfg.num_workers is not None else 0
    train_loader, val_loader = make_loaders(
        train_ds, val_ds, dataclasses.replace(tcfg, num_workers=workers), device
    )
    result = Trainer(tcfg, phase, callbacks, config=cfg, device=device).fit(
        model, step, train_loader, val_loader, resume=resume
    )
    plots.save_loss_curves(phase, result.history)
    phase.write_json(
        "done.json",
        {
            "epochs": result.epochs_completed,
            "best": result.best_metric,
            "monitor": result.monitor,
            "stopped_early": result.stopped_early,
        },
    )


def train_vae_lstm(
    cfg: Config,
    prepared: Prepared,
    run: RunDir,
    name: str,
    use_attention: bool,
    device: torch.device,
    force: bool = False,
    resume: bool = False,
) -> None:
    """Phase 1: VAE on normal training windows. Phase 2: LSTM on the VAE means of consecutive windows."""
    weights = torch.tensor(
        resolved_modality_weights(cfg.model, len(prepared.channels)), dtype=torch.float32
    )
    val_mask = (prepared.split == VAL) & (prepared.labels == 0)
    phase, source = _phase(run, f"{name}/vae", force, resume)
    if phase is not None:
        seed_everything(cfg.train.seed)
        vae = build_vae(cfg, len(prepared.channels), use_attention)
        sample = torch.from_numpy(
            prepared.windows[val_mask][:2] if val_mask.any() else prepared.train_windows[:2]
        )
        figs = EpochFigures(
            lambda t, m, e: plots.reconstruction_figure(m, sample.to(t.device), prepared.channels),
            name="reconstruction",
            every_n_epochs=cfg.detect.vis_recon_every_n_epochs,
        )
        _fit(
            cfg.train,
            phase,
            cfg,
            device,
            vae,
            make_vae_step(weights, cfg.model.kl_weight),
            WindowDataset(prepared.train_windows),
            WindowDataset(prepared.windows[val_mask]),
            [figs],
            source,
        )
        force = True  # a new VAE invalidates the LSTM trained on its latents
    vae = load_vae(run.path / name / "vae", device)
    latents_train = encode_means(vae, prepared.train_windows, device)
    latents_all = encode_means(vae, prepared.windows, device)
    phase, source = _phase(run, f"{name}/lstm", force, resume)
    if phase is None:
        return
    seed_everything(cfg.lstm.seed)
    lstm = build_lstm(cfg, cfg.model.code_size)
    val_ds = SequenceDataset(latents_all, prepared.val_sequences)
    sample_seq = torch.from_numpy(
        latents_all[prepared.val_sequences[:1]]
        if len(val_ds)
        else latents_train[prepared.train_sequences[:1]]
    )
    figs = EpochFigures(
        lambda t, m, e: plots.lstm_prediction_figure(m, sample_seq.to(t.device)),
        name="lstm_prediction",
        every_n_epochs=cfg.detect.vis_lstm_every_n_epochs,
    )
    _fit(
        cfg.lstm,
        phase,
        cfg,
        device,
        lstm,
        make_sequence_step(None),
        SequenceDataset(latents_train, prepared.train_sequences),
        val_ds,
        [figs],
        source,
    )


def train_lstm_only(
    cfg: Config,
    prepared: Prepared,
    run: RunDir,
    device: torch.device,
    force: bool = False,
    resume: bool = False,
) -> None:
    """Baseline: the same LSTM on raw channels (LSTM-AD style one-step-ahead predictor)."""
    phase, source = _phase(run, "lstm_only", force, resume)
    if phase is None:
        return
    weights = torch.tensor(
        resolved_modality_weights(cfg.model, len(prepared.channels)), dtype=torch.float32
    )
    seed_everything(cfg.lstm.seed)
    lstm = build_lstm(cfg, len(prepared.channels))
    _fit(
        cfg.lstm,
        phase,
        cfg,
        device,
        lstm,
        make_sequence_step(weights),
        SequenceDataset(prepared.train_windows, prepared.train_sequences),
        SequenceDataset(prepared.windows, prepared.val_sequences),
        [],
        source,
    )


def load_vae(path: Path, device: torch.device) -> MHAVAE:
    return load_model(path, device)  # type: ignore[return-value]


def new_run(
    run_dir: Path | None, verb: str, tensorboard: bool = True
) -> contextlib.AbstractContextManager[RunDir]:
    """A run directory that an input error inside the block removes again (`RunDir.created`)."""
    return RunDir.created(PACKAGE, run_dir=run_dir, verb=verb, tensorboard=tensorboard)


def cache_path(cfg: Config, run_path: Path) -> Path:
    return run_path / "data" / f"prepared-{cache_key(cfg.data)}.npz"


def validated_inputs(cfg: Config, run_path: Path | None = None) -> Prepared:
    """Read, check and window the recording (from the run's cache when it has one); nothing is written.

    Raises DataError / ConfigError for anything a user must fix, before any directory is created.
    """
    cache = cache_path(cfg, run_path) if run_path is not None else None
    prepared = Prepared.load(cache) if cache is not None and cache.is_file() else None
    if prepared is None:
        prepared = load_prepared(cfg.data)
    resolved_modality_weights(cfg.model, len(prepared.channels))  # weights vs channels
    return prepared


def train(
    cfg: Config, run_dir: Path | None = None, resume: Path | None = None, force: bool = False
) -> Path:
    """Preprocess (cached), then train the MHA-VAE-LSTM and the neural baselines; return the run dir.

    With `resume`, `cfg` is the run's stored config from `sigzoo_shared.runs.resume_config(...,
    phases=PHASES)`, which has already opened every unfinished phase's `last.pt`.
    """
    target = Path(resume) if resume is not None else run_dir
    prepared = validated_inputs(cfg, target)
    device = setup(cfg.train)
    with new_run(target, "train") as run:
        run.save_config(cfg)
        if not cache_path(cfg, run.path).is_file():
            prepared.save(cache_path(cfg, run.path))
        write_normalisation(run.path, prepared)  # what `resp_mhavae.load_run` z-scores with
        log.info(
            "%s: %d windows (%d train, %d val, %d test), %d training sequences",
            prepared.name,
            len(prepared.windows),
            int((prepared.split == TRAIN).sum()),
            int((prepared.split == VAL).sum()),
            int((prepared.split == 2).sum()),
            len(prepared.train_sequences),
        )
        for name, use_attention in vae_variants(cfg).items():
            train_vae_lstm(
                cfg, prepared, run, name, use_attention, device, force, resume is not None
            )
        if "lstm_only" in cfg.detect.baselines:
            train_lstm_only(cfg, prepared, run, device, force, resume is not None)
        run.close()
    return run.path


def preprocess(cfg: Config, run_dir: Path | None = None) -> Path:
    """Read, validate, split and window the recording into RUN/data/; return the cache file."""
    prepared = validated_inputs(cfg)
    with new_run(run_dir, "preprocess", tensorboard=False) as run:
        run.save_config(cfg)
        return prepared.save(cache_path(cfg, run.path))
