"""The event-specific classifier of gfr10598/lstm: one learnable template per event type with per-channel
onset delays, a small CNN per event, and one attention timing head per event.

Where we differ on purpose: template onset delays are applied with a differentiable fractional shift
(linear interpolation), so they learn; the original rolled the templates by a rounded delay, which has no
gradient. The per-event CNN features are reduced per event and fed to the LSTM (the original computed and
dropped them).

At inference (eval mode under no_grad) the template correlation and the per-event convolutions run by
FFT, and only the timing heads of reported events are computed: the same events as the direct
computation training uses, at about 1.5x the streaming speed on one CPU thread (docs/event-lstm.md).

Shapes: B batch, T samples, C channels, E event types, S LSTM steps, D LSTM output size,
K per-event CNN channels, L template length.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from event_lstm.backbone import (
    NEG,
    EventModel,
    SequenceEncoder,
    init_prior_bias,
    mlp_head,
    n_steps,
    pool_events,
    step_mask,
)


def fractional_shift(x: Tensor, delay: Tensor) -> Tensor:
    """Delay the last axis of x (..., L) by a real number of samples `delay` (...,), zero-filled.

    out[l] = x[l - d] by linear interpolation, so the result is differentiable in `delay` (Eq. S:
    d out[l] / d d = x[floor(l - d)] - x[floor(l - d) + 1]); an integer delay equals a zero-filled shift.
    """
    L = x.shape[-1]
    pos = torch.arange(L, device=x.device, dtype=x.dtype) - delay.unsqueeze(-1)  # (..., L)
    lo = torch.floor(pos)
    frac = pos - lo
    lo = lo.long()

    def take(i: Tensor) -> Tensor:
        valid = (i >= 0) & (i < L)
        return x.gather(-1, i.clamp(0, L - 1)) * valid

    return (1 - frac) * take(lo) + frac * take(lo + 1)


def conv_spectrum(weight: Tensor, n_fft: int, padding: int, groups: int = 1) -> Tensor:
    """Spectrum of a conv1d kernel (O, I / groups, k) with left padding `padding`, laid out for
    `spectral_conv`: (F, I, O) when dense (one complex matmul per frequency), (g, O/g, I/g, F) when
    grouped; F = n_fft // 2 + 1.

    conv1d is a cross-correlation, y[t] = sum_j w[j] x[t + j - padding]; as a circular convolution
    y = x (*) h its impulse response is h[m] = w[padding - m] (indices mod n_fft), i.e. the flipped
    kernel rotated by k - 1 - padding. It equals conv1d on the first T outputs when
    n_fft >= T + max(padding, k - 1 - padding), so no wrapped sample reaches them.
    """
    n_out, in_per_group, k = weight.shape
    h = F.pad(weight.flip(-1), (0, n_fft - k))  # (O, I/g, n_fft)
    spectrum = torch.fft.rfft(torch.roll(h, -(k - 1 - padding), dims=-1))  # (O, I/g, F)
    if groups == 1:
        return spectrum.permute(2, 1, 0).contiguous()  # (F, I, O)
    return spectrum.view(groups, n_out // groups, in_per_group, -1)  # (g, O/g, I/g, F)


def spectral_conv(x: Tensor, spectrum: Tensor, bias: Tensor | None, groups: int = 1) -> Tensor:
    """conv1d (stride 1) by FFT: x (B, I, n_fft), zero beyond the T samples that count, and a kernel
    from `conv_spectrum` -> (B, O, n_fft), equal to conv1d on the first T samples (float rounding
    aside, ~1e-6 of the activations); later samples hold the convolution's spill-over.

    Why: the per-event convolutions (up to 41 taps on groups of 4 channels) cost O(k) per output
    sample directly and O(log n) by FFT; at inference this is the model's largest saving. The bias
    goes into the DC bin (a constant c over n samples has spectrum n c at frequency 0).
    """
    B, n = x.shape[0], x.shape[-1]
    X = torch.fft.rfft(x)  # (B, I, F)
    if groups == 1:
        Y = torch.bmm(X.permute(2, 0, 1).contiguous(), spectrum)  # (F, B, O)
        if bias is not None:
            Y[0] += n * bias
        return torch.fft.irfft(Y.permute(1, 2, 0), n=n)  # (B, O, n)
    g, Og, Ig, F_ = spectrum.shape
    Xg = X.view(B, g, Ig, 1, F_)
    Y = Xg[:, :, 0] * spectrum[:, :, 0]  # (B, g, O/g, F)
    for i in range(1, Ig):  # a few fused multiply-adds beat a matmul of 4 x 4 blocks
        Y.addcmul_(Xg[:, :, i], spectrum[:, :, i])
    Y = Y.view(B, g * Og, F_)
    if bias is not None:
        Y[:, :, 0] += n * bias
    return torch.fft.irfft(Y, n=n)  # (B, O, n)


def inference_only() -> bool:
    """True under no_grad / inference_mode outside export and tracing: where a module may take its
    FFT path (complex tensors have no ONNX form, and cached spectra must not carry autograd state)."""
    return not (torch.is_grad_enabled() or torch.compiler.is_exporting() or torch.jit.is_tracing())


R = TypeVar("R")


def cached(module: nn.Module, name: str, make: Callable[[], R], *key: int) -> R:
    """`make()` computed once per state of the module's parameters (an in-place update, such as
    load_state_dict or an optimizer step, bumps a tensor's version and so recomputes it)."""
    full_key = (*key, *((q.data_ptr(), q._version) for q in module.parameters()))
    hit = module.__dict__.get(f"_cache_{name}")
    if hit is None or hit[0] != full_key:
        hit = (full_key, make())
        module.__dict__[f"_cache_{name}"] = hit
    return hit[1]


def fft_size(n: int) -> int:
    """Smallest 2^a 3^b 5^c >= n (sizes that FFT libraries transform fastest)."""
    while True:
        m = n
        for f in (2, 3, 5):
            while m % f == 0:
                m //= f
        if m == 1:
            return n
        n += 1


def window_sums(x: Tensor, n: int) -> Tensor:
    """(..., T) -> (..., T): out[t] = x[t] + ... + x[t + n - 1], zero beyond T; as differences of a
    float64 running sum (O(T) instead of the O(n T) of a convolution with ones)."""
    c = F.pad(x.double().cumsum(-1), (1, 0))  # (..., T + 1): c[i] = sum of x[:i]
    end = torch.clamp(torch.arange(x.shape[-1], device=x.device) + n, max=x.shape[-1])  # (T,)
    return (c[..., end] - c[..., :-1]).to(x.dtype)


class EventTemplateBank(nn.Module):
    """One learnable template (E, C, L) per event type, each channel delayed by a learnable onset delay
    (E, C) within +-max_delay_samples; scores = normalised cross-correlation with the input."""

    def __init__(
        self,
        num_events: int = 16,
        num_features: int = 6,
        template_length: int = 80,
        max_delay_samples: float = 10.0,
    ) -> None:
        super().__init__()
        self.max_delay_samples = max_delay_samples
        self.templates = nn.Parameter(torch.randn(num_events, num_features, template_length) * 0.1)
        self.delay_params = nn.Parameter(torch.zeros(num_events, num_features))

    @property
    def delays(self) -> Tensor:
        """(E, C) onset delays in samples, bounded by tanh to +-max_delay_samples."""
        return self.max_delay_samples * torch.tanh(self.delay_params)

    def shifted_templates(self) -> Tensor:
        return fractional_shift(self.templates, self.delays)  # (E, C, L)

    def forward(self, x: Tensor, fft: bool = False) -> Tensor:
        """(B, T, C) -> (B, T, E) in [-1, 1]: score[t] compares the template with x[t : t + L].

        `fft` correlates by FFT with the shifted templates' spectra cached (inference only).
        """
        L = self.templates.shape[-1]
        xt = x.transpose(1, 2)  # (B, C, T)
        T = x.shape[1]
        if fft:
            n = fft_size(T + L - 1)
            spectrum, w_norm = cached(self, "spectrum", lambda: self._spectrum(n), n)
            num = spectral_conv(F.pad(xt, (0, n - T)), spectrum, None)[..., :T]  # (B, E, T)
        else:
            w = self.shifted_templates()  # (E, C, L)
            num = F.conv1d(F.pad(xt, (0, L - 1)), w)  # (B, E, T)
            w_norm = w.flatten(1).norm(dim=1)  # (E,)
        sq = xt.pow(2).sum(1, keepdim=True)  # (B, 1, T)
        energy = (
            window_sums(sq, L) if fft else F.conv1d(F.pad(sq, (0, L - 1)), sq.new_ones(1, 1, L))
        )
        norm = energy.clamp_min(1e-8).sqrt() * w_norm[None, :, None]
        return (num / (norm + 1e-6)).transpose(1, 2)  # (B, T, E)

    def _spectrum(self, n_fft: int) -> tuple[Tensor, Tensor]:
        w = self.shifted_templates()  # (E, C, L)
        return conv_spectrum(w, n_fft, padding=0), w.flatten(1).norm(dim=1)


class EventSpecificCNN(nn.Module):
    """Per event type three convolutions (kernels 11/21/41 = 5/10/20 ms), grouped so the event pathways
    stay separate, plus an optional shared pathway."""

    def __init__(
        self,
        num_events: int = 16,
        input_channels: int = 6,
        output_channels: int = 32,
        use_shared: bool = True,
        kernel_sizes: tuple[int, int, int] = (11, 21, 41),
    ) -> None:
        super().__init__()
        E, K = num_events, output_channels
        self.num_events, self.channels = E, K
        k1, k2, k3 = kernel_sizes
        self.kernel_sizes = kernel_sizes
        self.event_path = nn.Sequential(
            nn.Conv1d(input_channels, E * K, k1, padding=k1 // 2),
            nn.GELU(),
            nn.Conv1d(E * K, E * K, k2, padding=k2 // 2, groups=E),
            nn.GELU(),
            nn.Conv1d(E * K, E * K, k3, padding=k3 // 2, groups=E),
            nn.GELU(),
        )
        self.shared_path = (
            nn.Sequential(
                nn.Conv1d(input_channels, K, k1, padding=k1 // 2),
                nn.GELU(),
                nn.Conv1d(K, K, k2, padding=k2 // 2),
                nn.GELU(),
                nn.Conv1d(K, K, k3, padding=k3 // 2),
                nn.GELU(),
            )
            if use_shared
            else None
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """(B, T, C) -> event features (B, T, E, K) and shared features (B, T, K) or None."""
        B, T, _ = x.shape
        E, K = self.num_events, self.channels
        h = self.features(x)  # (B, E * K (+ K), T)
        ev = h[:, : E * K].view(B, E, K, T).permute(0, 3, 1, 2)
        shared = h[:, E * K :].transpose(1, 2) if self.shared_path is not None else None
        return ev, shared

    def layers(self) -> list[tuple[Tensor, Tensor, int]]:
        """Both pathways as one network of (weight, bias, groups) per layer: the first convolution
        sees every input channel, the next two are grouped per event, the shared pathway being one
        more group of K channels. Same arithmetic as running the pathways apart, one call per layer."""
        convs = [m for m in self.event_path if isinstance(m, nn.Conv1d)]
        shared = (
            [m for m in self.shared_path if isinstance(m, nn.Conv1d)]
            if self.shared_path is not None
            else []
        )
        out = []
        for i, conv in enumerate(convs):
            parts = [conv] + ([shared[i]] if shared else [])
            weight = torch.cat([m.weight for m in parts])  # (E * K (+ K), I, k)
            bias = torch.cat([m.bias for m in parts])
            out.append((weight, bias, 1 if i == 0 else len(weight) // self.channels))
        return out

    def features(self, x: Tensor, fft: bool = False) -> Tensor:
        """(B, T, C) -> (B, E * K (+ K), T): each event's K channels in order, then the shared K.

        `fft` convolves by FFT with the kernels' spectra cached (inference only).
        """
        h = x.transpose(1, 2)  # (B, C, T)
        T = h.shape[-1]
        if not fft:
            for weight, bias, groups in self.layers():
                h = F.gelu(F.conv1d(h, weight, bias, padding=weight.shape[-1] // 2, groups=groups))
            return h
        n = fft_size(T + max(self.kernel_sizes) // 2)
        h = F.pad(h, (0, n - T))  # (B, C, n): the zero padding conv1d would add
        for spectrum, bias, groups in cached(self, "spectra", lambda: self._spectra(n), n):
            h = spectral_conv(h, spectrum, bias, groups)  # (B, O, n)
            h[..., T:] = 0  # the next layer's zero padding (gelu(0) = 0)
            h = F.gelu(h)
        return h[..., :T]

    def _spectra(self, n_fft: int) -> list[tuple[Tensor, Tensor, int]]:
        return [(conv_spectrum(w, n_fft, w.shape[-1] // 2, g), b, g) for w, b, g in self.layers()]


class EventSpecificTimingHeads(nn.Module):
    """Per event type: a 4-head temporal attention and a 2-layer MLP giving timing logits (B, E, S).

    Each event type's heads attend over time with their own learned queries (attention pooling, O(S)
    per head rather than the O(S^2) of self-attention, which made the 16 x 4 heads the slowest part of
    the model); the pooled context is added to every step's features before the per-event MLP. All 16
    heads run as one batched computation with (E, ...) weight tensors. Event types marked absent in
    `event_mask` get flat logits (a uniform timing distribution).
    """

    def __init__(
        self,
        num_events: int = 16,
        hidden_size: int = 256,
        head_dim: int = 32,
        num_heads: int = 4,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        E, d = num_events, head_dim
        self.E, self.d, self.nh = E, d, num_heads
        self.proj = nn.Linear(hidden_size, E * d)
        self.query = nn.Parameter(torch.randn(E, num_heads, d // num_heads))
        self.kv = nn.Parameter(torch.randn(E, d, 2 * d) / math.sqrt(d))
        self.out = nn.Parameter(torch.randn(E, d, d) / math.sqrt(d))
        self.w1 = nn.Parameter(torch.randn(E, d, d) / math.sqrt(d))
        self.b1 = nn.Parameter(torch.zeros(E, 1, d))
        self.w2 = nn.Parameter(torch.randn(E, d) / math.sqrt(d))
        self.b2 = nn.Parameter(torch.zeros(E, 1))
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, h: Tensor, event_mask: Tensor | None = None, mask: Tensor | None = None
    ) -> Tensor:
        if event_mask is not None and not self.training:
            return self._masked_heads(h, event_mask, mask)
        B, S, _ = h.shape
        nh, dh = self.nh, self.d // self.nh
        z = self.proj(h).view(B, S, self.E, self.d).permute(0, 2, 1, 3)  # (B, E, S, d)
        k, v = torch.einsum("besd,edf->besf", z, self.kv).chunk(2, dim=-1)  # 2 x (B, E, S, d)
        k = k.reshape(B, self.E, S, nh, dh)
        scores = torch.einsum("besnk,enk->besn", k, self.query) / math.sqrt(dh)  # (B, E, S, nh)
        if mask is not None:
            scores = scores.masked_fill(~mask[:, None, :, None], NEG)
        w = scores.softmax(dim=2)  # attention over time, per event and head
        ctx = torch.einsum("besn,besnk->benk", w, v.reshape(B, self.E, S, nh, dh))  # (B, E, nh, dh)
        ctx = torch.einsum("bed,edf->bef", ctx.reshape(B, self.E, self.d), self.out)  # (B, E, d)
        z = z + self.dropout(ctx).unsqueeze(2)  # (B, E, S, d)
        z = F.relu(torch.einsum("besd,edf->besf", z, self.w1) + self.b1)  # (B, E, S, d)
        logits = torch.einsum("besd,ed->bes", self.dropout(z), self.w2) + self.b2  # (B, E, S)
        if event_mask is not None:
            logits = logits * event_mask[..., None].to(logits.dtype)
        if mask is not None:
            logits = logits.masked_fill(~mask[:, None, :], NEG)
        return logits

    def _masked_heads(self, h: Tensor, event_mask: Tensor, mask: Tensor | None) -> Tensor:
        """`forward` at inference, computing only the N heads `event_mask` keeps (a few of the 16 per
        window when it holds the reported events): the same logits, zero (flat) elsewhere."""
        B, S, D = h.shape
        nh, dh, d = self.nh, self.d // self.nh, self.d
        b, e = torch.nonzero(event_mask, as_tuple=True)  # (N,) each
        N = len(b)
        w_proj = self.proj.weight.view(self.E, d, D)[e]  # (N, d, D)
        z = torch.baddbmm(self.proj.bias.view(self.E, 1, d)[e], h[b], w_proj.transpose(1, 2))
        k, v = torch.bmm(z, self.kv[e]).chunk(2, dim=-1)  # 2 x (N, S, d)
        scores = torch.einsum("nshk,nhk->nsh", k.reshape(N, S, nh, dh), self.query[e])
        scores = scores / math.sqrt(dh)  # (N, S, nh)
        if mask is not None:
            scores = scores.masked_fill(~mask[b][:, :, None], NEG)
        w = scores.softmax(dim=1)  # attention over time, per head
        ctx = torch.einsum("nsh,nshk->nhk", w, v.reshape(N, S, nh, dh)).reshape(N, 1, d)
        z = z + torch.bmm(ctx, self.out[e])  # (N, S, d)
        z = F.relu(torch.baddbmm(self.b1[e], z, self.w1[e]))  # (N, S, d)
        picked = torch.baddbmm(self.b2[e][:, :, None], z, self.w2[e][:, :, None])  # (N, S, 1)
        logits = h.new_zeros(B, self.E, S)
        logits[b, e] = picked[..., 0]
        if mask is not None:
            logits = logits.masked_fill(~mask[:, None, :], NEG)
        return logits


class EventSpecificClassifier(EventModel):
    """Templates + per-event CNN + input -> BiLSTM -> event head and per-event timing heads.

    Template scores are max-pooled and CNN features averaged down to the LSTM rate; the per-event CNN
    features are reduced by a per-event 1x1 convolution to `cnn_out_per_event` channels each.

    Fast inference (eval mode under no_grad: evaluation, streaming detection): the template
    correlation and the per-event convolutions run by FFT, and with a `threshold` only the timing
    heads of the reported event types are computed. `fast_inference = False` computes as training
    does (direct convolutions, every head): the reference the fast path is tested against (same
    events; probabilities within ~1e-6).
    """

    fast_inference: bool = True

    def __init__(
        self,
        input_size: int = 6,
        hidden_size: int = 128,
        num_layers: int = 2,
        num_events: int = 16,
        dropout: float = 0.3,
        template_length: int = 80,
        bidirectional: bool = True,
        timing_resolution_samples: int = 10,
        refractory_period_samples: int = 4000,
        downsample: int = 1,
        frontend_channels: int = 64,
        remove_window_mean: bool = False,
        max_delay_samples: float = 10.0,
        cnn_channels: int = 32,
        cnn_out_per_event: int = 4,
        timing_head_dim: int = 32,
        timing_head_heads: int = 4,
        event_pooling: str = "mean",
        event_prior: float | None = None,
    ) -> None:
        super().__init__()
        E = num_events
        self.num_events = E
        self.event_pooling = event_pooling
        self.timing_resolution_samples = timing_resolution_samples
        self.refractory_period_samples = refractory_period_samples
        self.template_bank = EventTemplateBank(E, input_size, template_length, max_delay_samples)
        # cnn_channels = 0: no per-event CNN, the LSTM sees the front end and the template scores
        self.event_cnn = (
            EventSpecificCNN(E, input_size, cnn_channels, use_shared=True) if cnn_channels else None
        )
        self.cnn_reduce = (
            nn.Conv1d(E * cnn_channels, E * cnn_out_per_event, 1, groups=E)
            if cnn_channels
            else None
        )
        extra = E + (E * cnn_out_per_event + cnn_channels if cnn_channels else 0)
        self.encoder = SequenceEncoder(
            input_size,
            hidden_size,
            num_layers,
            dropout,
            bidirectional,
            downsample,
            frontend_channels,
            remove_window_mean,
            extra_features=extra,
        )
        D = self.encoder.output_size
        self.event_head = mlp_head(D, hidden_size, E, dropout)
        init_prior_bias(self.event_head[-1], event_prior)
        self.timing_heads = EventSpecificTimingHeads(
            E, D, timing_head_dim, timing_head_heads, dropout
        )

    def forward(
        self,
        x: Tensor,
        lengths: Tensor | None = None,
        event_mask: Tensor | None = None,
        threshold: float | None = None,
    ) -> dict[str, Tensor]:
        """`event_mask` (B, E) masks the timing heads to those event types (training passes the true
        ones). At fast inference without it, `threshold` masks them to the types whose probability
        reaches it (what detection reports) and the other heads are not computed."""
        x = self._prepare(x, lengths)  # (B, T, C)
        B, T, _ = x.shape
        ds = self.encoder.downsample
        S = n_steps(T, ds)
        fast = self.fast_inference and not self.training and inference_only()
        scores = self.template_bank(x, fast)  # (B, T, E)
        pad = S * ds - T
        scores_t = scores.transpose(1, 2)  # (B, E, T)
        if pad:  # (F.pad copies even when it adds nothing)
            scores_t = F.pad(scores_t, (0, pad), value=-1.0)
        pooled_scores = F.max_pool1d(scores_t, ds)  # (B, E, S)
        parts = [pooled_scores]
        if self.event_cnn is not None:
            parts += self._cnn_features(x, fast, S)
        extra = torch.cat(parts, dim=1)  # (B, X, S)
        h = self.encoder(x, lengths, extra.transpose(1, 2), fast)  # (B, S, D)
        mask = step_mask(self.encoder.step_lengths(lengths), S, B, x.device)
        event_logits = pool_events(self.event_head, h, mask, self.event_pooling)  # (B, E)
        event_probs = torch.sigmoid(event_logits)
        # training passes the true presence (masked to present events); inference reads timings only
        # of events it reports: unmasked (any decision threshold works), or masked at `threshold`
        if event_mask is None and threshold is not None and fast:
            event_mask = event_probs >= threshold
        timing_logits = self.timing_heads(h, event_mask, mask)  # (B, E, S)
        return {
            "event_logits": event_logits,
            "event_probs": event_probs,
            "timing_logits": timing_logits,
            "timing_probs": timing_logits.softmax(-1),
            "template_scores": scores,
            "hidden_states": h,
            "step_mask": mask,
            "bin_samples": torch.tensor(ds),
        }

    def _cnn_features(self, x: Tensor, fast: bool, S: int) -> list[Tensor]:
        """Per-event CNN features at the LSTM rate: the reduced event features (B, E * k, S) and
        the shared pathway's (B, K, S)."""
        assert self.event_cnn is not None and self.cnn_reduce is not None
        T, ds = x.shape[1], self.encoder.downsample
        pad = S * ds - T
        feats = self.event_cnn.features(x, fast)  # (B, E * K + K, T)
        if pad:
            feats = F.pad(feats, (0, pad))
        pooled = F.avg_pool1d(feats, ds)  # (B, E * K + K, S)
        EK = self.event_cnn.num_events * self.event_cnn.channels
        # the 1x1 reduction is linear, so it commutes with the average: applied to S steps instead
        # of T samples. Zero padding pooled before it would count its bias in the last bin at the
        # valid fraction only: that share is taken off again.
        ev = self.cnn_reduce(pooled[:, :EK])  # (B, E * k, S)
        if pad:
            last = torch.arange(S, device=ev.device) == S - 1  # (S,)
            ev = ev - (pad / ds) * self.cnn_reduce.bias[:, None] * last
        return [ev, pooled[:, EK:]]
