"""MHA-VAE-LSTM: a convolutional VAE with multi-head self-attention over time, and an LSTM over latents.

Seed system: the MHA-VAE-LSTM respiratory anomaly detector (Peng, Kuo, Fu, Edge-AI-for-healthcare-
applications), itself built on the VAE-LSTM of Lin et al., "Anomaly detection for time series using
VAE-LSTM hybrid model", ICASSP 2020. The VAE maps a window (C, L) to a latent *sequence* (code_size, L);
the LSTM reads the latent sequences of the last k windows and predicts the next window's.

Where we differ: the LSTM's teacher-forced pass is one `nn.LSTM` call over the whole sequence (the seed
loops over single steps in Python; `decoding="loop"` keeps that reference for the benchmark and gives the
same numbers). Shapes: B batch, C channels, L window length, D code_size, H hidden, k look-back windows.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def _norm(kind: str, channels: int) -> nn.Module:
    return (
        nn.BatchNorm1d(channels) if kind == "batch" else nn.GroupNorm(1, channels)
    )  # layer norm over (C, L)


class ResidualBlock(nn.Module):
    """conv(3) -> BN -> LeakyReLU(0.2) -> Dropout, plus a 1x1 projection skip when widths differ."""

    def __init__(self, c_in: int, c_out: int, dropout: float) -> None:
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, 3, padding=1)
        self.bn = nn.BatchNorm1d(c_out)
        self.drop = nn.Dropout(dropout)
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:  # (B, c_in, L) -> (B, c_out, L)
        return self.drop(F.leaky_relu(self.bn(self.conv(x)), 0.2)) + self.skip(x)


class TemporalSelfAttention(nn.Module):
    """Multi-head self-attention across the L time steps of a window, with residual and LayerNorm."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, num_heads, batch_first=True)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor) -> Tensor:  # (B, E, L)
        h = x.transpose(1, 2)  # (B, L, E)
        a, _ = self.attn(h, h, h, need_weights=False)
        return self.norm(h + a).transpose(1, 2)  # (B, E, L)


class MHAVAE(nn.Module):
    """Window VAE: stem, residual encoder, optional temporal attention, conv mean/log-variance heads."""

    def __init__(
        self,
        n_channels: int,
        code_size: int = 20,
        widths: tuple[int, ...] = (16, 32, 64, 128, 256),
        use_attention: bool = True,
        num_heads: int = 4,
        dropout: float = 0.3,
        norm: Literal["batch", "layer"] = "batch",
    ) -> None:
        super().__init__()
        widths = tuple(widths)
        self.n_channels, self.code_size = n_channels, code_size
        self.stem = nn.Sequential(
            nn.Conv1d(n_channels, widths[0], 3, padding=1),
            _norm(norm, widths[0]),
            nn.LeakyReLU(0.2),
        )
        self.encoder = nn.Sequential(
            *[ResidualBlock(a, b, dropout) for a, b in zip(widths[:-1], widths[1:])]
        )
        self.attention = (
            TemporalSelfAttention(widths[-1], num_heads) if use_attention else nn.Identity()
        )
        self.mu = nn.Conv1d(widths[-1], code_size, 3, padding=1)
        self.logvar = nn.Conv1d(widths[-1], code_size, 3, padding=1)
        back = widths[::-1]
        self.expand = nn.Sequential(nn.Conv1d(code_size, back[0], 3, padding=1), nn.LeakyReLU(0.2))
        self.decoder = nn.Sequential(
            *[ResidualBlock(a, b, dropout) for a, b in zip(back[:-1], back[1:])]
        )
        self.out = nn.Conv1d(back[-1], n_channels, 3, padding=1)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:  # (B, C, L) -> 2 x (B, D, L)
        h = self.attention(self.encoder(self.stem(x)))  # (B, E, L)
        return self.mu(h), self.logvar(h).clamp(-10.0, 10.0)

    def decode(self, z: Tensor) -> Tensor:  # (B, D, L) -> (B, C, L)
        return self.out(self.decoder(self.expand(z)))

    @staticmethod
    def reparameterize(mu: Tensor, logvar: Tensor) -> Tensor:
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar) if self.training else mu
        return self.decode(z), mu, logvar  # (B, C, L), (B, D, L), (B, D, L)


def weighted_squared_error(x: Tensor, x_hat: Tensor, weights: Tensor) -> Tensor:
    """Per-window modality-weighted squared error: sum_c w_c * mean_t (x - x_hat)^2 -> (B,)."""
    return ((x - x_hat) ** 2).mean(-1) @ weights


def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(q(z|x) || N(0, I)) per latent element, averaged -> (B,)."""
    return (-0.5 * (1 + logvar - mu**2 - logvar.exp())).flatten(1).mean(1)


def vae_loss(
    x: Tensor, recon: Tensor, mu: Tensor, logvar: Tensor, weights: Tensor, kl_weight: float
) -> tuple[Tensor, dict[str, Tensor]]:
    rec = weighted_squared_error(x, recon, weights).mean()
    kl = kl_divergence(mu, logvar).mean()
    return rec + kl_weight * kl, {"recon": rec.detach(), "kl": kl.detach()}


class SequenceLSTM(nn.Module):
    """An LSTM over per-step vectors (D) of k consecutive windows that predicts the next window's steps.

    Used on VAE latents (D = code_size) and, as the LSTM-only baseline, on raw channels (D = C).
    """

    def __init__(
        self,
        dim: int,
        hidden: int = 128,
        num_layers: int = 3,
        dropout: float = 0.1,
        decoding: Literal["vectorised", "loop"] = "vectorised",
    ) -> None:
        super().__init__()
        self.dim, self.decoding = dim, decoding
        self.lstm = nn.LSTM(
            dim, hidden, num_layers, batch_first=True, dropout=dropout if num_layers > 1 else 0.0
        )
        self.head = nn.Linear(hidden, dim)

    def _run(
        self, steps: Tensor, state: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """(B, T, D) -> predictions of each next step (B, T, D), final state."""
        if self.decoding == "vectorised":
            out, state = self.lstm(steps, state)
            return self.head(out), state
        outs = []
        for t in range(steps.shape[1]):  # the seed's per-step Python loop, kept as the reference
            o, state = self.lstm(steps[:, t : t + 1], state)
            outs.append(self.head(o))
        return torch.cat(outs, 1), state

    def forward(self, seq: Tensor) -> Tensor:
        """Teacher forcing: (B, k + 1, D, L) -> predicted last window (B, D, L), each step from true past."""
        B, n, D, L = seq.shape
        steps = seq.permute(0, 1, 3, 2).reshape(B, n * L, D)  # (B, T, D) in time order
        pred, _ = self._run(steps[:, :-1])  # (B, T - 1, D): step t predicts step t + 1
        return pred[:, -L:].transpose(1, 2)  # (B, D, L)

    @torch.no_grad()
    def generate(self, history: Tensor) -> Tensor:
        """Autoregressive: (B, k, D, L) -> (B, D, L); after the history, each step feeds its own output."""
        B, k, D, L = history.shape
        steps = history.permute(0, 1, 3, 2).reshape(B, k * L, D)
        pred, state = self._run(steps)
        nxt = pred[:, -1:]  # (B, 1, D)
        outs = [nxt]
        for _ in range(L - 1):
            o, state = self.lstm(nxt, state)
            nxt = self.head(o)
            outs.append(nxt)
        return torch.cat(outs, 1).transpose(1, 2)  # (B, D, L)


class WindowScorer(nn.Module):
    """The MHA-VAE-LSTM's anomaly score of a window from itself and its k predecessors on the model's
    grid: modality-weighted reconstruction error + `prediction_weight` x the error of the LSTM's
    autoregressive prediction decoded to signal space (Lin et al. 2020, Sec. 2.3; the seed's mix).

    One module for deployment (the ONNX export) and for loading a shipped model; batch scoring of a
    whole series encodes each window once instead (`pointwise.vae_lstm_window_scores`, same numbers).
    """

    def __init__(
        self, vae: MHAVAE, lstm: SequenceLSTM, weights: Tensor, prediction_weight: float
    ) -> None:
        super().__init__()
        self.vae, self.lstm = vae, lstm
        # from the config, not learned: kept out of the state dict
        self.register_buffer("weights", weights.float(), persistent=False)  # (C,)
        self.prediction_weight = float(prediction_weight)

    def forward(self, runs: Tensor) -> Tensor:  # (B, k + 1, C, L) -> (B,)
        B, n, C, L = runs.shape
        mu, _ = self.vae.encode(runs.reshape(B * n, C, L))  # (B * n, D, L)
        mu = mu.reshape(B, n, -1, L)  # (B, k + 1, D, L)
        target = runs[:, -1]  # (B, C, L)
        recon = weighted_squared_error(target, self.vae.decode(mu[:, -1]), self.weights)  # (B,)
        predicted = self.vae.decode(self.lstm.generate(mu[:, :-1]))  # (B, C, L)
        return recon + self.prediction_weight * weighted_squared_error(
            target, predicted, self.weights
        )
