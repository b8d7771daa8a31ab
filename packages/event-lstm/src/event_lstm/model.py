"""Every nn.Module of event-lstm: the LSTM event classifier, the event-specific classifier and the
pre-training models, plus the losses.

Seed system: gfr10598/lstm ("LSTM Event Classifier for Timing Prediction"): a BiLSTM with self-attention
that says which of 16 event types occur in a window of 6-channel 2 kHz data and when (softmax over time per
event type), with autoencoder / VAE / contrastive pre-training and an event-specific variant built from
learnable templates with per-channel onset delays. Where we differ on purpose:

- A strided convolutional front end (`downsample`, default 10 = one LSTM step per 5 ms timing bin) runs the
  LSTM at 200 Hz instead of 2 kHz; the timing target is the Gaussian's mass per bin and onsets are read out
  with a local soft-argmax, so sub-bin timing survives (`downsample=1` restores the original layout).
- Template onset delays are applied with a differentiable fractional shift (linear interpolation), so they
  learn; the original rolled the templates by a rounded delay, which has no gradient.
- The per-event CNN features are reduced per event and fed to the LSTM (the original computed and dropped
  them); `EventSpecificLoss` includes its refractory term.
- The refractory penalty is the probability that two draws from an event's timing distribution fall
  closer than the refractory period but farther apart than the timing tolerance (Eq. R below).

Shapes: B batch, T samples, C channels, E event types, S LSTM steps (= ceil(T / downsample)),
D LSTM output size, F front-end channels, K per-event CNN channels, L template length.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

NEG = -1e9  # logit for padded steps (finite, so KL terms stay finite)


# ------------------------------------------------------------------------------------------ helpers


def n_steps(n_samples: int, downsample: int) -> int:
    return -(-n_samples // downsample)


def step_mask(step_lengths: Tensor | None, n: int, batch: int, device: torch.device) -> Tensor:
    """(B, S) True where a step holds real data."""
    if step_lengths is None:
        return torch.ones(batch, n, dtype=torch.bool, device=device)
    return torch.arange(n, device=device)[None, :] < step_lengths[:, None]


def masked_mean(h: Tensor, mask: Tensor) -> Tensor:
    """Mean of (B, S, D) over valid steps -> (B, D)."""
    m = mask.unsqueeze(-1).to(h.dtype)
    return (h * m).sum(1) / m.sum(1).clamp_min(1.0)


def pool_events(event_head: nn.Module, h: Tensor, mask: Tensor, pooling: str) -> Tensor:
    """Event logits (B, E) from (B, S, D): the seed's MLP on the mean over steps, or ("max") the MLP
    on every step and the maximum over valid steps (multiple-instance pooling: a 40 ms event is a
    small part of a 500 ms window and mean pooling dilutes it)."""
    if pooling == "mean":
        return event_head(masked_mean(h, mask))
    per_step = event_head(h).masked_fill(~mask.unsqueeze(-1), NEG)  # (B, S, E)
    return per_step.max(dim=1).values


def bin_centers(n: int, downsample: int, device: torch.device | None = None) -> Tensor:
    """Sample position (in samples) of the centre of each of n bins of `downsample` samples."""
    return torch.arange(n, device=device, dtype=torch.float32) * downsample + (downsample - 1) / 2


def onsets_from_timing(
    timing_probs: Tensor, downsample: int, method: str = "expected", radius_bins: int = 2
) -> Tensor:
    """(B, E, S) timing distributions -> (B, E) onsets in samples (not rounded).

    `argmax` takes the centre of the most probable bin; `expected` the probability-weighted mean of the
    bin centres within `radius_bins` of it (a local soft-argmax: sub-bin precision, immune to stray mass
    far away).
    """
    S = timing_probs.shape[-1]
    centers = bin_centers(S, downsample, timing_probs.device)
    peak = timing_probs.argmax(-1)  # (B, E)
    if method == "argmax":
        return centers[peak]
    idx = torch.arange(S, device=timing_probs.device)
    near = (idx[None, None, :] - peak[..., None]).abs() <= radius_bins  # (B, E, S)
    w = timing_probs * near
    return (w * centers).sum(-1) / w.sum(-1).clamp_min(1e-12)


def refractory_keep(
    onsets: Tensor, types: Tensor, probs: Tensor, refractory_samples: float
) -> Tensor:
    """Greedy refractory filter over a list of detections: (N,) each -> (N,) bool keep.

    Detections are visited from the most to the least probable; one is kept unless a kept detection of
    the same type lies within `refractory_samples`. So the more probable of two conflicting events wins,
    whichever comes first (the original kept the earlier one).
    """
    keep = torch.zeros_like(onsets, dtype=torch.bool)
    for i in torch.argsort(probs, descending=True).tolist():
        same = keep & (types == types[i])
        if not bool(((onsets[same] - onsets[i]).abs() < refractory_samples).any()):
            keep[i] = True
    return keep


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


# --------------------------------------------------------------------------------------- backbone


class Frontend(nn.Module):
    """(B, T, C) -> (B, S, F): a 5 ms convolution at full rate, then a strided one down to fs/downsample."""

    def __init__(
        self, input_size: int, channels: int, downsample: int, remove_window_mean: bool
    ) -> None:
        super().__init__()
        self.downsample = downsample
        self.remove_window_mean = remove_window_mean
        self.conv = nn.Conv1d(input_size, channels, kernel_size=11, padding=5)
        self.down = (
            nn.Conv1d(channels, channels, kernel_size=downsample, stride=downsample)
            if downsample > 1
            else nn.Identity()
        )

    def center(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Remove each window's per-channel mean over its valid samples (slow drift), if configured."""
        if not self.remove_window_mean:
            return x
        mask = step_mask(lengths, x.shape[1], x.shape[0], x.device)
        return (x - masked_mean(x, mask).unsqueeze(1)) * mask.unsqueeze(-1)

    def forward(self, x: Tensor) -> Tensor:
        T = x.shape[1]
        h = x.transpose(1, 2)  # (B, C, T)
        pad = n_steps(T, self.downsample) * self.downsample - T
        if pad:
            h = F.pad(h, (0, pad))
        h = F.gelu(self.down(F.gelu(self.conv(h))))  # (B, F, S)
        return h.transpose(1, 2)  # (B, S, F)


class SequenceEncoder(nn.Module):
    """Front end + (packed) multi-layer LSTM: (B, T, C) -> (B, S, D); the part pre-training transfers."""

    def __init__(
        self,
        input_size: int = 6,
        hidden_size: int = 128,
        num_layers: int = 2,
        dropout: float = 0.3,
        bidirectional: bool = True,
        downsample: int = 1,
        frontend_channels: int = 64,
        remove_window_mean: bool = False,
        extra_features: int = 0,
    ) -> None:
        super().__init__()
        self.downsample = downsample
        self.frontend = Frontend(input_size, frontend_channels, downsample, remove_window_mean)
        self.lstm = nn.LSTM(
            frontend_channels + extra_features,
            hidden_size,
            num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
            bidirectional=bidirectional,
        )
        self.output_size = hidden_size * (2 if bidirectional else 1)

    def step_lengths(self, lengths: Tensor | None) -> Tensor | None:
        return None if lengths is None else (lengths + self.downsample - 1) // self.downsample

    def forward(
        self, x: Tensor, lengths: Tensor | None = None, extra: Tensor | None = None
    ) -> Tensor:
        h = self.frontend(x)  # (B, S, F)
        if extra is not None:
            h = torch.cat([h, extra], dim=-1)  # (B, S, F + X)
        steps = self.step_lengths(lengths)
        if steps is None or bool((steps == h.shape[1]).all()):
            out, _ = self.lstm(h)
            return out  # (B, S, D)
        packed = nn.utils.rnn.pack_padded_sequence(
            h, steps.cpu(), batch_first=True, enforce_sorted=False
        )
        out, _ = self.lstm(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=h.shape[1])
        return out  # (B, S, D)


class _EventModel(nn.Module):
    """What both classifiers share: windowed prediction, backbone freezing, embeddings."""

    encoder: SequenceEncoder
    timing_resolution_samples: int
    refractory_period_samples: int

    def _prepare(self, x: Tensor, lengths: Tensor | None) -> Tensor:
        return self.encoder.frontend.center(x, lengths)

    def freeze_backbone(self) -> None:
        for p in self.encoder.parameters():
            p.requires_grad_(False)

    def unfreeze_backbone(self) -> None:
        for p in self.encoder.parameters():
            p.requires_grad_(True)

    @torch.no_grad()
    def get_embeddings(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Mean-pooled sequence features (B, D) of the (attended) LSTM outputs."""
        out = self(x, lengths)
        mask = step_mask(
            self.encoder.step_lengths(lengths), out["hidden_states"].shape[1], x.shape[0], x.device
        )
        return masked_mean(out["hidden_states"], mask)

    @torch.no_grad()
    def predict_events(
        self,
        x: Tensor,
        lengths: Tensor | None = None,
        threshold: float = 0.5,
        timing: str = "expected",
        apply_refractory: bool = True,
        offsets: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """Events per window: `present` (B, E) bool, `onsets` (B, E) samples rounded to the timing
        resolution (NaN where absent), `probs` (B, E).

        With `offsets` (B,) = each window's first sample in one recording, the refractory filter runs over
        all windows of the batch in recording time (overlapping windows that saw the same event keep the
        more probable detection); without offsets each window is its own recording.
        """
        out = self(x, lengths)
        probs = out["event_probs"]
        present = probs >= threshold
        onsets = onsets_from_timing(out["timing_probs"], self.encoder.downsample, timing)
        res = self.timing_resolution_samples
        onsets = torch.round(onsets / res) * res
        if lengths is not None:
            onsets = torch.minimum(onsets, (lengths[:, None] - 1).to(onsets.dtype))
        onsets = onsets.clamp_min(0)
        if apply_refractory:
            start = (
                offsets
                if offsets is not None
                else torch.arange(x.shape[0], device=x.device)
                * (x.shape[1] + 2 * self.refractory_period_samples)
            )
            b, e = torch.nonzero(present, as_tuple=True)
            keep = refractory_keep(
                onsets[b, e] + start[b].to(onsets.dtype),
                e,
                probs[b, e],
                self.refractory_period_samples,
            )
            present = torch.zeros_like(present)
            present[b[keep], e[keep]] = True
        onsets = torch.where(present, onsets, torch.full_like(onsets, float("nan")))
        return {"present": present, "onsets": onsets, "probs": probs}


# ------------------------------------------------------------------------------ LSTM classifier


class LSTMEventClassifier(_EventModel):
    """BiLSTM -> 8-head self-attention -> event head (mean-pooled MLP) and timing head (per step)."""

    def __init__(
        self,
        input_size: int = 6,
        hidden_size: int = 128,
        num_layers: int = 2,
        num_events: int = 16,
        dropout: float = 0.3,
        bidirectional: bool = True,
        timing_resolution_samples: int = 10,
        refractory_period_samples: int = 4000,
        attention_heads: int = 8,
        downsample: int = 1,
        frontend_channels: int = 64,
        remove_window_mean: bool = False,
        event_pooling: str = "mean",
    ) -> None:
        super().__init__()
        self.num_events = num_events
        self.event_pooling = event_pooling
        self.timing_resolution_samples = timing_resolution_samples
        self.refractory_period_samples = refractory_period_samples
        self.encoder = SequenceEncoder(
            input_size,
            hidden_size,
            num_layers,
            dropout,
            bidirectional,
            downsample,
            frontend_channels,
            remove_window_mean,
        )
        D = self.encoder.output_size
        self.attention = nn.MultiheadAttention(
            D, attention_heads, dropout=dropout, batch_first=True
        )
        self.norm = nn.LayerNorm(D)
        self.event_head = nn.Sequential(
            nn.Linear(D, hidden_size),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_size, num_events),
        )
        self.timing_head = nn.Sequential(
            nn.Linear(D, hidden_size),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_size, num_events),
        )

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> dict[str, Tensor]:
        x = self._prepare(x, lengths)  # (B, T, C)
        h = self.encoder(x, lengths)  # (B, S, D)
        B, S, _ = h.shape
        mask = step_mask(self.encoder.step_lengths(lengths), S, B, x.device)  # (B, S)
        a, weights = self.attention(
            h, h, h, key_padding_mask=~mask, need_weights=True
        )  # (B, S, D), (B, S, S)
        h = self.norm(h + a)
        event_logits = pool_events(self.event_head, h, mask, self.event_pooling)  # (B, E)
        timing_logits = self.timing_head(h).transpose(1, 2)  # (B, E, S)
        timing_logits = timing_logits.masked_fill(~mask[:, None, :], NEG)
        return {
            "event_logits": event_logits,
            "event_probs": torch.sigmoid(event_logits),
            "timing_logits": timing_logits,
            "timing_probs": timing_logits.softmax(-1),
            "hidden_states": h,
            "attention_weights": weights,
            "step_mask": mask,
            "bin_samples": torch.tensor(self.encoder.downsample),
        }


# -------------------------------------------------------------------- event-specific architecture


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


class EventSpecificClassifier(_EventModel):
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
        self.event_head = nn.Sequential(
            nn.Linear(D, hidden_size), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden_size, E)
        )
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


# --------------------------------------------------------------------------------- pre-training


class LSTMAutoencoder(nn.Module):
    """BiLSTM encoder -> mean-pooled latent (64) -> LSTM decoder -> the (centred) window."""

    def __init__(
        self,
        input_size: int = 6,
        hidden_size: int = 128,
        num_layers: int = 2,
        latent_size: int = 64,
        dropout: float = 0.0,
        bidirectional: bool = True,
        downsample: int = 1,
        frontend_channels: int = 64,
        remove_window_mean: bool = False,
    ) -> None:
        super().__init__()
        self.input_size = input_size
        self.encoder = SequenceEncoder(
            input_size,
            hidden_size,
            num_layers,
            dropout,
            bidirectional,
            downsample,
            frontend_channels,
            remove_window_mean,
        )
        self.to_latent = nn.Linear(self.encoder.output_size, self.latent_outputs(latent_size))
        self.decoder = nn.LSTM(latent_size, hidden_size, num_layers, batch_first=True)
        self.output = nn.Linear(hidden_size, downsample * input_size)

    @staticmethod
    def latent_outputs(latent_size: int) -> int:
        return latent_size

    def pooled(self, x: Tensor, lengths: Tensor | None) -> Tensor:
        h = self.encoder(x, lengths)  # (B, S, D)
        mask = step_mask(self.encoder.step_lengths(lengths), h.shape[1], h.shape[0], x.device)
        return masked_mean(h, mask)  # (B, D)

    def decode(self, z: Tensor, n_samples: int) -> Tensor:
        """(B, Z) -> (B, T, C): the latent repeated over the S decoder steps."""
        S = n_steps(n_samples, self.encoder.downsample)
        h, _ = self.decoder(z.unsqueeze(1).expand(-1, S, -1))  # (B, S, H)
        return self.output(h).reshape(z.shape[0], -1, self.input_size)[:, :n_samples]  # (B, T, C)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> dict[str, Tensor]:
        target = self.encoder.frontend.center(x, lengths)
        z = self.to_latent(self.pooled(target, lengths))  # (B, Z)
        return {"reconstruction": self.decode(z, x.shape[1]), "latent": z, "target": target}

    def transfer_encoder_to_classifier(self, classifier: nn.Module) -> list[str]:
        return transfer_encoder_to_classifier(self, classifier)


class VariationalLSTMAutoencoder(LSTMAutoencoder):
    """The autoencoder with a Gaussian latent: mu, logvar, reparameterised sample."""

    @staticmethod
    def latent_outputs(latent_size: int) -> int:
        return 2 * latent_size

    @staticmethod
    def reparameterize(mu: Tensor, logvar: Tensor) -> Tensor:
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> dict[str, Tensor]:
        target = self.encoder.frontend.center(x, lengths)
        mu, logvar = self.to_latent(self.pooled(target, lengths)).chunk(2, dim=-1)  # 2 x (B, Z)
        logvar = logvar.clamp(-10, 10)
        z = self.reparameterize(mu, logvar) if self.training else mu
        return {
            "reconstruction": self.decode(z, x.shape[1]),
            "latent": z,
            "mu": mu,
            "logvar": logvar,
            "target": target,
        }


class ContrastiveLSTM(nn.Module):
    """BiLSTM encoder -> mean pool -> projection head (64), trained with NT-Xent (temperature 0.07)."""

    def __init__(
        self,
        input_size: int = 6,
        hidden_size: int = 128,
        num_layers: int = 2,
        projection_size: int = 64,
        temperature: float = 0.07,
        dropout: float = 0.0,
        bidirectional: bool = True,
        downsample: int = 1,
        frontend_channels: int = 64,
        remove_window_mean: bool = False,
    ) -> None:
        super().__init__()
        self.temperature = temperature
        self.encoder = SequenceEncoder(
            input_size,
            hidden_size,
            num_layers,
            dropout,
            bidirectional,
            downsample,
            frontend_channels,
            remove_window_mean,
        )
        D = self.encoder.output_size
        self.projection = nn.Sequential(nn.Linear(D, D), nn.ReLU(), nn.Linear(D, projection_size))

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        x = self.encoder.frontend.center(x, lengths)
        h = self.encoder(x, lengths)  # (B, S, D)
        mask = step_mask(self.encoder.step_lengths(lengths), h.shape[1], h.shape[0], x.device)
        return F.normalize(self.projection(masked_mean(h, mask)), dim=-1)  # (B, P)

    def transfer_encoder_to_classifier(self, classifier: nn.Module) -> list[str]:
        return transfer_encoder_to_classifier(self, classifier)


def transfer_encoder_to_classifier(pretrained: nn.Module, classifier: nn.Module) -> list[str]:
    """Copy the pre-trained front end and LSTM into `classifier.encoder`; returns the copied names.

    Tensors whose shapes differ are skipped (the event-specific model's first LSTM layer sees extra
    template and CNN features, so only its front end and upper LSTM layers transfer).
    """
    source = pretrained.encoder.state_dict()
    target = classifier.encoder.state_dict()
    copied = [k for k, v in source.items() if k in target and target[k].shape == v.shape]
    target.update({k: source[k] for k in copied})
    classifier.encoder.load_state_dict(target)
    return copied


class TemporalAugmentation:
    """Random views of a batch (B, T, C) for contrastive learning; every draw from `generator`."""

    def __init__(
        self,
        noise_std: float = 0.1,
        scale_range: tuple[float, float] = (0.8, 1.2),
        crop_fraction: float = 0.9,
        max_shift_samples: int = 100,
        generator: torch.Generator | None = None,
    ) -> None:
        self.noise_std, self.scale_range = noise_std, scale_range
        self.crop_fraction, self.max_shift = crop_fraction, max_shift_samples
        self.generator = generator

    def _rand(self, *shape: int, device: torch.device) -> Tensor:
        return torch.rand(*shape, generator=self.generator).to(device)

    def add_noise(self, x: Tensor) -> Tensor:
        return x + self.noise_std * torch.randn(x.shape, generator=self.generator).to(x.device)

    def scale(self, x: Tensor) -> Tensor:
        lo, hi = self.scale_range
        return x * (lo + (hi - lo) * self._rand(x.shape[0], 1, x.shape[2], device=x.device))

    def crop(self, x: Tensor) -> Tensor:
        """A random crop of crop_fraction * T samples, stretched back to T (linear interpolation)."""
        B, T, _ = x.shape
        n = max(2, int(round(self.crop_fraction * T)))
        start = (self._rand(B, device=x.device) * (T - n + 1)).long()  # (B,)
        grid = start[:, None] + torch.linspace(0, n - 1, T, device=x.device)[None, :]  # (B, T)
        lo = grid.floor().long().clamp(0, T - 1)
        hi = (lo + 1).clamp(max=T - 1)
        frac = (grid - lo).unsqueeze(-1)
        take = torch.gather
        return (1 - frac) * take(x, 1, lo[..., None].expand_as(x)) + frac * take(
            x, 1, hi[..., None].expand_as(x)
        )

    def shift(self, x: Tensor) -> Tensor:
        """Shift each window by up to +-max_shift samples, zero-filled."""
        B, T, _ = x.shape
        s = ((self._rand(B, device=x.device) * 2 - 1) * self.max_shift).round().long()  # (B,)
        src = torch.arange(T, device=x.device)[None, :] - s[:, None]  # (B, T)
        valid = ((src >= 0) & (src < T)).unsqueeze(-1)
        return torch.gather(x, 1, src.clamp(0, T - 1)[..., None].expand_as(x)) * valid

    def random_augment(self, x: Tensor) -> Tensor:
        """Each of shift, crop, scale, noise with probability 0.5 (noise always if none was drawn)."""
        ops = [self.shift, self.crop, self.scale, self.add_noise]
        chosen = [
            op for op, u in zip(ops, self._rand(len(ops), device=x.device).tolist()) if u < 0.5
        ]
        for op in chosen or [self.add_noise]:
            x = op(x)
        return x

    __call__ = random_augment


# ------------------------------------------------------------------------------------------ losses


def gaussian_timing_target(timings: Tensor, n: int, bin_samples: int, sigma: float) -> Tensor:
    """(B, E) onsets in samples -> (B, E, n): mass of N(onset, sigma^2) in each bin, normalised.

    Bin s covers samples [s * bin, (s + 1) * bin); with bin_samples = 1 this is a sampled Gaussian.
    """
    edges = torch.arange(n + 1, device=timings.device, dtype=torch.float32) * bin_samples - 0.5
    cdf = 0.5 * (
        1 + torch.erf((edges[None, None, :] - timings[..., None].float()) / (sigma * math.sqrt(2)))
    )
    mass = (cdf[..., 1:] - cdf[..., :-1]).clamp_min(0)  # (B, E, n)
    return mass / mass.sum(-1, keepdim=True).clamp_min(1e-12)


def refractory_penalty(
    timing_probs: Tensor, bin_samples: int, refractory_samples: int, tolerance_samples: int
) -> Tensor:
    """(B, E, S) -> (B, E): P(two draws t, t' from the timing distribution violate the refractory period).

    Eq. R: sum_{i,j} p_i p_j [tol < |i - j| * bin < refractory]. Zero for a distribution concentrated
    within the tolerance; it grows with mass spread over separate peaks (two onsets of one type).
    """
    S = timing_probs.shape[-1]

    def band(width_samples: int) -> Tensor:  # sum_j p_j over |i - j| <= w, via cumulative sums
        w = min(S, int(width_samples // bin_samples))
        c = F.pad(timing_probs.cumsum(-1), (1, 0))
        idx = torch.arange(S, device=timing_probs.device)
        hi, lo = (idx + w + 1).clamp(max=S), (idx - w).clamp(min=0)
        return c[..., hi] - c[..., lo]

    near = band(tolerance_samples)
    within = band(refractory_samples - 1)
    return (timing_probs * (within - near)).sum(-1).clamp_min(0)


def _masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    m = mask.to(values.dtype)
    return (values * m).sum() / m.sum().clamp_min(1.0)


class EventTimingLoss(nn.Module):
    """BCE on presence + KL(Gaussian target || timing distribution) for present events + refractory term."""

    def __init__(
        self,
        event_weight: float = 1.0,
        timing_weight: float = 1.0,
        refractory_weight: float = 0.1,
        timing_sigma_samples: float = 5.0,
        refractory_period_samples: int = 4000,
        tolerance_samples: int = 20,
    ) -> None:
        super().__init__()
        self.event_weight, self.timing_weight = event_weight, timing_weight
        self.refractory_weight = refractory_weight
        self.sigma, self.refractory, self.tolerance = (
            timing_sigma_samples,
            refractory_period_samples,
            tolerance_samples,
        )

    def parts(self, out: dict[str, Tensor], labels: Tensor, timings: Tensor) -> dict[str, Tensor]:
        present = labels > 0.5  # (B, E)
        bin_samples = int(out["bin_samples"])
        event = F.binary_cross_entropy_with_logits(out["event_logits"], labels.float())
        S = out["timing_logits"].shape[-1]
        target = gaussian_timing_target(
            timings.clamp_min(0), S, bin_samples, self.sigma
        )  # (B, E, S)
        log_p = out["timing_logits"].log_softmax(-1)
        kl = F.kl_div(log_p, target, reduction="none").sum(-1)  # (B, E)
        refr = refractory_penalty(out["timing_probs"], bin_samples, self.refractory, self.tolerance)
        return {
            "event": event,
            "timing": _masked_mean(kl, present),
            "refractory": _masked_mean(refr, present),
        }

    def forward(self, out: dict[str, Tensor], labels: Tensor, timings: Tensor) -> dict[str, Tensor]:
        p = self.parts(out, labels, timings)
        p["loss"] = (
            self.event_weight * p["event"]
            + self.timing_weight * p["timing"]
            + self.refractory_weight * p["refractory"]
        )
        return p


class EventSpecificLoss(EventTimingLoss):
    """EventTimingLoss + template alignment (MSE of template scores to a sigma-10 Gaussian at the onset,
    zero for absent events); all four weights count."""

    def __init__(
        self,
        event_weight: float = 1.0,
        timing_weight: float = 1.0,
        template_weight: float = 0.5,
        refractory_weight: float = 0.1,
        timing_sigma_samples: float = 5.0,
        template_sigma_samples: float = 10.0,
        refractory_period_samples: int = 4000,
        tolerance_samples: int = 20,
    ) -> None:
        super().__init__(
            event_weight,
            timing_weight,
            refractory_weight,
            timing_sigma_samples,
            refractory_period_samples,
            tolerance_samples,
        )
        self.template_weight, self.template_sigma = template_weight, template_sigma_samples

    def forward(self, out: dict[str, Tensor], labels: Tensor, timings: Tensor) -> dict[str, Tensor]:
        p = self.parts(out, labels, timings)
        scores = out["template_scores"]  # (B, T, E)
        t = torch.arange(scores.shape[1], device=scores.device, dtype=torch.float32)
        bump = torch.exp(
            -0.5 * ((t[None, None, :] - timings[..., None].float()) / self.template_sigma) ** 2
        )
        target = bump * (labels > 0.5)[..., None]  # (B, E, T)
        p["template"] = F.mse_loss(scores.transpose(1, 2), target)
        p["loss"] = (
            self.event_weight * p["event"]
            + self.timing_weight * p["timing"]
            + self.template_weight * p["template"]
            + self.refractory_weight * p["refractory"]
        )
        return p


def autoencoder_loss(out: dict[str, Tensor], mask: Tensor | None = None) -> dict[str, Tensor]:
    """Mean squared reconstruction error over valid samples; mask (B, T)."""
    err = (out["reconstruction"] - out["target"]).pow(2).mean(-1)  # (B, T)
    recon = err.mean() if mask is None else _masked_mean(err, mask)
    return {"loss": recon, "recon": recon}


def vae_loss(
    out: dict[str, Tensor], kl_weight: float = 1.0, mask: Tensor | None = None
) -> dict[str, Tensor]:
    """recon + kl_weight * KL(q(z|x) || N(0, I)), the KL summed over latent dims, averaged over windows."""
    recon = autoencoder_loss(out, mask)["recon"]
    mu, logvar = out["mu"], out["logvar"]
    kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(-1)).mean()
    return {"loss": recon + kl_weight * kl, "recon": recon, "kl": kl}


def nt_xent_loss(z1: Tensor, z2: Tensor, temperature: float = 0.07) -> Tensor:
    """NT-Xent (SimCLR): each view must pick its partner among the 2B - 1 others; z rows unit-norm."""
    B = z1.shape[0]
    z = torch.cat([z1, z2], dim=0)  # (2B, P)
    sim = z @ z.t() / temperature  # (2B, 2B)
    sim = sim.masked_fill(torch.eye(2 * B, dtype=torch.bool, device=z.device), float("-inf"))
    target = torch.cat([torch.arange(B, 2 * B), torch.arange(0, B)]).to(z.device)
    return F.cross_entropy(sim, target)
