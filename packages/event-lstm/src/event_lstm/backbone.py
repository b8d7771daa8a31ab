"""The parts every event-lstm model shares: the strided front end, the (Bi)LSTM sequence encoder, the
base class of the two classifiers (freezing, embeddings, event read-out) and the step/mask helpers.

Shapes: B batch, T samples, C channels, E event types, S LSTM steps (= ceil(T / downsample)),
D LSTM output size, F front-end channels.
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


def window_onsets(
    timing_probs: Tensor,
    downsample: int,
    resolution: int,
    timing: str = "expected",
    lengths: Tensor | None = None,
) -> Tensor:
    """(B, E, S) timing distributions -> (B, E) onsets in samples, rounded to `resolution` samples and
    kept inside each window's valid samples (`lengths` (B,), None = the whole window)."""
    onsets = onsets_from_timing(timing_probs, downsample, timing)
    onsets = torch.round(onsets / resolution) * resolution
    if lengths is not None:
        onsets = torch.minimum(onsets, (lengths[:, None] - 1).to(onsets.dtype))
    return onsets.clamp_min(0)


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


# --------------------------------------------------------------------------------------- backbone


def mlp_head(d_in: int, hidden: int, d_out: int, dropout: float) -> nn.Sequential:
    """The classifiers' 2-layer head, applied per step or to a pooled vector: (..., d_in) -> (..., d_out).

    One definition for the event heads of both classifiers and the LSTM's timing head; its layer
    indices (0 and 3) are the state_dict keys every stored checkpoint holds.
    """
    return nn.Sequential(
        nn.Linear(d_in, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, d_out)
    )


def init_prior_bias(layer: nn.Linear, prior: float | None) -> None:
    """Set a presence layer's output bias to the log-odds of the event prior (None: keep PyTorch's).

    Why: at PyTorch's default the head starts near probability 0.5 for events present in ~9 % of
    windows, and the first steps spend themselves learning that base rate; from some seeds the
    presence head then never recovered. Starting at log(p / (1 - p)) puts a head whose weights
    contribute nothing at exactly the prior (the prior initialisation of Lin et al. 2017, "Focal Loss
    for Dense Object Detection", section 3.3). Loading stored weights overwrites it, so it changes only new models.
    """
    if prior is None:
        return
    if not 0 < prior < 1:
        raise ValueError(f"event prior must be in (0, 1), got {prior}")
    nn.init.constant_(layer.bias, math.log(prior / (1 - prior)))


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
        if lengths is None:  # every sample valid: no mask to apply
            return x - x.mean(1, keepdim=True)
        mask = step_mask(lengths, x.shape[1], x.shape[0], x.device)
        return (x - masked_mean(x, mask).unsqueeze(1)) * mask.unsqueeze(-1)

    def forward(self, x: Tensor, fast: bool = False) -> Tensor:
        """(B, T, C) -> (B, S, F). `fast` (inference only) computes both convolutions as matrix
        products (`conv_as_matmul`, `strided_conv_as_matmul`): the same outputs to float rounding."""
        T = x.shape[1]
        pad = n_steps(T, self.downsample) * self.downsample - T
        if fast:
            h = F.gelu(
                conv_as_matmul(F.pad(x, (0, 0, 0, pad)) if pad else x, self.conv)
            )  # (B, T, F)
            if isinstance(self.down, nn.Conv1d):
                h = strided_conv_as_matmul(h, self.down)  # (B, S, F)
            return F.gelu(h)
        h = x.transpose(1, 2)  # (B, C, T)
        if pad:
            h = F.pad(h, (0, pad))
        h = F.gelu(self.down(F.gelu(self.conv(h))))  # (B, F, S)
        return h.transpose(1, 2)  # (B, S, F)


def conv_as_matmul(x: Tensor, conv: nn.Conv1d) -> Tensor:
    """A stride-1 conv1d on channels-last input, (B, T, C) -> (B, T, O), as one matrix product of
    the unfolded input (B, T, C * k) with the flattened kernel (im2col).

    Why: with 6 input channels the library's direct convolution runs at a fraction of the matrix
    product's speed (0.32 against 0.18 CPU-ms per 1000-sample window for the front end's k11 layer
    on one thread). Zero padding as `conv.padding` (an int, symmetric) says.
    """
    k, p = conv.kernel_size[0], int(conv.padding[0])  # type: ignore[arg-type]
    B, T, C = x.shape
    cols = F.pad(x, (0, 0, p, p)).unfold(1, k, 1)  # (B, T + 2p - k + 1, C, k)
    cols = cols.reshape(B, -1, C * k)  # (B, T', C * k), C-major as the weight's (O, C, k)
    return torch.addmm(conv.bias, cols.flatten(0, 1), conv.weight.flatten(1).t()).view(
        B, -1, len(conv.weight)
    )


def strided_conv_as_matmul(h: Tensor, conv: nn.Conv1d) -> Tensor:
    """conv1d with kernel = stride = d on channels-last input, (B, S * d, F) -> (B, S, O): each output
    step sees d consecutive samples, a free view (B, S, d * F), so one matrix product does it."""
    B, T, Fc = h.shape
    d = conv.kernel_size[0]
    w = conv.weight.permute(0, 2, 1).reshape(len(conv.weight), d * Fc)  # (O, d * F), d-major
    return torch.addmm(conv.bias, h.reshape(B * (T // d), d * Fc), w.t()).view(B, T // d, -1)


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

    def pooled(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """(B, T, C) -> (B, D): the LSTM outputs averaged over each window's valid steps (the
        window vector the pre-training objectives work on)."""
        h = self(x, lengths)  # (B, S, D)
        mask = step_mask(self.step_lengths(lengths), h.shape[1], h.shape[0], x.device)
        return masked_mean(h, mask)

    def forward(
        self,
        x: Tensor,
        lengths: Tensor | None = None,
        extra: Tensor | None = None,
        fast: bool = False,
    ) -> Tensor:
        h = self.frontend(x, fast)  # (B, S, F)
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


class EventModel(nn.Module):
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

    def window_scores(
        self,
        x: Tensor,
        lengths: Tensor | None = None,
        timing: str = "expected",
        threshold: float | None = None,
    ) -> tuple[Tensor, Tensor]:
        """(B, T, C) windows -> event probabilities (B, E) and onsets (B, E) in samples, rounded to the
        timing resolution: all that detection reads from the network (`WindowScores` exports it).

        With `threshold`, onsets are read only where the probability reaches it (elsewhere they come
        from a flat timing distribution and mean nothing), so a model may skip those timing heads.
        """
        out = self(x, lengths, threshold=threshold)
        onsets = window_onsets(
            out["timing_probs"],
            self.encoder.downsample,
            self.timing_resolution_samples,
            timing,
            lengths,
        )
        return out["event_probs"], onsets

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
        probs, onsets = self.window_scores(x, lengths, timing, threshold)  # (B, E), (B, E)
        present = probs >= threshold
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


class WindowScores(nn.Module):
    """A classifier's inference path as a plain-tensor module, for export: (B, T, C) float32 windows ->
    (event probabilities (B, E), onsets (B, E) in samples). Streaming detection and `classify` read
    exactly these two tensors, so a runtime that reproduces them reproduces the detected events."""

    def __init__(self, model: EventModel, timing: str = "expected") -> None:
        super().__init__()
        self.model = model.eval()
        self.timing = timing

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.model.window_scores(x, None, self.timing)
