"""The models of the package: the seed's convolutional `CNNAutoEncoder`, the DCASE 2020 baseline's dense
autoencoder, and `AttributeEmbedder`, the attribute-classification embedding of the DCASE 2022-2024
top systems.

Seed system: a 3-layer CNN autoencoder for DCASE 2020 Challenge Task 2 (unsupervised anomalous sound
detection), itself adapted from the convolutional autoencoder of the dl-kento blog (2018). Baseline: Koizumi
et al., "Description and Discussion on DCASE2020 Challenge Task2", arXiv:2006.05822, Sec. 3 (Keras dense AE).

Both models map a normal input to itself; the anomaly score of a clip is the mean squared reconstruction
error over its patches (CAE) or frame vectors (dense AE). Where we differ from the seed: the decoder's
`output_padding` is derived from the encoder's shapes, so any square patch of side >= 64 reconstructs
exactly (the seed hard-codes 64 and 128). Where we differ from the baseline: BatchNorm uses torch's
defaults (momentum 0.1, eps 1e-5) instead of Keras' (0.99 / 1e-3).

Shapes: B batch, F patch side (= n_mels), M mel bands, P frames per vector, z latent channels, T frames
per crop, D embedding size, C classes, K sub-clusters per class.
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


# ---------------------------------------------------------------------------------- embedding model


class SubclusterArcMargin(nn.Module):
    """Additive angular margin softmax head (ArcFace, Deng et al., CVPR 2019, Eq. 3) with `K`
    sub-cluster centres per class as in sub-cluster AdaCos (Wilkinghoff, IJCNN 2021).

    logits (B, C) = s * cos(theta_c), where cos(theta_c) is the largest cosine between the embedding
    and the K centres of class c, and the true class's angle is widened by the margin m before the
    scale. K = 1 is plain ArcFace. We keep a fixed scale s instead of AdaCos's adaptive one: with a few
    dozen classes the adaptive scale settles near a constant anyway, and a fixed one is easier to read.
    """

    def __init__(
        self,
        dim: int,
        n_classes: int,
        n_subclusters: int = 1,
        scale: float = 16.0,
        margin: float = 0.2,
    ) -> None:
        super().__init__()
        self.n_classes, self.n_subclusters = n_classes, n_subclusters
        self.scale, self.margin = scale, margin
        self.centres = nn.Parameter(torch.randn(n_classes * n_subclusters, dim) / dim**0.5)

    def cosines(self, z: Tensor) -> Tensor:
        cos = nn.functional.normalize(z, dim=1) @ nn.functional.normalize(self.centres, dim=1).T
        return cos.view(z.shape[0], self.n_classes, self.n_subclusters).amax(dim=2)  # (B, C)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        cos = self.cosines(z)  # (B, C)
        if labels is not None and self.margin > 0:
            theta = torch.acos(cos.clamp(-1 + 1e-6, 1 - 1e-6))
            target = torch.cos(theta + self.margin)
            one_hot = nn.functional.one_hot(labels, self.n_classes).bool()
            cos = torch.where(one_hot, target, cos)
        return self.scale * cos  # (B, C)


def _conv_block(n_in: int, n_out: int, pool: tuple[int, int]) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(n_in, n_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(n_out),
        nn.ReLU(),
        nn.MaxPool2d(pool),
    )


class AttributeEmbedder(nn.Module):
    """A small CNN that embeds a log-mel crop so that clips of one attribute class (and section) lie
    together on the unit sphere; the anomaly score is then a k-NN cosine distance to the training
    clips' embeddings (Wilkinghoff, ICASSP 2023; the DCASE 2023 and 2024 top systems share the scheme).

    Input (B, 1, M, T) log-mel crops in dB, standardised per mel band by the training statistics held in
    buffers; four conv blocks halve M and T (the last keeps T), time is averaged out but frequency kept
    (machine sounds differ in where their tones sit), then a linear layer gives the (B, D) embedding.
    ~0.3 M parameters for M = 128, small enough for CPU training in minutes.
    """

    def __init__(
        self,
        n_mels: int = 128,
        n_classes: int = 2,
        embedding_dim: int = 128,
        channels: int = 16,
        n_subclusters: int = 1,
        scale: float = 16.0,
        margin: float = 0.2,
    ) -> None:
        super().__init__()
        c = channels
        self.register_buffer("band_mean", torch.zeros(n_mels))
        self.register_buffer("band_std", torch.ones(n_mels))
        self.features = nn.Sequential(
            _conv_block(1, c, (2, 2)),  # (B, c, M/2, T/2)
            _conv_block(c, 2 * c, (2, 2)),  # (B, 2c, M/4, T/4)
            _conv_block(2 * c, 4 * c, (2, 2)),  # (B, 4c, M/8, T/8)
            _conv_block(4 * c, 4 * c, (2, 1)),  # (B, 4c, M/16, T/8)
        )
        self.project = nn.Linear(4 * c * (n_mels // 16), embedding_dim)
        self.head = SubclusterArcMargin(embedding_dim, n_classes, n_subclusters, scale, margin)

    def set_normalisation(self, band_mean: Tensor, band_std: Tensor) -> None:
        self.band_mean.copy_(band_mean)
        self.band_std.copy_(band_std.clamp_min(1e-3))

    def embed(self, x: Tensor) -> Tensor:
        x = (x - self.band_mean[:, None]) / self.band_std[:, None]  # (B, 1, M, T)
        h = self.features(x).mean(dim=3)  # (B, 4c, M/16)
        return self.project(h.flatten(1))  # (B, D)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.head(self.embed(x), labels)  # (B, C) scaled logits


# ------------------------------------------------------------------------------------------ scoring


def reconstruction_error(model: nn.Module, x: Tensor) -> Tensor:
    """Per-sample mean squared error, (B,): the anomaly score of one patch or frame vector."""
    x_hat = model(x)
    return ((x_hat - x) ** 2).flatten(1).mean(dim=1)


class WindowScorer(nn.Module):
    """The inference graph of every model: a batch of windows in, what clip scores are built from out.

    Autoencoders: the reconstruction, shaped as the input (its error to the input is the score).
    Embedding model: the unit-norm crop embeddings, (B, D) (the k-NN distance to the training clips
    is taken per clip outside). The package scores through this module, and `dcase-cae export`
    exports exactly it.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        if isinstance(self.model, AttributeEmbedder):
            return nn.functional.normalize(self.model.embed(x), dim=1)  # (B, D)
        return self.model(x)  # (B, 1, F, F) or (B, P * M)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = [
    "AttributeEmbedder",
    "CNNAutoEncoder",
    "SubclusterArcMargin",
    "Crop2d",
    "WindowScorer",
    "DenseAE",
    "count_parameters",
    "encoder_sizes",
    "reconstruction_error",
]


if __name__ == "__main__":  # pragma: no cover - quick shape check
    for side in (64, 128):
        m = CNNAutoEncoder(side)
        print(side, m(torch.zeros(2, 1, side, side)).shape, count_parameters(m))
