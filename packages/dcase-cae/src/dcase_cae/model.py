"""The two autoencoders of the package: the seed's convolutional `CNNAutoEncoder` and the DCASE 2020
baseline's dense autoencoder.

Seed system: a 3-layer CNN autoencoder for DCASE 2020 Challenge Task 2 (unsupervised anomalous sound
detection), itself adapted from the convolutional autoencoder of the dl-kento blog (2018). Baseline: Koizumi
et al., "Description and Discussion on DCASE2020 Challenge Task2", arXiv:2006.05822, Sec. 3 (Keras dense AE).

Both models map a normal input to itself; the anomaly score of a clip is the mean squared reconstruction
error over its patches (CAE) or frame vectors (dense AE). Where we differ from the seed: the decoder's
`output_padding` is derived from the encoder's shapes, so any square patch of side >= 64 reconstructs
exactly (the seed hard-codes 64 and 128). Where we differ from the baseline: BatchNorm uses torch's
defaults (momentum 0.1, eps 1e-5) instead of Keras' (0.99 / 1e-3).

Shapes: B batch, F patch side (= n_mels), M mel bands, P frames per vector, z latent channels.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

# --------------------------------------------------------------------------------------------- blocks


def _conv_out(size: int, kernel: int, stride: int, pad: int = 0) -> int:
    return (size + pad - kernel) // stride + 1


def encoder_sizes(side: int) -> list[int]:
    """Spatial side after each encoder layer of `CNNAutoEncoder` (input first)."""
    sizes = [side]
    sizes.append(_conv_out(sizes[-1], 5, 2, pad=3))  # ZeroPad2d(1, 2, 1, 2) + k5 s2
    sizes.append(_conv_out(sizes[-1], 5, 2, pad=3))
    sizes.append(_conv_out(sizes[-1], 3, 2))
    sizes.append(_conv_out(sizes[-1], 3, 2))
    sizes.append(_conv_out(sizes[-1], 3, 1))
    return sizes


class Crop2d(nn.Module):
    """Undo a `ZeroPad2d(left, right, top, bottom)`: drop that many rows/columns at each edge."""

    def __init__(self, left: int, right: int, top: int, bottom: int) -> None:
        super().__init__()
        self.left, self.right, self.top, self.bottom = left, right, top, bottom

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        return x[..., self.top : h - self.bottom, self.left : w - self.right]


# ------------------------------------------------------------------------------------------------ CAE


class CNNAutoEncoder(nn.Module):
    """The seed's convolutional autoencoder on square log-mel patches scaled to [0, 1].

    Input and output (B, 1, F, F), F >= 64 (128 by default, ~1.03 M parameters with z_dim 40); the
    sigmoid output matches the [0, 1] input scaling `(X + 90) / 114`.
    """

    def __init__(self, side: int = 128, z_dim: int = 40) -> None:
        super().__init__()
        s = encoder_sizes(side)
        if s[-1] < 1:
            raise ValueError(f"CNNAutoEncoder needs patches of side >= 64, got {side}")
        self.side, self.z_dim = side, z_dim
        # a stride-2 transposed conv yields 2 * (n - 1) + k; pad by one where the encoder rounded down
        op3 = s[2] - (2 * (s[3] - 1) + 3)
        op2 = s[1] - (2 * (s[2] - 1) + 5 - 3)
        op1 = s[0] - (2 * (s[1] - 1) + 5 - 3)
        self.encoder = nn.Sequential(
            nn.ZeroPad2d((1, 2, 1, 2)),
            nn.Conv2d(1, 32, 5, stride=2),
            nn.ReLU(),  # (B, 32, F/2, F/2)
            nn.ZeroPad2d((1, 2, 1, 2)),
            nn.Conv2d(32, 64, 5, stride=2),
            nn.ReLU(),
            nn.Dropout(0.2),  # (B, 64, F/4, F/4)
            nn.Conv2d(64, 128, 3, stride=2),
            nn.ReLU(),
            nn.Dropout(0.3),  # (B, 128, s3, s3)
            nn.Conv2d(128, 256, 3, stride=2),
            nn.ReLU(),
            nn.Dropout(0.3),  # (B, 256, s4, s4)
            nn.Conv2d(256, z_dim, 3),  # (B, z, s5, s5): 5 x 5 for F = 128
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(z_dim, 256, 3),
            nn.ReLU(),
            nn.Dropout(0.3),  # (B, 256, s4, s4)
            nn.ConvTranspose2d(256, 128, 3, stride=2),
            nn.ReLU(),
            nn.Dropout(0.3),  # (B, 128, s3, s3)
            nn.ConvTranspose2d(128, 64, 3, stride=2, output_padding=op3),
            nn.ReLU(),
            nn.Dropout(0.2),  # (B, 64, F/4, F/4)
            nn.ConvTranspose2d(64, 32, 5, stride=2, output_padding=op2),
            nn.ReLU(),
            Crop2d(1, 2, 1, 2),  # (B, 32, F/2, F/2)
            nn.ConvTranspose2d(32, 1, 5, stride=2, output_padding=op1),
            Crop2d(1, 2, 1, 2),  # (B, 1, F, F)
            nn.Sigmoid(),
        )

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x)  # (B, z, s5, s5)

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.encoder(x))  # (B, 1, F, F)


# ------------------------------------------------------------------------------------------- dense AE


def _dense_block(n_in: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out), nn.ReLU())


class DenseAE(nn.Module):
    """The DCASE 2020 Task 2 baseline: M * P -> 128 x4 -> 8 -> 128 x4 -> M * P.

    Input (B, M * P) consecutive log-mel frames (640 for 128 mels x 5 frames, frame-major), in dB;
    every hidden layer is Linear + BatchNorm + ReLU, the output layer is linear.
    """

    def __init__(
        self,
        input_dim: int = 640,
        hidden_dim: int = 128,
        bottleneck_dim: int = 8,
        n_hidden: int = 4,
    ) -> None:
        super().__init__()
        self.input_dim = input_dim
        enc = [
            _dense_block(input_dim if i == 0 else hidden_dim, hidden_dim) for i in range(n_hidden)
        ]
        dec = [
            _dense_block(bottleneck_dim if i == 0 else hidden_dim, hidden_dim)
            for i in range(n_hidden)
        ]
        self.encoder = nn.Sequential(*enc, _dense_block(hidden_dim, bottleneck_dim))  # (B, 8)
        self.decoder = nn.Sequential(*dec, nn.Linear(hidden_dim, input_dim))  # (B, M * P)

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.encoder(x))


# ------------------------------------------------------------------------------------------ scoring


def reconstruction_error(model: nn.Module, x: Tensor) -> Tensor:
    """Per-sample mean squared error, (B,): the anomaly score of one patch or frame vector."""
    x_hat = model(x)
    return ((x_hat - x) ** 2).flatten(1).mean(dim=1)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = [
    "CNNAutoEncoder",
    "Crop2d",
    "DenseAE",
    "count_parameters",
    "encoder_sizes",
    "reconstruction_error",
]


if __name__ == "__main__":  # pragma: no cover - quick shape check
    for side in (64, 128):
        m = CNNAutoEncoder(side)
        print(side, m(torch.zeros(2, 1, side, side)).shape, count_parameters(m))
