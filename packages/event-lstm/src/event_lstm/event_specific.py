"""The event-specific classifier of gfr10598/lstm: one learnable template per event type with per-channel
onset delays, a small CNN per event, and one attention timing head per event.

Where we differ on purpose: template onset delays are applied with a differentiable fractional shift
(linear interpolation), so they learn; the original rolled the templates by a rounded delay, which has no
gradient. The per-event CNN features are reduced per event and fed to the LSTM (the original computed and
dropped them).

Shapes: B batch, T samples, C channels, E event types, S LSTM steps, D LSTM output size,
K per-event CNN channels, L template length.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from event_lstm.backbone import (
    NEG,
    EventModel,
    SequenceEncoder,
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

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, C) -> (B, T, E) in [-1, 1]: score[t] compares the template with x[t : t + L]."""
        w = self.shifted_templates()  # (E, C, L)
        L = w.shape[-1]
        xt = F.pad(x.transpose(1, 2), (0, L - 1))  # (B, C, T + L - 1)
        num = F.conv1d(xt, w)  # (B, E, T)
        energy = F.conv1d(
            xt.pow(2).sum(1, keepdim=True), torch.ones(1, 1, L, device=x.device)
        )  # (B, 1, T)
        norm = energy.clamp_min(1e-8).sqrt() * w.flatten(1).norm(dim=1)[None, :, None]
        return (num / (norm + 1e-6)).transpose(1, 2)  # (B, T, E)


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
        xt = x.transpose(1, 2)  # (B, C, T)
        ev = self.event_path(xt).view(B, self.num_events, self.channels, T).permute(0, 3, 1, 2)
        shared = self.shared_path(xt).transpose(1, 2) if self.shared_path is not None else None
        return ev, shared


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


class EventSpecificClassifier(EventModel):
    """Templates + per-event CNN + input -> BiLSTM -> event head and per-event timing heads.

    Template scores are max-pooled and CNN features averaged down to the LSTM rate; the per-event CNN
    features are reduced by a per-event 1x1 convolution to `cnn_out_per_event` channels each.
    """

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
    ) -> None:
        super().__init__()
        E = num_events
        self.num_events = E
        self.event_pooling = event_pooling
        self.timing_resolution_samples = timing_resolution_samples
        self.refractory_period_samples = refractory_period_samples
        self.template_bank = EventTemplateBank(E, input_size, template_length, max_delay_samples)
        self.event_cnn = EventSpecificCNN(E, input_size, cnn_channels, use_shared=True)
        self.cnn_reduce = nn.Conv1d(E * cnn_channels, E * cnn_out_per_event, 1, groups=E)
        extra = E + E * cnn_out_per_event + cnn_channels
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
        self.timing_heads = EventSpecificTimingHeads(
            E, D, timing_head_dim, timing_head_heads, dropout
        )

    def forward(
        self, x: Tensor, lengths: Tensor | None = None, event_mask: Tensor | None = None
    ) -> dict[str, Tensor]:
        x = self._prepare(x, lengths)  # (B, T, C)
        B, T, _ = x.shape
        ds = self.encoder.downsample
        S = n_steps(T, ds)
        scores = self.template_bank(x)  # (B, T, E)
        ev, shared = self.event_cnn(x)  # (B, T, E, K), (B, T, K)
        ev = self.cnn_reduce(ev.flatten(2).transpose(1, 2))  # (B, E * k, T)
        pad = S * ds - T
        pooled_scores = F.max_pool1d(
            F.pad(scores.transpose(1, 2), (0, pad), value=-1.0), ds
        )  # (B, E, S)
        feats = torch.cat([ev, shared.transpose(1, 2)], dim=1)  # (B, E * k + K, T)
        pooled_feats = F.avg_pool1d(F.pad(feats, (0, pad)), ds)  # (B, E * k + K, S)
        extra = torch.cat([pooled_scores, pooled_feats], dim=1).transpose(1, 2)  # (B, S, X)
        h = self.encoder(x, lengths, extra)  # (B, S, D)
        mask = step_mask(self.encoder.step_lengths(lengths), S, B, x.device)
        event_logits = pool_events(self.event_head, h, mask, self.event_pooling)  # (B, E)
        event_probs = torch.sigmoid(event_logits)
        # training passes the true presence (masked to present events); inference reads timings only
        # of events it reports, so it leaves every head unmasked (any decision threshold works)
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
