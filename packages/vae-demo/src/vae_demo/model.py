"""The VAE of the "Variational autoencoder time-series classification demo" (Keras notebook), in torch.

Encoder: 3 x [Conv1d(stride 2) -> ReLU -> BatchNorm -> multi-head attention -> LayerNorm -> gate
x = attn * x] -> flatten -> Dense(ReLU) -> (z_mean, z_log_var) -> reparameterised z (Kingma & Welling 2014,
eq. 10). Decoder: Dense -> reshape to window/16 steps -> 4 x [ConvTranspose1d(stride 2) -> ReLU ->
BatchNorm] -> GRU (all steps) -> attention gate + LayerNorm -> Conv1d to the output channels -> sigmoid
(the windows are min-max scaled to [0, 1]).

Where we differ from the original: attention heads project to `key_dim` per head as Keras'
MultiHeadAttention does (torch's nn.MultiheadAttention ties the head size to embed_dim / heads); the
decoder reconstructs the time channel only when `reconstruct_time` is set; the loss (train.py) is a mean,
not a batch-size-dependent sum; `init_log_var` sets the initial posterior log-variance (the bias of
z_log_var), and train.py warms the KL weight up from 0 and applies free bits, against posterior
collapse. With `time_bypass` the encoder sees only the signal channels and the decoder receives
[z, time value of the last step]. Options of ours (off in this class, which defaults to the
original; on in the package's default config): `encoder_pool="stats"` feeds the encoder's dense layer
the mean and std over time of its last feature map instead of the flattened map; `min_posterior_std`
puts a floor under the posterior's standard deviation (`TimeSeriesVAE.encode`); `center_input` feeds
the encoder x - 0.5.

Cheaper layers (`Layers.encoder="min-spectrum"` or `"spectrum"`, `Layers.decoder="dense"`; the
package's default config has min-spectrum, while this class defaults to the original's): the encoder
reads each channel's log magnitude spectrum (`SpectrumEncoder`; min-spectrum takes per frequency the
smallest magnitude over the window's half-windows, `SpectrumEncoder.magnitude`), the decoder emits
every sample at once (`DenseDecoder`); ~26-33x cheaper per training step; they want a higher
posterior floor (docs/vae-demo.md, "Speed", compares their ARI).

Shapes: B batch, C input channels (signal F + 1 time), T window length, D latent size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class GatedAttention(nn.Module):
    """Self-attention over time, LayerNorm, then multiplicative gating x * attn (the original's block)."""

    def __init__(self, channels: int, n_heads: int, key_dim: int) -> None:
        super().__init__()
        self.n_heads, self.key_dim = n_heads, key_dim
        self.qkv = nn.Linear(channels, 3 * n_heads * key_dim)
        self.out = nn.Linear(n_heads * key_dim, channels)
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: Tensor) -> Tensor:  # x: (B, Ch, L)
        B, Ch, L = x.shape
        h = x.transpose(1, 2)  # (B, L, Ch)
        q, k, v = (
            self.qkv(h).view(B, L, 3, self.n_heads, self.key_dim).permute(2, 0, 3, 1, 4)
        )  # (B, H, L, dk)
        a = F.scaled_dot_product_attention(q, k, v)  # (B, H, L, dk)
        a = self.out(a.transpose(1, 2).reshape(B, L, -1))  # (B, L, Ch)
        return x * self.norm(a).transpose(1, 2)  # (B, Ch, L)


class EncoderBlock(nn.Module):
    def __init__(
        self, c_in: int, channels: int, kernel_size: int, n_heads: int, key_dim: int
    ) -> None:
        super().__init__()
        self.conv = nn.Conv1d(c_in, channels, kernel_size, stride=2, padding=kernel_size // 2)
        self.bn = nn.BatchNorm1d(channels)
        self.attn = GatedAttention(channels, n_heads, key_dim)

    def forward(self, x: Tensor) -> Tensor:  # (B, c_in, L) -> (B, channels, L/2)
        return self.attn(self.bn(F.relu(self.conv(x))))


class Encoder(nn.Module):
    def __init__(
        self,
        c_in: int,
        window: int,
        channels: int = 16,
        kernel_size: int = 3,
        n_heads: int = 4,
        key_dim: int = 8,
        dense_units: int = 8,
        latent_dim: int = 2,
        pool: str = "flatten",
    ) -> None:
        super().__init__()
        if pool not in ("flatten", "stats"):
            raise ValueError(f"encoder pool must be 'flatten' or 'stats', got {pool!r}")
        self.pool = pool
        self.blocks = nn.Sequential(
            EncoderBlock(c_in, channels, kernel_size, n_heads, key_dim),
            EncoderBlock(channels, channels, kernel_size, n_heads, key_dim),
            EncoderBlock(channels, channels, kernel_size, n_heads, key_dim),
        )
        pooled = channels * (window // 8) if pool == "flatten" else 2 * channels
        self.dense = nn.Linear(pooled, dense_units)
        self.z_mean = nn.Linear(dense_units, latent_dim)
        self.z_log_var = nn.Linear(dense_units, latent_dim)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:  # x: (B, C, T)
        h = self.blocks(x)  # (B, channels, T/8)
        if self.pool == "flatten":
            h = h.flatten(1)  # (B, channels * T/8)
        else:  # statistics pooling: mean and std over time
            h = torch.cat([h.mean(dim=-1), h.std(dim=-1)], dim=1)  # (B, 2 * channels)
        h = F.relu(self.dense(h))  # (B, dense_units)
        return self.z_mean(h), self.z_log_var(h)  # (B, D) each


def dft_basis(T: int) -> Tensor:
    """(T, 2 (T//2 + 1)): cos and -sin of 2 pi f t / T, so x @ basis gives the real FFT's real and
    imaginary parts (as a matrix product, which ONNX exports and which is cheap at T = 128)."""
    t = torch.arange(T, dtype=torch.float64)[:, None]
    f = torch.arange(T // 2 + 1, dtype=torch.float64)[None, :]
    angle = 2 * math.pi * t * f / T  # (T, F)
    return torch.cat([torch.cos(angle), -torch.sin(angle)], dim=1).float()


class SpectrumEncoder(nn.Module):
    """log(1 + |X_f|) of every channel -> BatchNorm -> Dense(ReLU) -> Dense(ReLU) -> (z_mean, z_log_var).

    Why: what names a stride-1 window's pattern is how much of each frequency it holds, whatever
    sample the window starts at (k-means on the full magnitude spectra: ARI ~0.8, on the raw windows
    ~0.05; docs/lab/vae-demo.md), and the loss already judges the output up to a cyclic shift and by
    its magnitude spectrum. The conv + attention encoder has to learn such a shift-invariant
    description; this one is handed it, at ~1/10 of the cost (per step, forward and backward). The magnitude is exact for whole-Hz
    sines in a window of whole seconds (the default: 128 samples at 128 Hz, 1 Hz bins).
    """

    def __init__(
        self,
        c_in: int,
        window: int,
        hidden: int = 128,
        dense_units: int = 8,
        latent_dim: int = 2,
        half_window_min: bool = False,
    ) -> None:
        super().__init__()
        # the plain spectrum's DFT matrix; the half-window minimum uses torch.fft (8 shorter windows)
        basis = None if half_window_min else dft_basis(window)
        self.register_buffer("basis", basis, persistent=False)
        self.half_window_min = half_window_min
        n_freq = window // 2 + 1
        self.norm = nn.BatchNorm1d(c_in * n_freq)
        self.hidden = nn.Linear(c_in * n_freq, hidden)
        self.dense = nn.Linear(hidden, dense_units)
        self.z_mean = nn.Linear(dense_units, latent_dim)
        self.z_log_var = nn.Linear(dense_units, latent_dim)

    def magnitude(self, x: Tensor) -> Tensor:  # x: (B, C, T) -> (B, C, F)
        """|X_f| of the window, or with `half_window_min` the smallest |X_f| over its half-windows.

        Why the half-window minimum: a window that is a fraction p >= 1/2 of pattern c and 1 - p of a
        neighbour holds a half-window of c alone, so the minimum over half-windows keeps c's
        frequencies (at ~2p - 1 of their strength) and drops the neighbour's: the encoder no longer
        sees which neighbour, nor how much of it, only how pure the window is. The 8 half-windows
        start every T/8 samples, cyclically, and are zero-padded to T (the whole window's bins).
        """
        if not self.half_window_min:
            re, im = (x @ self.basis).chunk(2, dim=-1)  # (B, C, F) each
            return torch.sqrt(re.pow(2) + im.pow(2) + 1e-12)
        T = x.shape[-1]
        # the half-windows starting at every T/8-th sample, cyclically: one padded copy, unfold's view
        half = torch.cat([x, x[..., : T // 2 - 1]], dim=-1).unfold(-1, T // 2, T // 8)
        spec = torch.fft.rfft(half, n=T, dim=-1)  # (B, C, 8, F): zero-padded to T
        return torch.view_as_real(spec).pow(2).sum(-1).amin(dim=2).sqrt()  # (B, C, F)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:  # x: (B, C, T)
        h = torch.log1p(self.magnitude(x))  # (B, C, F): log magnitude
        h = F.relu(self.hidden(self.norm(h.flatten(1))))  # (B, hidden)
        h = F.relu(self.dense(h))  # (B, dense_units)
        return self.z_mean(h), self.z_log_var(h)  # (B, D) each


class Decoder(nn.Module):
    def __init__(
        self,
        z_in: int,
        c_out: int,
        window: int,
        channels: int = 16,
        kernel_size: int = 3,
        n_heads: int = 4,
        key_dim: int = 8,
        gru_units: int = 128,
        out_kernel_size: int = 5,
    ) -> None:
        super().__init__()
        self.steps, self.channels = window // 16, channels
        self.dense = nn.Linear(z_in, channels * self.steps)
        self.up = nn.ModuleList()
        self.bns = nn.ModuleList()
        for _ in range(4):
            self.up.append(
                nn.ConvTranspose1d(
                    channels,
                    channels,
                    kernel_size,
                    stride=2,
                    padding=kernel_size // 2,
                    output_padding=1,
                )
            )
            self.bns.append(nn.BatchNorm1d(channels))
        self.gru = nn.GRU(channels, gru_units, batch_first=True)
        self.attn = GatedAttention(gru_units, n_heads, key_dim)
        self.out = nn.Conv1d(gru_units, c_out, out_kernel_size, padding=out_kernel_size // 2)

    def upsample(self, z: Tensor) -> Tensor:  # z: (B, z_in) -> (B, channels, T)
        """The layers up to the last BatchNorm (all the decoder's BatchNorms live here)."""
        h = F.relu(self.dense(z)).view(-1, self.channels, self.steps)  # (B, channels, T/16)
        for up, bn in zip(self.up, self.bns):
            h = bn(F.relu(up(h)))  # length doubles: ... -> (B, channels, T)
        return h

    def forward(self, z: Tensor) -> Tensor:  # z: (B, z_in)
        h, _ = self.gru(self.upsample(z).transpose(1, 2))  # (B, T, gru_units)
        h = self.attn(h.transpose(1, 2))  # (B, gru_units, T)
        return torch.sigmoid(self.out(h))  # (B, c_out, T)


class DenseDecoder(nn.Module):
    """z -> two ReLU layers -> every output sample at once -> sigmoid: no recurrence over time.

    Why: the recurrent decoder spends ~95 % of a training step in its GRU, attention and output
    convolution over the 128 output steps; a decoder that must emit ~31 distinct windows from a 2-D
    code needs no recurrence to do so, and this one costs ~1/60 of that.
    """

    def __init__(self, z_in: int, c_out: int, window: int, units: int = 256) -> None:
        super().__init__()
        self.c_out, self.window = c_out, window
        self.net = nn.Sequential(
            nn.Linear(z_in, units),
            nn.ReLU(),
            nn.Linear(units, units),
            nn.ReLU(),
            nn.Linear(units, c_out * window),
        )

    def forward(self, z: Tensor) -> Tensor:  # z: (B, z_in)
        return torch.sigmoid(self.net(z)).view(-1, self.c_out, self.window)  # (B, c_out, T)


def reparameterize(mu: Tensor, logvar: Tensor) -> Tensor:
    """z = mu + sigma * eps, eps ~ N(0, I) (the reparameterisation trick)."""
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


def kl_divergence(mu: Tensor, logvar: Tensor, per_dim: bool = False) -> Tensor:
    """KL(q(z|x) || N(0, I)) per window, summed over latent dims: -1/2 sum(1 + logvar - mu^2 - e^logvar);
    (B, D) per dimension with `per_dim`."""
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())  # (B, D)
    return kl if per_dim else kl.sum(dim=1)  # (B,)


class Spectra(NamedTuple):
    """Real FFTs over time of a batch's target and output, shared by the loss terms that need them."""

    target: Tensor  # (B, C, T//2+1) complex
    recon: Tensor  # (B, C, T//2+1) complex


def real_spectra(recon: Tensor, target: Tensor) -> Spectra:
    """One real FFT of each (in float32: the FFT wants full precision, also under autocast)."""
    return Spectra(torch.fft.rfft(target.float(), dim=-1), torch.fft.rfft(recon.float(), dim=-1))


def cyclic_shift_errors(recon: Tensor, target: Tensor, spectra: Spectra | None = None) -> Tensor:
    """(B, T) mean squared error between `target` and `recon` rolled by every cyclic shift d = 0..T-1.

    err[b, d] = mean_{c,t} (target[b,c,t] - recon[b,c,t-d mod T])^2, from one circular cross-correlation
    (FFT): ||x||^2 + ||y||^2 - 2 <x, roll(y, d)>. O(B C T log T) instead of O(B C T^2). The
    correlation is summed over channels before the inverse FFT (it is linear), so one inverse FFT per
    window. `spectra` (`real_spectra`) saves the forward FFTs when the caller already has them.
    """
    C, T = target.shape[-2:]
    x, y = target.float(), recon.float()
    X, Y = spectra if spectra is not None else real_spectra(recon, target)
    corr = torch.fft.irfft((X * Y.conj()).sum(dim=1), n=T, dim=-1)  # (B, T): <x, roll(y, d)>
    energy = x.pow(2).sum(dim=(1, 2)) + y.pow(2).sum(dim=(1, 2))  # (B,)
    return (energy[:, None] - 2 * corr) / (C * T)


def shift_tolerant_errors(
    recon: Tensor, target: Tensor, keep: float = 1.0, spectra: Spectra | None = None
) -> tuple[Tensor, Tensor]:
    """Per window (B,): the smallest cyclic-shift error, and the best shift.

    With `keep` < 1 the error at the best shift is averaged over the `keep` fraction of time steps that
    fit best (a trimmed mean); `shift_tolerant_mse` says why. The target is rolled back onto the
    output rather than the output onto the target: the same per-step errors, permuted in time, with
    no gather in the backward pass; the kept sum is the whole sum less the largest errors (a top-k of
    the few dropped steps is cheaper than one of the many kept ones).
    """
    best = cyclic_shift_errors(recon, target, spectra).min(dim=1)
    if keep >= 1.0:
        return best.values, best.indices
    T = target.shape[-1]
    aligned = roll_each(target.float(), -best.indices)  # (B, C, T): target[t + d]
    step_err = (aligned - recon.float()).pow(2).mean(dim=1)  # (B, T)
    n_keep = max(1, round(keep * T))
    total = step_err.sum(dim=1)  # (B,)
    if n_keep < T:
        total = total - step_err.topk(T - n_keep, dim=1).values.sum(dim=1)
    return total / n_keep, best.indices


def shift_tolerant_mse(
    recon: Tensor, target: Tensor, keep: float = 1.0, spectra: Spectra | None = None
) -> tuple[Tensor, Tensor]:
    """Batch mean of the smallest cyclic-shift error per window, and the best shift per window (B,).

    Why: a stride-1 window of a series of period-`T` patterns is the tail of one pattern and the head of
    the next. Judged by the plain MSE, what the latent must encode is where in the cycle the window
    starts, which varies continuously, so the latent becomes a ring, not clusters.
    Judged up to a cyclic shift, the best a single decoded pattern can do is to match the pattern that
    fills most of the window; that is the window's label, so the latent is rewarded for encoding which
    pattern dominates, and the windows of one pattern can share one point.

    With `keep` < 1 the error at the best shift is averaged over the `keep` fraction of time steps that
    fit best (a trimmed mean). Why: with the full mean, the steps of the *minority* pattern still pay,
    so the latent gains by also encoding the neighbour and the offset; the windows of one label then
    spread into a stroke that k-means cuts. With keep = 0.5 the majority pattern alone can make the
    error vanish, and the offset buys nothing.
    """
    errors, shifts = shift_tolerant_errors(recon, target, keep, spectra)
    return errors.mean(), shifts


def spectral_errors(recon: Tensor, target: Tensor, spectra: Spectra | None = None) -> Tensor:
    """(B,) mean squared difference of the magnitude spectra: mean over channels and the T/2 + 1
    frequencies of (|R_f| - |X_f|)^2 / T, R and X the real FFTs of `recon` and `target` over time
    (`spectra`, from `real_spectra`, saves them when the caller has them).

    With the 1/T scale the term is on the time-domain MSE's scale (Parseval), about at most the error
    at the best cyclic shift. Like that error it ignores where the window starts (a cyclic shift only
    changes phases); unlike it, it does not align samples but compares how much of each frequency a
    window holds, in which a window is close to a *blend* of its two patterns' spectra. Why: under the
    aligned error, grouping the windows by the junction they hold (c | c + 1, i.e. by start block)
    costs about what grouping them by majority does (the decoded junction c[64:] | (c+1)[:64] fits the
    windows of offsets 32-96 as well as a pure pattern fits those of -32-32); in spectrum space a majority
    cluster is pattern c with up to half of c - 1 or c + 1 mixed in, two short arms in different
    directions, while a junction cluster is the whole path from c to c + 1, so majority clusters are the
    tighter ones (scripts/partition_spread.py measures it).
    """
    T = target.shape[-1]
    X, Y = spectra if spectra is not None else real_spectra(recon, target)  # (B, C, T//2+1) each
    return (Y.abs() - X.abs()).pow(2).mean(dim=(1, 2)) / T


def roll_each(x: Tensor, shifts: Tensor) -> Tensor:
    """Window b of `x` (B, C, T) cyclically rolled by shifts[b] (torch.roll per window, in one gather)."""
    C, T = x.shape[-2:]
    t = torch.arange(T, device=x.device)
    src = (t[None, :] - shifts[:, None]) % T  # (B, T): roll(x, d)[t] = x[t - d]
    return x.gather(-1, src[:, None, :].expand(-1, C, -1))  # (B, C, T)


def roll_best(recon: Tensor, target: Tensor) -> Tensor:
    """`recon` (B, C, T) rolled by its best cyclic shift against `target`, for plots."""
    return roll_each(recon, cyclic_shift_errors(recon, target).argmin(dim=1))


@dataclass(frozen=True)
class Layers:
    """Layer sizes of encoder and decoder (the original's values by default)."""

    channels: int = 16  # conv filters in encoder and decoder
    kernel_size: int = 3
    n_heads: int = 4
    key_dim: int = 8  # per attention head
    dense_units: int = 8  # encoder dense layer before z_mean / z_log_var
    gru_units: int = 128
    out_kernel_size: int = 5
    encoder: str = "attention"  # "attention": conv + attention blocks (the original); "spectrum";
    # "min-spectrum": the spectrum per frequency at its smallest over the window's half-windows
    decoder: str = "gru"  # "gru": conv-transpose + GRU + attention (the original); "dense"
    spectrum_units: int = 128  # hidden width of the spectrum encoder
    dense_decoder_units: int = 256  # hidden width of the dense decoder


class VAEOutput(NamedTuple):
    recon: Tensor  # (B, C_out, T)
    target: Tensor  # (B, C_out, T): the input channels the decoder is asked to reproduce
    mu: Tensor  # (B, D): the posterior
    logvar: Tensor  # (B, D)
    z: Tensor  # (B, D): what the decoder received


class TimeSeriesVAE(nn.Module):
    """Input (B, C, T): `n_features` signal channels, then the time channel when `time_channel`."""

    def __init__(
        self,
        n_features: int,
        window: int,
        *,
        time_channel: bool = True,
        time_bypass: bool = False,
        reconstruct_time: bool = False,
        latent_dim: int = 2,
        layers: Layers | None = None,
        init_log_var: float = 0.0,
        encoder_pool: str = "flatten",
        min_posterior_std: float = 0.0,
        center_input: bool = False,
    ) -> None:
        super().__init__()
        if (time_bypass or reconstruct_time) and not time_channel:
            raise ValueError("time_bypass / reconstruct_time need the time channel")
        if min_posterior_std < 0:
            raise ValueError(f"min_posterior_std must be >= 0, got {min_posterior_std}")
        size = layers if layers is not None else Layers()
        self.min_posterior_std = min_posterior_std
        self.center_input = center_input
        self.latent_dim = latent_dim
        self.n_features, self.time_channel = n_features, time_channel
        self.time_bypass, self.reconstruct_time = time_bypass, reconstruct_time
        # the encoder reads the time channel unless the bypass routes it to the decoder
        self.encoder_time = time_channel and not time_bypass
        c_enc = n_features + (1 if self.encoder_time else 0)
        c_out = n_features + (1 if reconstruct_time else 0)
        if size.encoder in ("spectrum", "min-spectrum"):
            self.encoder: nn.Module = SpectrumEncoder(
                c_enc,
                window,
                size.spectrum_units,
                size.dense_units,
                latent_dim,
                half_window_min=size.encoder == "min-spectrum",
            )
        elif size.encoder == "attention":
            self.encoder = Encoder(
                c_enc,
                window,
                size.channels,
                size.kernel_size,
                size.n_heads,
                size.key_dim,
                size.dense_units,
                latent_dim,
                pool=encoder_pool,
            )
        else:
            raise ValueError(
                f"encoder must be 'attention', 'spectrum' or 'min-spectrum', got {size.encoder!r}"
            )
        # A small initial posterior variance lets the decoder see an informative z from the first
        # step instead of unit-variance noise (with which it learns to ignore z: posterior collapse).
        nn.init.constant_(self.encoder.z_log_var.bias, init_log_var)
        z_in = latent_dim + (1 if time_bypass else 0)
        if size.decoder == "dense":
            self.decoder: nn.Module = DenseDecoder(z_in, c_out, window, size.dense_decoder_units)
        elif size.decoder == "gru":
            self.decoder = Decoder(
                z_in,
                c_out,
                window,
                size.channels,
                size.kernel_size,
                size.n_heads,
                size.key_dim,
                size.gru_units,
                size.out_kernel_size,
            )
        else:
            raise ValueError(f"decoder must be 'gru' or 'dense', got {size.decoder!r}")

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(mu, logvar), each (B, D), of windows x (B, C, T).

        With `min_posterior_std` = s the variance is exp(logvar_learned) + s^2. Why: trained freely the
        posterior std of a pattern window shrinks far below the spread of one pattern's windows in
        z_mean, so the decoder tells patterns apart at any spacing and nothing gathers a pattern's
        windows. A floor is noise the decoder must tolerate: two patterns closer than a few s get
        confused, and a window that strays from its pattern's centre is decoded as a neighbour, so the
        cheapest layout is one tight cluster per pattern with gaps between them.
        """
        x_enc = x if self.encoder_time else x[:, : self.n_features]  # (B, C_enc, T)
        # Windows are min-max scaled to [0, 1]; centred, a first-layer filter is no longer dead for
        # every window just because its weights sum negative (the conv's ReLU comes before BatchNorm).
        x_enc = x_enc - 0.5 if self.center_input else x_enc
        mu, logvar = self.encoder(x_enc)
        if self.min_posterior_std > 0:
            floor = torch.full_like(logvar, 2 * math.log(self.min_posterior_std))
            logvar = torch.logaddexp(logvar, floor)  # log(sigma^2 + s^2)
        return mu, logvar

    def _decoder_input(self, z: Tensor, x: Tensor | None) -> Tensor:
        """z (B, D), with the bypass followed by x's last time value (B, D+1)."""
        if not self.time_bypass:
            return z
        if x is None:
            raise ValueError("time_bypass: decode needs the input windows for their time values")
        return torch.cat([z, x[:, -1, -1:]], dim=1)  # (B, D+1)

    def decode(self, z: Tensor, x: Tensor | None = None) -> Tensor:
        """Windows from latents (B, D); with the bypass the decoder also needs x's last time value."""
        return self.decoder(self._decoder_input(z, x))

    def batchnorm_forward(self, x: Tensor) -> None:
        """The forward as far as the last BatchNorm, for precise BN (`Trainer.fit(bn_step=)`).

        The GRU decoder's GRU, attention and output conv come after its BatchNorms and are most of a
        forward; precise BN needs only the BatchNorms' inputs, which this computes exactly as
        `forward` does (same random draw for z, in the same order).
        """
        mu, logvar = self.encode(x)  # (B, D) each
        if isinstance(self.decoder, Decoder):
            z = reparameterize(mu, logvar) if self.training else mu
            self.decoder.upsample(self._decoder_input(z, x))

    def forward(self, x: Tensor) -> VAEOutput:
        mu, logvar = self.encode(x)  # (B, D) each
        z = reparameterize(mu, logvar) if self.training else mu
        target = x if self.reconstruct_time else x[:, : self.n_features]
        return VAEOutput(self.decode(z, x), target, mu, logvar, z)
