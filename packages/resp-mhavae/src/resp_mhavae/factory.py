"""Build the package's models from a Config, and rebuild them from a phase directory's checkpoint.

Training builds the models and detection rebuilds them; both import this module, so neither imports the
other. The architecture of a stored model is read from the config saved in its checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import torch
from sigzoo_shared import find_checkpoint, load_checkpoint
from sigzoo_shared.config import from_dict
from sigzoo_shared.errors import CheckpointError
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


def load_model(path: Path, device: torch.device) -> nn.Module:
    """Rebuild a VAE or LSTM from a phase directory's best.pt (architecture read from the stored config)."""
    ckpt = find_checkpoint(path)
    state = load_checkpoint(ckpt, map_location="cpu")
    if state.get("config") is None:
        raise CheckpointError(f"{ckpt}: no config stored; cannot rebuild the model")
    cfg = from_dict(Config, state["config"], source=str(ckpt))
    weights = state["model_state"]
    if "lstm.weight_ih_l0" in weights:
        model: nn.Module = build_lstm(cfg, int(weights["head.weight"].shape[0]))
    elif "stem.0.weight" in weights:
        model = build_vae(
            cfg,
            int(weights["stem.0.weight"].shape[1]),
            use_attention="attention.attn.in_proj_weight" in weights,
        )
    else:
        raise CheckpointError(f"{ckpt}: neither a resp-mhavae VAE nor LSTM checkpoint")
    try:
        model.load_state_dict(weights)
    except RuntimeError as err:
        raise CheckpointError(
            f"{ckpt}: weights do not match the stored config ({str(err).splitlines()[0]})"
        ) from err
    return model.to(device).eval()
