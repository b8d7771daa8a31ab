"""`vae-demo export`: the encoder (scaled windows -> z_mean) as ONNX or TorchScript.

The exported graph is the encoder the API's `encode` runs; cutting and scaling the windows and the
nearest-centre clustering stay outside it, and the sidecar JSON carries what they need (the
training data's min-max ranges, the time-channel formula, the cluster centres).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sigzoo_shared.export import ExportSpec
from torch import Tensor, nn

from vae_demo.api import PatternModel
from vae_demo.model import TimeSeriesVAE


class EncoderExport(nn.Module):
    """windows (B, C, T) -> z_mean (B, D), the model in eval mode (no sampling)."""

    def __init__(self, vae: TimeSeriesVAE) -> None:
        super().__init__()
        self.vae = vae.eval()

    def forward(self, windows: Tensor) -> Tensor:  # (B, C, T) -> (B, D)
        return self.vae.encode(windows)[0]


def export_spec(loaded: PatternModel) -> ExportSpec:
    """The encoder of `loaded` with a batch axis, and a time axis when the conv encoder pools
    statistics over time (a flattened feature map, or the spectrum encoder's DFT, fixes the window
    length)."""
    cfg = loaded.config
    d = cfg.data
    c = d.n_features + (1 if d.time_encoding else 0)
    gen = torch.Generator().manual_seed(0)
    window = lambda b, t: torch.rand(b, c, t, generator=gen)  # noqa: E731  scaled windows in [0, 1]
    any_length = cfg.model.encoder == "attention" and cfg.model.encoder_pool == "stats"
    axes = {0: "batch", 2: "time"} if any_length else {0: "batch"}
    checks = [(window(3, d.window),), (window(17, d.window),)]
    if any_length:
        checks += [(window(5, d.window // 2),), (window(2, 2 * d.window),)]
    return ExportSpec(
        module=EncoderExport(loaded.model),
        example=(window(4, d.window),),
        input_names=["windows"],
        output_names=["z_mean"],
        dynamic_axes={"windows": axes, "z_mean": {0: "batch"}},
        check_inputs=checks,
        notes=export_notes(loaded),
    )


def export_notes(loaded: PatternModel) -> dict[str, Any]:
    """How to feed the exported encoder and read its output (data.make_windows, the API)."""
    d = loaded.config.data
    listed = lambda a: np.asarray(a, dtype=np.float64).reshape(-1).tolist()  # noqa: E731
    return {
        "source": loaded.source,
        "input": (
            f"windows (batch, {d.n_features} signal channels + 1 time channel, time) float32: "
            f"raw series (samples, {d.n_features}) -> per channel (x - lo1) / (hi1 - lo1) -> append "
            f"the time channel sum_i 0.5 (cos(2 pi i n / {d.pattern_len}) + 1), i in {d.time_enc_l}, "
            "n the sample index from the series' start -> windows of "
            f"{d.window} samples -> per channel (x - lo2) / (hi2 - lo2)"
        ),
        "output": f"z_mean (batch, {loaded.config.model.latent_dim}): the posterior mean",
        "scaling": {k: listed(v) for k, v in loaded.scaling.items()},
        "clusters": (
            "cluster = index of the nearest row of centroids; cluster_patterns maps it to the "
            "pattern id its validation windows mostly hold (-1 = noise)"
        ),
        "centroids": np.asarray(loaded.centroids, dtype=np.float64).tolist(),
        "cluster_patterns": np.asarray(loaded.cluster_patterns).tolist(),
    }
