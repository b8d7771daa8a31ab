"""Losses of event-lstm: presence + timing + refractory (`EventTimingLoss`), plus template alignment for
the event-specific model (`EventSpecificLoss`; unlike the original it includes its refractory term), and
the pre-training losses (autoencoder, VAE, NT-Xent).

The refractory penalty is the probability that two draws from an event's timing distribution fall closer
than the refractory period but farther apart than the timing tolerance (Eq. R in `refractory_penalty`).

Shapes: B batch, T samples, E event types, S timing bins.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


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
