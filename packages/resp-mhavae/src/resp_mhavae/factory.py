"""Build the package's models from a Config, and rebuild them from a phase directory's checkpoint.

Training builds the models and detection rebuilds them; both import this module, so neither imports the
other. The architecture of a stored model is read from the config saved in its checkpoint.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from sigzoo_shared import find_checkpoint
from sigzoo_shared.errors import CheckpointError
from sigzoo_shared.runs import load_run
from torch import nn

from resp_mhavae.config import Config
from resp_mhavae.model import MHAVAE, SequenceLSTM


def build_vae(cfg: Config, n_channels: int, use_attention: bool | None = None) -> MHAVAE:
    m = cfg.model
    widths = (*m.vae_channels, m.num_hidden_units_vae)
    return MHAVAE(
        n_channels,
        m.code_size,
        widths,
        m.use_attention if use_attention is None else use_attention,
        m.num_heads,
        m.dropout,
        m.norm,
    )


def build_lstm(cfg: Config, dim: int) -> SequenceLSTM:
    m = cfg.model
    return SequenceLSTM(
        dim, m.num_hidden_units_lstm, m.num_layers_lstm, m.dropout_lstm, m.lstm_decoding
    )


def build_stored(cfg: Config, state: Mapping[str, Any], path: Path | None = None) -> nn.Module:
    """`build_model` for `load_run(..., needs_state=True)`: which model (VAE with or without attention,
    LSTM) and its input width, read from the checkpoint's weights; every other size from its config.

    The input width is the recording's channel count (or the VAE code size for an LSTM on latents),
    which the config does not hold, so it can only come from the weights.
    """
    weights = state["model_state"]
    if "lstm.weight_ih_l0" in weights:
        return build_lstm(cfg, int(weights["head.weight"].shape[0]))
    if "stem.0.weight" in weights:
        attention = "attention.attn.in_proj_weight" in weights
        return build_vae(cfg, int(weights["stem.0.weight"].shape[1]), attention)
    raise CheckpointError(f"{path or 'checkpoint'}: neither a resp-mhavae VAE nor LSTM checkpoint")


def load_model(path: Path, device: torch.device) -> nn.Module:
    """Rebuild a VAE or LSTM from a phase directory's best.pt (the core's `load_run`), on `device`."""
    ckpt = find_checkpoint(path)
    build = functools.partial(build_stored, path=ckpt)
    return load_run(Config, ckpt, build, needs_state=True).model.to(device).eval()
