"""The LSTM event classifier of event-lstm, and the package's model names in one place.

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
  closer than the refractory period but farther apart than the timing tolerance (Eq. R, `losses.refractory_penalty`).

Shapes: B batch, T samples, C channels, E event types, S LSTM steps (= ceil(T / downsample)),
D LSTM output size, F front-end channels, K per-event CNN channels, L template length.

The modules: `backbone` (front end, sequence encoder, shared classifier base), this file (the LSTM
classifier), `event_specific`, `pretraining`, `augment` and `losses`; every public name is also
imported here, so `from event_lstm.model import EventTimingLoss` keeps working.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from event_lstm.augment import TemporalAugmentation
from event_lstm.backbone import (
    NEG,
    EventModel,
    Frontend,
    SequenceEncoder,
    bin_centers,
    masked_mean,
    mlp_head,
    n_steps,
    onsets_from_timing,
    pool_events,
    refractory_keep,
    step_mask,
)
from event_lstm.event_specific import (
    EventSpecificClassifier,
    EventSpecificCNN,
    EventSpecificTimingHeads,
    EventTemplateBank,
    fractional_shift,
)
from event_lstm.losses import (
    EventSpecificLoss,
    EventTimingLoss,
    autoencoder_loss,
    gaussian_timing_target,
    nt_xent_loss,
    refractory_penalty,
    vae_loss,
)
from event_lstm.pretraining import (
    ContrastiveLSTM,
    LSTMAutoencoder,
    VariationalLSTMAutoencoder,
    transfer_encoder_to_classifier,
)

__all__ = [
    "ContrastiveLSTM",
    "EventModel",
    "EventSpecificCNN",
    "EventSpecificClassifier",
    "EventSpecificLoss",
    "EventSpecificTimingHeads",
    "EventTemplateBank",
    "EventTimingLoss",
    "Frontend",
    "LSTMAutoencoder",
    "LSTMEventClassifier",
    "SequenceEncoder",
    "TemporalAugmentation",
    "VariationalLSTMAutoencoder",
    "autoencoder_loss",
    "bin_centers",
    "fractional_shift",
    "gaussian_timing_target",
    "masked_mean",
    "mlp_head",
    "n_steps",
    "nt_xent_loss",
    "onsets_from_timing",
    "pool_events",
    "refractory_keep",
    "refractory_penalty",
    "step_mask",
    "transfer_encoder_to_classifier",
    "vae_loss",
]


class LSTMEventClassifier(EventModel):
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
        self.event_head = mlp_head(D, hidden_size, num_events, dropout)
        self.timing_head = mlp_head(D, hidden_size, num_events, dropout)

    def forward(
        self, x: Tensor, lengths: Tensor | None = None, threshold: float | None = None
    ) -> dict[str, Tensor]:
        """`threshold` is accepted as the event-specific model's is (`window_scores` passes it); one
        timing head serves every event type here, so there is nothing to skip."""
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
