"""VQ-VAE for two-lead ECG windows and a latent forecaster that predicts the coming window through it.

Seed system: the "ECG Signal Forecasting Using VQ-VAE ..." project (VQ-VAE after van den Oord et al. 2017,
arXiv:1711.00937, with attention/transformer options, trained on MIT-BIH). Where we differ on purpose:
- `variant="efficient"` (default): wider trunk (32 channels), 4 residual blocks, 64-d codes, 512 codes, a k7
  input conv and no full-resolution Linear; per-window RevIN normalisation by default. `variant="original"`
  rebuilds the seed's layers, including the residual Linear(8*1080, 8*1080) behind full-resolution attention
  (74.7 M parameters) for comparison.
- `LatentForecaster` is new: the seed promised forecasting and never did it (see docs/ecg-vqvae.md).

Shapes: B batch, L leads (2), T samples per window (1080), C trunk channels, N code positions (T / 2^n_down),
D code size. Torch only: no I/O, no optimisers.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from ecg_vqvae.quantizer import VectorQuantizerEMA

# ---------------------------------------------------------------------------------------------- blocks


class RevIN(nn.Module):
    """Reversible instance normalisation (Kim et al., ICLR 2022): per-sample, per-channel mean/std over time."""

    def __init__(self, channels: int, affine: bool = True, eps: float = 1e-4) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(1, channels, 1)) if affine else None
        self.bias = nn.Parameter(torch.zeros(1, channels, 1)) if affine else None

    def stats(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mean = x.mean(dim=-1, keepdim=True)  # (B, C, 1)
        std = torch.sqrt(x.var(dim=-1, keepdim=True, unbiased=False) + self.eps)
        return mean, std

    def normalize(self, x: Tensor, mean: Tensor, std: Tensor) -> Tensor:
        x = (x - mean) / std
        return x * self.weight + self.bias if self.weight is not None else x

    def denormalize(self, x: Tensor, mean: Tensor, std: Tensor) -> Tensor:
        if self.weight is not None:
            x = (x - self.bias) / (self.weight + self.eps)
        return x * std + mean


def sinusoidal_encoding(length: int, dim: int) -> Tensor:
    """(length, dim) sine/cosine positional encoding (Vaswani et al. 2017, sec. 3.5)."""
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    pe = torch.zeros(length, dim)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return pe


class ResBlock(nn.Module):
    """BN(x + Conv1x1(SiLU(Conv3(x)))), the seed's residual block."""

    def __init__(self, channel: int, res_channel: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv1d(channel, res_channel, 3, padding=1),
            nn.SiLU(),
            nn.Conv1d(res_channel, channel, 1),
        )
        self.norm = nn.BatchNorm1d(channel)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x + self.conv(x))  # (B, C, N)


class FullResAttention(nn.Module):
    """Self-attention over all T samples (2 heads), residual + BN; `big_linear` adds the seed's
    residual Linear(C*T, C*T) on the flattened activations (the bulk of the original's parameters)."""

    def __init__(self, channel: int, length: int, big_linear: bool) -> None:
        super().__init__()
        self.register_buffer("pe", sinusoidal_encoding(length, channel), persistent=False)
        self.attn = nn.MultiheadAttention(channel, 2, batch_first=True)
        self.norm = nn.BatchNorm1d(channel)
        self.linear = nn.Linear(channel * length, channel * length) if big_linear else None

    def forward(self, x: Tensor) -> Tensor:
        B, C, T = x.shape
        h = x.transpose(1, 2) + self.pe[:T]  # (B, T, C)
        h = h + self.attn(h, h, h, need_weights=False)[0]
        h = self.norm(h.transpose(1, 2))  # (B, C, T)
        if self.linear is not None:
            h = h + self.linear(h.reshape(B, C * T)).view(B, C, T)
        return h


class RevINTransformer(nn.Module):
    """The seed's `has_transformer` block: RevIN around a TransformerEncoder over code positions."""

    def __init__(self, channel: int, heads: int, layers: int) -> None:
        super().__init__()
        self.revin = RevIN(channel)
        layer = nn.TransformerEncoderLayer(
            channel, heads, 4 * channel, dropout=0.0, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

    def forward(self, x: Tensor) -> Tensor:
        mean, std = self.revin.stats(x)
        h = self.revin.normalize(x, mean, std).transpose(1, 2)  # (B, N, C)
        h = self.encoder(h).transpose(1, 2)  # (B, C, N)
        return self.revin.denormalize(h, mean, std)


# --------------------------------------------------------------------------------------- encoder/decoder


class Encoder(nn.Module):
    """(B, L, T) -> (B, C, N): input conv, [attention], n_down stride-2 convs, residual blocks, [transformer]."""

    def __init__(
        self,
        leads: int,
        channel: int,
        n_res_block: int,
        res_channel: int,
        n_down: int,
        length: int,
        has_attention: bool,
        has_transformer: bool,
        original: bool,
        heads: int,
        layers: int,
    ) -> None:
        super().__init__()
        k = 3 if original else 7
        blocks: list[nn.Module] = [nn.Conv1d(leads, channel, k, padding=k // 2), nn.SiLU()]
        if has_attention:
            blocks.append(FullResAttention(channel, length, big_linear=original))
        for _ in range(n_down):
            blocks += [nn.Conv1d(channel, channel, 4, stride=2, padding=1), nn.SiLU()]
        blocks += [ResBlock(channel, res_channel) for _ in range(n_res_block)]
        if has_transformer:
            blocks.append(RevINTransformer(channel, heads, layers))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class Decoder(nn.Module):
    """(B, C, N) -> (B, L, T), the encoder mirrored with ConvTranspose1d (attention stays encoder-only,
    as in the seed, whose single big Linear is its 74.7 M parameters)."""

    def __init__(
        self,
        leads: int,
        channel: int,
        n_res_block: int,
        res_channel: int,
        n_up: int,
        length: int,
        has_attention: bool,
        has_transformer: bool,
        original: bool,
        heads: int,
        layers: int,
    ) -> None:
        del has_attention, length
        super().__init__()
        blocks: list[nn.Module] = []
        if has_transformer:
            blocks.append(RevINTransformer(channel, heads, layers))
        blocks += [ResBlock(channel, res_channel) for _ in range(n_res_block)]
        for _ in range(n_up):
            blocks += [nn.ConvTranspose1d(channel, channel, 4, stride=2, padding=1), nn.SiLU()]
        k = 3 if original else 7
        blocks.append(nn.Conv1d(channel, leads, k, padding=k // 2))
        self.net = nn.Sequential(*blocks)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


# ------------------------------------------------------------------------------------------------ VQ-VAE


class VQVAE(nn.Module):
    """x (B, L, T) in mV -> (reconstruction (B, L, T) in mV, commitment loss, codes (B, N))."""

    def __init__(
        self,
        leads: int = 2,
        length: int = 1080,
        variant: str = "efficient",
        channel: int = 32,
        n_res_block: int = 4,
        n_res_channel: int = 64,
        n_downsample: int = 1,
        embed_dim: int = 64,
        n_embed: int = 512,
        has_attention: bool = False,
        has_transformer: bool = False,
        transformer_heads: int = 2,
        transformer_layers: int = 4,
        normalization: str = "none",
        decay: float = 0.99,
        eps: float = 1e-5,
        kmeans_init: bool = True,
        kmeans_iters: int = 10,
        dead_code_threshold: float = 1.0,
    ) -> None:
        super().__init__()
        if length % (2**n_downsample):
            raise ValueError(
                f"window of {length} samples is not divisible by 2^{n_downsample} "
                "(change data.input_signal_duration or model.n_downsample)"
            )
        self.length, self.n_positions = length, length // 2**n_downsample
        original = variant == "original"
        arch = dict(
            channel=channel,
            n_res_block=n_res_block,
            res_channel=n_res_channel,
            length=length,
            has_attention=has_attention,
            has_transformer=has_transformer,
            original=original,
            heads=transformer_heads,
            layers=transformer_layers,
        )
        self.revin = RevIN(leads) if normalization == "revin" else None
        self.encoder = Encoder(leads, n_down=n_downsample, **arch)
        self.quantize_conv = nn.Conv1d(channel, embed_dim, 1)
        self.quantizer = VectorQuantizerEMA(
            embed_dim, n_embed, decay, eps, kmeans_init, kmeans_iters, dead_code_threshold
        )
        self.post_quant_conv = nn.Conv1d(embed_dim, channel, 1)
        self.decoder = Decoder(leads, n_up=n_downsample, **arch)

    def normalize(
        self, x: Tensor, stats: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor] | None]:
        """RevIN (when configured) with the window's own statistics (or `stats`), returned for
        `denormalize`."""
        if self.revin is None:
            return x, None
        stats = stats if stats is not None else self.revin.stats(x)
        return self.revin.normalize(x, *stats), stats

    def denormalize(self, x: Tensor, stats: tuple[Tensor, Tensor] | None) -> Tensor:
        return x if stats is None else self.revin.denormalize(x, *stats)

    def encode(
        self, x: Tensor, stats: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, Tensor, Tensor, tuple[Tensor, Tensor] | None]:
        """x (B, L, T) -> quantised latents (B, D, N), commitment loss, codes (B, N), RevIN stats
        (the window's own, or `stats` when given)."""
        x, stats = self.normalize(x, stats)
        z_e = self.quantize_conv(self.encoder(x)).transpose(1, 2)  # (B, N, D)
        z_q, commitment, codes = self.quantizer(z_e)
        return z_q.transpose(1, 2), commitment, codes, stats  # (B, D, N)

    @torch.no_grad()
    def tie_margin(self, x: Tensor, stats: tuple[Tensor, Tensor] | None = None) -> Tensor:
        """(B,) the smallest `quantizer.tie_margin` over each window's code positions, x (B, L, T)."""
        x, _ = self.normalize(x, stats)
        z_e = self.quantize_conv(self.encoder(x)).transpose(1, 2)  # (B, N, D)
        return self.quantizer.tie_margin(z_e.reshape(-1, z_e.shape[-1])).view(len(x), -1).amin(1)

    def decode(self, z_q: Tensor, stats: tuple[Tensor, Tensor] | None = None) -> Tensor:
        """Latents (B, D, N) -> signal (B, L, T), de-normalised with `stats` when RevIN is on."""
        return self.denormalize(self.decoder(self.post_quant_conv(z_q)), stats)

    def decode_code(self, codes: Tensor, stats: tuple[Tensor, Tensor] | None = None) -> Tensor:
        """Code indices (B, N) -> signal (B, L, T) (the seed's public `decode_code`)."""
        return self.decode(self.quantizer.embed_code(codes).transpose(1, 2), stats)  # (B, D, N) in

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        z_q, commitment, codes, stats = self.encode(x)
        return self.decode(z_q, stats), commitment, codes


# -------------------------------------------------------------------------------------------- forecaster


class LatentForecaster(nn.Module):
    """Context window (B, L, T) -> next `n_windows` windows (B, L, n_windows*T) through a frozen VQ-VAE.

    The context is encoded to its quantised latents; a bidirectional transformer reads the context tokens
    (`patch` code positions each) followed by query tokens for the future positions and predicts the
    future latents, which the frozen decoder turns into signal. The prediction is continuous (not snapped
    to the codebook), so a forecast can hedge between codes where the future is uncertain; training goes
    through the decoder with a loss in mV. With RevIN on, the future is de-normalised with the context's
    statistics (the future's are unknown).

    With `use_prior`, `forward` also takes a naive extrapolation of the context (repeat-last-beat, computed
    outside this torch-only module): it is encoded with the context's statistics, added to the query tokens,
    and the network predicts a *correction* of its latents (the output projection starts at zero, so an
    untrained forecaster reproduces the prior as the VQ-VAE reconstructs it). Without it, the queries are
    learned constants and the network must find the rhythm itself.

    With `snap`, each predicted latent is replaced by its nearest codebook entry before decoding: a
    future made of codes, as the VQ-VAE reconstructs real ECG, with sharp beats where the continuous
    prediction hedges between codes (used for sampled futures; the point forecast keeps the hedge).

    With `beat_head`, a second output projection reads the same transformer states: the *beat
    forecast*, trained for beat timing (L1 plus the earth mover's distance of the QRS energy,
    `train.energy_shift`) where the point forecast is trained for MAE alone. One forecast cannot serve
    both: L1 is least for the pointwise median, which drops every beat whose timing is less certain
    than its width. `forward(..., head="beats")` returns it, `head="both"` both from one pass.
    """

    def __init__(
        self,
        vqvae: VQVAE,
        n_windows: int = 1,
        d_model: int = 64,
        n_layers: int = 3,
        n_heads: int = 4,
        patch: int = 3,
        dropout: float = 0.1,
        use_prior: bool = True,
        beat_head: bool = False,
    ) -> None:
        super().__init__()
        self.vqvae, self.use_prior, self.beat_head = vqvae, use_prior, beat_head
        for p in self.vqvae.parameters():
            p.requires_grad_(False)
        n = vqvae.n_positions
        if n % patch:
            raise ValueError(
                f"forecast.patch={patch} must divide the {n} code positions of a window"
            )
        self.n_windows, self.tokens = n_windows, n // patch
        dim = vqvae.quantize_conv.out_channels
        self.patch_in = nn.Conv1d(dim, d_model, patch, stride=patch)
        self.pos = nn.Parameter(0.02 * torch.randn(1, (1 + n_windows) * self.tokens, d_model))
        self.query = nn.Parameter(0.02 * torch.randn(1, n_windows * self.tokens, d_model))
        layer = nn.TransformerEncoderLayer(
            d_model, n_heads, 4 * d_model, dropout=dropout, batch_first=True, norm_first=True
        )
        self.transformer = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.patch_out = nn.ConvTranspose1d(d_model, dim, patch, stride=patch)
        self.beat_out = nn.ConvTranspose1d(d_model, dim, patch, stride=patch) if beat_head else None
        if use_prior:  # start as the identity on the prior's latents
            for out in (self.patch_out, self.beat_out):
                if out is not None:
                    nn.init.zeros_(out.weight)
                    nn.init.zeros_(out.bias)

    def train(self, mode: bool = True) -> LatentForecaster:
        super().train(mode)
        self.vqvae.eval()  # frozen: BatchNorm statistics and the codebook stay as trained
        return self

    def forward(
        self,
        context: Tensor,
        prior: Tensor | None = None,
        snap: bool = False,
        head: Literal["point", "beats", "both"] = "point",
    ) -> Tensor | tuple[Tensor, Tensor | None]:
        """Context (B, L, T) [+ prior (B, L, W*T)] -> the `head`'s forecast (B, L, W*T) in mV;
        `head="both"`: (point, beat forecast or None) from one transformer pass (what training
        calls, through `forward` so a DDP wrapper sees it)."""
        if head == "beats" and self.beat_out is None:
            raise ValueError(
                "this forecaster has no beat head (trained with forecast.beat_head false)"
            )
        h, z_prior, stats = self._states(context, prior)
        if head == "both":
            point = self._decode(self.patch_out, h, z_prior, stats, snap)
            if self.beat_out is None:
                return point, None
            return point, self._decode(self.beat_out, h, z_prior, stats, snap)
        out = self.patch_out if head == "point" else self.beat_out
        return self._decode(out, h, z_prior, stats, snap)

    def _states(
        self, context: Tensor, prior: Tensor | None
    ) -> tuple[Tensor, Tensor | None, tuple[Tensor, Tensor] | None]:
        """The transformer's future states (B, d, W*N/patch), the prior's latents (B, D, W*N) and
        the context's RevIN statistics."""
        B, T = context.shape[0], context.shape[-1]
        with torch.no_grad():
            z_q, _, _, stats = self.vqvae.encode(context)  # (B, D, N)
        h = self.patch_in(z_q).transpose(1, 2)  # (B, N/patch, d)
        queries = self.query.expand(B, -1, -1)  # (B, W*N/patch, d)
        z_prior = None
        if self.use_prior:
            if prior is None:
                raise ValueError(
                    "this forecaster was built with use_prior: pass the prior forecast"
                )
            with torch.no_grad():
                z_prior = torch.cat(
                    [
                        self.vqvae.encode(prior[..., i * T : (i + 1) * T], stats)[0]
                        for i in range(self.n_windows)
                    ],
                    dim=-1,
                )  # (B, D, W*N)
            queries = queries + self.patch_in(z_prior).transpose(1, 2)
        h = torch.cat([h, queries], dim=1) + self.pos  # (B, (1+W)*N/patch, d)
        h = self.norm(self.transformer(h)[:, self.tokens :])  # (B, W*N/patch, d)
        return h.transpose(1, 2), z_prior, stats

    def _decode(
        self,
        out: nn.Module,
        h: Tensor,
        z_prior: Tensor | None,
        stats: tuple[Tensor, Tensor] | None,
        snap: bool,
    ) -> Tensor:
        """States (B, d, W*N/patch) through one output projection and the decoder -> (B, L, W*T)."""
        z_future = out(h)  # (B, D, W*N)
        if z_prior is not None:
            z_future = z_future + z_prior
        if snap:
            z_future = self.nearest_codes(z_future)
        n = self.vqvae.n_positions
        decoded = [
            self.vqvae.decode(z_future[:, :, i * n : (i + 1) * n], stats)
            for i in range(self.n_windows)
        ]
        return torch.cat(decoded, dim=-1)  # (B, L, W*T)

    @torch.no_grad()
    def nearest_codes(self, z: Tensor) -> Tensor:
        """Latents (B, D, N) -> their nearest codebook entries (B, D, N)."""
        B, D, N = z.shape
        quantizer = self.vqvae.quantizer
        codes = quantizer.nearest(z.transpose(1, 2).reshape(-1, D))  # (B*N,)
        return quantizer.embed_code(codes).view(B, N, D).transpose(1, 2)


def build_vqvae(model_cfg: object, window_samples: int) -> VQVAE:
    """A VQVAE from a `ModelConfig` (duck-typed so this module stays torch-only)."""
    m = model_cfg
    return VQVAE(
        leads=m.in_channels,
        length=window_samples,
        variant=m.variant,
        channel=m.channel,
        n_res_block=m.n_res_block,
        n_res_channel=m.n_res_channel,
        n_downsample=m.n_downsample,
        embed_dim=m.embed_dim,
        n_embed=m.n_embed,
        has_attention=m.has_attention,
        has_transformer=m.has_transformer,
        transformer_heads=m.transformer_heads,
        transformer_layers=m.transformer_layers,
        normalization=m.normalization,
        decay=m.decay,
        eps=m.eps,
        kmeans_init=m.kmeans_init,
        kmeans_iters=m.kmeans_iters,
        dead_code_threshold=m.dead_code_threshold,
    )  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------------ export


class InferenceGraph(nn.Module):
    """The API's inference path as tensors in and out (what `ecg-vqvae export` writes as ONNX).

    window (B, L, T) in mV -> reconstruction (B, L, T) in mV; with a forecaster also the forecast
    (B, L, W*T) of what follows each window read as a context, given the prior (B, L, W*T) the
    forecaster was trained with (repeat-last-beat of the window, computed outside: peak detection is
    NumPy/SciPy, not torch), and the beat forecast (B, L, W*T) when the forecaster has a beat head.
    """

    def __init__(self, vqvae: VQVAE, forecaster: LatentForecaster | None = None) -> None:
        super().__init__()
        self.vqvae, self.forecaster = vqvae, forecaster

    def forward(self, window: Tensor, prior: Tensor | None = None) -> Tensor | tuple[Tensor, ...]:
        x_hat = self.vqvae(window)[0]  # (B, L, T)
        if self.forecaster is None:
            return x_hat
        point, beats = self.forecaster(window, prior, head="both")  # (B, L, W*T) each
        return (x_hat, point) if beats is None else (x_hat, point, beats)
