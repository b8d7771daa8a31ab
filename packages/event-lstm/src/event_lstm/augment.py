"""Random views of a window for contrastive pre-training (shift, crop-and-stretch, channel scaling,
noise), every draw from one `torch.Generator`."""

from __future__ import annotations

import torch
from torch import Tensor


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
