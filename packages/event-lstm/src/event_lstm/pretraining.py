"""Pre-training models of gfr10598/lstm: an LSTM autoencoder, its variational form (the original had no
working VAE trainer) and a contrastive (SimCLR-style) encoder, plus the copy of a pre-trained encoder
into a classifier.

Shapes: B batch, T samples, C channels, S LSTM steps, D LSTM output size, Z latent size, P projection size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from event_lstm.backbone import SequenceEncoder, n_steps


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
        return self.encoder.pooled(x, lengths)  # (B, D)

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
        return F.normalize(self.projection(self.encoder.pooled(x, lengths)), dim=-1)  # (B, P)

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
