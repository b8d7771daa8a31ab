"""The VAE of the "Variational autoencoder time-series classification demo" (Keras notebook), in torch.

Encoder: 3 x [Conv1d(stride 2) -> ReLU -> BatchNorm -> multi-head attention -> LayerNorm -> gate
x = attn * x] -> flatten -> Dense(ReLU) -> (z_mean, z_log_var) -> reparameterised z (Kingma & Welling 2014,
eq. 10). Decoder: Dense -> reshape to window/16 steps -> 4 x [ConvTranspose1d(stride 2) -> ReLU ->
BatchNorm] -> GRU (all steps) -> attention gate + LayerNorm -> Conv1d to the output channels -> sigmoid
(the windows are min-max scaled to [0, 1]).

Where we differ from the original: attention heads project to `key_dim` per head as Keras'
MultiHeadAttention does (torch's nn.MultiheadAttention ties the head size to embed_dim / heads); the
decoder reconstructs the time channel only when `reconstruct_time` is set; the loss (train.py) is a mean,
not a batch-size-dependent sum; `init_log_var` sets the initial posterior log-variance (the bias of
z_log_var), and train.py warms the KL weight up from 0 and applies free bits, against posterior
collapse. With `time_bypass` the encoder sees only the signal channels and the decoder receives
[z, time value of the last step]. Options of ours (off in this class, which defaults to the
original; on in the package's default config): `encoder_pool="stats"` feeds the encoder's dense layer
the mean and std over time of its last feature map instead of the flattened map; `min_posterior_std`
puts a floor under the posterior's standard deviation (`TimeSeriesVAE.encode`); `center_input` feeds
the encoder x - 0.5; `prior_components` = K replaces the N(0, I) prior by a learned mixture of K
Gaussians (`MixturePrior`); `encoder_taper` shows the encoder its input through a Tukey window,
`edge_swap` gives the encoder's training input another window's edge samples (`swap_edges`), and
`encoder_time=False` keeps the time channel from the encoder (all three off by default, measured in
docs/vae-demo-experiments.md "Which junction, or which majority").

Shapes: B batch, C input channels (signal F + 1 time), T window length, D latent size.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from scipy.signal.windows import tukey
from torch import Tensor, nn


class GatedAttention(nn.Module):
    """Self-attention over time, LayerNorm, then multiplicative gating x * attn (the original's block)."""

    def __init__(self, channels: int, n_heads: int, key_dim: int) -> None:
        super().__init__()
        self.n_heads, self.key_dim = n_heads, key_dim
        self.qkv = nn.Linear(channels, 3 * n_heads * key_dim)
        self.out = nn.Linear(n_heads * key_dim, channels)
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: Tensor) -> Tensor:  # x: (B, Ch, L)
        B, Ch, L = x.shape
        h = x.transpose(1, 2)  # (B, L, Ch)
        q, k, v = (
            self.qkv(h).view(B, L, 3, self.n_heads, self.key_dim).permute(2, 0, 3, 1, 4)
        )  # (B, H, L, dk)
        a = F.scaled_dot_product_attention(q, k, v)  # (B, H, L, dk)
        a = self.out(a.transpose(1, 2).reshape(B, L, -1))  # (B, L, Ch)
        return x * self.norm(a).transpose(1, 2)  # (B, Ch, L)


class EncoderBlock(nn.Module):
    def __init__(
        self, c_in: int, channels: int, kernel_size: int, n_heads: int, key_dim: int
    ) -> None:
        super().__init__()
        self.conv = nn.Conv1d(c_in, channels, kernel_size, stride=2, padding=kernel_size // 2)
        self.bn = nn.BatchNorm1d(channels)
        self.attn = GatedAttention(channels, n_heads, key_dim)

    def forward(self, x: Tensor) -> Tensor:  # (B, c_in, L) -> (B, channels, L/2)
        return self.attn(self.bn(F.relu(self.conv(x))))


class Encoder(nn.Module):
    def __init__(
        self,
        c_in: int,
        window: int,
        channels: int = 16,
        kernel_size: int = 3,
        n_heads: int = 4,
        key_dim: int = 8,
        dense_units: int = 8,
        latent_dim: int = 2,
        pool: str = "flatten",
    ) -> None:
        super().__init__()
        if pool not in ("flatten", "stats"):
            raise ValueError(f"encoder pool must be 'flatten' or 'stats', got {pool!r}")
        self.pool = pool
        self.blocks = nn.Sequential(
            EncoderBlock(c_in, channels, kernel_size, n_heads, key_dim),
            EncoderBlock(channels, channels, kernel_size, n_heads, key_dim),
            EncoderBlock(channels, channels, kernel_size, n_heads, key_dim),
        )
        pooled = channels * (window // 8) if pool == "flatten" else 2 * channels
        self.dense = nn.Linear(pooled, dense_units)
        self.z_mean = nn.Linear(dense_units, latent_dim)
        self.z_log_var = nn.Linear(dense_units, latent_dim)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:  # x: (B, C, T)
        h = self.blocks(x)  # (B, channels, T/8)
        if self.pool == "flatten":
            h = h.flatten(1)  # (B, channels * T/8)
        else:  # statistics pooling: mean and std over time
            h = torch.cat([h.mean(dim=-1), h.std(dim=-1)], dim=1)  # (B, 2 * channels)
        h = F.relu(self.dense(h))  # (B, dense_units)
        return self.z_mean(h), self.z_log_var(h)  # (B, D) each


class Decoder(nn.Module):
    def __init__(
        self,
        z_in: int,
        c_out: int,
        window: int,
        channels: int = 16,
        kernel_size: int = 3,
        n_heads: int = 4,
        key_dim: int = 8,
        gru_units: int = 128,
        out_kernel_size: int = 5,
    ) -> None:
        super().__init__()
        self.steps, self.channels = window // 16, channels
        self.dense = nn.Linear(z_in, channels * self.steps)
        self.up = nn.ModuleList()
        self.bns = nn.ModuleList()
        for _ in range(4):
            self.up.append(
                nn.ConvTranspose1d(
                    channels,
                    channels,
                    kernel_size,
                    stride=2,
                    padding=kernel_size // 2,
                    output_padding=1,
                )
            )
            self.bns.append(nn.BatchNorm1d(channels))
        self.gru = nn.GRU(channels, gru_units, batch_first=True)
        self.attn = GatedAttention(gru_units, n_heads, key_dim)
        self.out = nn.Conv1d(gru_units, c_out, out_kernel_size, padding=out_kernel_size // 2)

    def forward(self, z: Tensor) -> Tensor:  # z: (B, z_in)
        h = F.relu(self.dense(z)).view(-1, self.channels, self.steps)  # (B, channels, T/16)
        for up, bn in zip(self.up, self.bns):
            h = bn(F.relu(up(h)))  # length doubles: ... -> (B, channels, T)
        h, _ = self.gru(h.transpose(1, 2))  # (B, T, gru_units)
        h = self.attn(h.transpose(1, 2))  # (B, gru_units, T)
        return torch.sigmoid(self.out(h))  # (B, c_out, T)


def reparameterize(mu: Tensor, logvar: Tensor) -> Tensor:
    """z = mu + sigma * eps, eps ~ N(0, I) (the reparameterisation trick)."""
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


def kl_divergence(mu: Tensor, logvar: Tensor, per_dim: bool = False) -> Tensor:
    """KL(q(z|x) || N(0, I)) per window, summed over latent dims: -1/2 sum(1 + logvar - mu^2 - e^logvar);
    (B, D) per dimension with `per_dim`."""
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())  # (B, D)
    return kl if per_dim else kl.sum(dim=1)  # (B,)


class MixturePrior(nn.Module):
    """A learned prior p(z) = sum_k pi_k N(z; m_k, diag(s_k^2)) over the latent (a VaDE-style
    clustering prior, Jiang et al. 2017, with the mixture fitted by gradient rather than EM).

    Why: under N(0, I) the KL term only pulls every z towards the origin, so nothing gathers the windows
    of one pattern once the decoder can tell them apart. Against a mixture, the KL term of a window pulls
    its z towards the component that explains it best, and the components move to where windows are
    dense: windows of one pattern are drawn together, and a window between two clusters towards one.
    """

    def __init__(self, n_components: int, latent_dim: int, init_scale: float = 1.0) -> None:
        super().__init__()
        if n_components < 2:
            raise ValueError(f"a mixture prior needs >= 2 components, got {n_components}")
        # components start spread like the N(0, I) prior, each of std 0.5
        self.means = nn.Parameter(init_scale * torch.randn(n_components, latent_dim))  # (K, D)
        self.log_std = nn.Parameter(torch.full((n_components, latent_dim), math.log(0.5)))
        self.logits = nn.Parameter(torch.zeros(n_components))  # (K,) mixture weights, softmax

    def log_prob(self, z: Tensor) -> Tensor:
        """log p(z), (B,), of latents z (B, D)."""
        diff = (z[:, None, :] - self.means) / self.log_std.exp()  # (B, K, D)
        log_n = -0.5 * (diff.pow(2) + math.log(2 * math.pi)) - self.log_std  # (B, K, D)
        return torch.logsumexp(F.log_softmax(self.logits, 0) + log_n.sum(-1), dim=1)  # (B,)

    def kl(self, mu: Tensor, logvar: Tensor) -> Tensor:
        """KL(q(z|x) || p(z)) per window, (B,): -H(q) exactly, minus log p(z) at one sample z ~ q.

        The mixture has no closed-form KL; one reparameterised sample gives an unbiased estimate.
        """
        neg_entropy = -0.5 * (logvar + 1 + math.log(2 * math.pi)).sum(dim=1)  # (B,)
        return neg_entropy - self.log_prob(reparameterize(mu, logvar))


def cyclic_shift_errors(recon: Tensor, target: Tensor) -> Tensor:
    """(B, T) mean squared error between `target` and `recon` rolled by every cyclic shift d = 0..T-1.

    err[b, d] = mean_{c,t} (target[b,c,t] - recon[b,c,t-d mod T])^2, from one circular cross-correlation
    (FFT): ||x||^2 + ||y||^2 - 2 <x, roll(y, d)>. O(B C T log T) instead of O(B C T^2).
    """
    C, T = target.shape[-2:]
    x, y = target.float(), recon.float()  # the FFT wants full precision (also under autocast)
    X, Y = torch.fft.rfft(x, dim=-1), torch.fft.rfft(y, dim=-1)  # (B, C, T//2+1) each
    corr = torch.fft.irfft(X * Y.conj(), n=T, dim=-1).sum(dim=1)  # (B, T): <x, roll(y, d)>
    energy = x.pow(2).sum(dim=(1, 2)) + y.pow(2).sum(dim=(1, 2))  # (B,)
    return (energy[:, None] - 2 * corr) / (C * T)


def shift_tolerant_errors(
    recon: Tensor, target: Tensor, keep: float = 1.0
) -> tuple[Tensor, Tensor]:
    """Per window (B,): the smallest cyclic-shift error, and the best shift.

    With `keep` < 1 the error at the best shift is averaged over the `keep` fraction of time steps that
    fit best (a trimmed mean); `shift_tolerant_mse` says why.
    """
    best = cyclic_shift_errors(recon, target).min(dim=1)
    if keep >= 1.0:
        return best.values, best.indices
    rolled = roll_each(recon, best.indices)  # (B, C, T)
    step_err = (target.float() - rolled.float()).pow(2).mean(dim=1)  # (B, T)
    n_keep = max(1, round(keep * target.shape[-1]))
    kept = step_err.topk(n_keep, dim=1, largest=False).values  # (B, n_keep)
    return kept.mean(dim=1), best.indices


def shift_tolerant_mse(recon: Tensor, target: Tensor, keep: float = 1.0) -> tuple[Tensor, Tensor]:
    """Batch mean of the smallest cyclic-shift error per window, and the best shift per window (B,).

    Why: a stride-1 window of a series of period-`T` patterns is the tail of one pattern and the head of
    the next. Judged by the plain MSE, what the latent must encode is where in the cycle the window
    starts, which varies continuously, so the latent becomes a ring, not clusters (docs/vae-demo-experiments.md).
    Judged up to a cyclic shift, the best a single decoded pattern can do is to match the pattern that
    fills most of the window; that is the window's label, so the latent is rewarded for encoding which
    pattern dominates, and the windows of one pattern can share one point.

    With `keep` < 1 the error at the best shift is averaged over the `keep` fraction of time steps that
    fit best (a trimmed mean). Why: with the full mean, the steps of the *minority* pattern still pay,
    so the latent gains by also encoding the neighbour and the offset; the windows of one label then
    spread into a stroke that k-means cuts. With keep = 0.5 the majority pattern alone can make the
    error vanish, and the offset buys nothing.
    """
    errors, shifts = shift_tolerant_errors(recon, target, keep)
    return errors.mean(), shifts


def spectral_errors(recon: Tensor, target: Tensor) -> Tensor:
    """(B,) mean squared difference of the magnitude spectra: mean over channels and the T/2 + 1
    frequencies of (|R_f| - |X_f|)^2 / T, R and X the real FFTs of `recon` and `target` over time.

    With the 1/T scale the term is on the time-domain MSE's scale (Parseval), about at most the error
    at the best cyclic shift. Like that error it ignores where the window starts (a cyclic shift only
    changes phases); unlike it, it does not align samples but compares how much of each frequency a
    window holds, in which a window is close to a *blend* of its two patterns' spectra. Why: under the
    aligned error, grouping the windows by the junction they hold (c | c + 1, i.e. by start block)
    costs about what grouping them by majority does (the decoded junction c[64:] | (c+1)[:64] fits the
    windows of offsets 32-96 as well as a pure pattern fits those of -32-32); in spectrum space a majority
    cluster is pattern c with up to half of c - 1 or c + 1 mixed in, two short arms in different
    directions, while a junction cluster is the whole path from c to c + 1: a majority cluster's spread
    about its mean is 0.66-0.69 of a junction cluster's on data seeds 85-90 (scripts/partition_spread.py;
    docs/vae-demo-experiments.md "A spectral term").
    """
    T = target.shape[-1]
    x, y = target.float(), recon.float()  # the FFT wants full precision (also under autocast)
    mag_x = torch.fft.rfft(x, dim=-1).abs()  # (B, C, T//2+1)
    mag_y = torch.fft.rfft(y, dim=-1).abs()
    return (mag_y - mag_x).pow(2).mean(dim=(1, 2)) / T


def mean_shift_pull(mu: Tensor, bandwidth: float) -> Tensor:
    """Mean over the batch of ||mu_i - m_i||^2 / h^2, m_i one mean-shift step from mu_i.

    m_i = sum_j k_ij mu_j / sum_j k_ij with a Gaussian kernel k_ij = exp(-||mu_i - mu_j||^2 / 2h^2) over
    the batch's z_means (Fukunaga & Hostetler 1975), held fixed (no gradient): descending the term moves
    each z_mean up the batch's kernel density estimate, towards its local mode. The bandwidth h is
    `bandwidth` times the batch's latent spread s (the RMS over dimensions of the std of mu), and s keeps
    its gradient, so the term does not change when the whole latent is scaled: shrinking the latent
    (which makes every pull vanish with an absolute bandwidth, and did collapse it in a probe) buys
    nothing; only gathering windows into modes does.

    Why: under the trimmed shift-tolerant error a window that is 70-85 % one pattern reconstructs as
    well anywhere in its pattern's region, so nothing pulls it in, and such windows trail towards the
    neighbour they are mixed with; where they trail far, they bridge two clusters and k-means merges
    them (docs/vae-demo-experiments.md, "Merged neighbours", "trailing"). The pull draws them into the denser side
    and so asks the encoder for a sharp change where a window's majority changes. It needs no labels
    and no cluster count, and clusters further apart than a few bandwidths do not pull on each other.
    Measured (docs/vae-demo-experiments.md, "A mean-shift pull"): switched on from epoch 5 it also joins clusters
    that are still close then, and feeds patterns to the dense noise blob; the ARI fell on every seed,
    so the option is off by default.
    """
    spread2 = (mu - mu.mean(dim=0)).pow(2).mean()  # s^2, a scalar with gradient
    h2 = bandwidth**2 * spread2
    with torch.no_grad():
        kernel = torch.exp(-torch.cdist(mu, mu).pow(2) / (2 * h2))  # (B, B)
        target = kernel @ mu / kernel.sum(dim=1, keepdim=True)  # (B, D)
    return (mu - target).pow(2).sum(dim=1).mean() / h2


def lag1_autocorrelation(x: Tensor) -> Tensor:
    """(B,) lag-1 autocorrelation of each window of x (B, C, T), the mean over channels, clipped at 0.

    ~0 for white noise, ~0.5 for the default data's patterns (sines of 1-30 Hz at 128 Hz plus the
    extra noise): a label-free sign that a window holds a signal rather than noise.
    """
    xc = x - x.mean(dim=-1, keepdim=True)
    r = (xc[..., 1:] * xc[..., :-1]).sum(dim=-1) / xc.pow(2).sum(dim=-1).clamp_min(1e-12)  # (B, C)
    return r.mean(dim=1).clamp_min(0)


def content_repulsion(
    mu: Tensor, x: Tensor, bandwidth: float, keep: float = 1.0, neighbours: int = 16
) -> Tensor:
    """Mean of w_ij exp(-||mu_i - mu_j||^2 / 2h^2) over each window i and its `neighbours` nearest
    z_means j in the batch: a push between nearby windows whose inputs differ.

    w_ij (no gradient) says how different the two *inputs* are: the shift-tolerant error between x_i
    and x_j (trimmed to `keep`, as the reconstruction is judged) over the sum of their variances, clipped
    to [0, 1] and squared (~0 for two windows of one pattern at any offset, ~1 for two patterns), times
    both windows' lag-1 autocorrelation, so that noise windows, which differ from each other but are
    all "no pattern", may share one place. h is `bandwidth` times the batch's latent spread (with
    gradient, as in `mean_shift_pull`), so inflating the whole latent does not satisfy the term.

    Why: the runs that miss the target lose it to pairs of consecutive patterns whose clusters formed
    close together in the first epochs and stay merged (seed 89: consecutive cores 0.10 / 0.33 / 0.45
    apart in z, against >= 0.92 for every consecutive pair of seed 85; docs/vae-demo-experiments.md "A
    content-gated repulsion"). Under the posterior floor the decoder hardly sees such a gap, so the
    reconstruction does not widen it. The term pushes the windows of two patterns out of a shared place
    without labels and leaves the windows of one pattern together; it only pushes (alone it spreads the
    pushed windows around the others), gathering each pattern again is left to the reconstruction
    under the floor.
    Measured (weight 0.1, seeds 86 / 88 / 89): the consecutive cores move apart, but the clusters
    become arcs that k-means still pairs (ARI 0.787 ± 0.022 against the default's 0.805 ± 0.042), so
    the option is off by default.
    """
    B = mu.shape[0]
    m = min(neighbours, B - 1)
    spread2 = (mu - mu.mean(dim=0)).pow(2).mean()  # with gradient
    with torch.no_grad():
        d2 = torch.cdist(mu, mu).pow(2)  # (B, B)
        d2.fill_diagonal_(float("inf"))
        j = d2.topk(m, dim=1, largest=False).indices.reshape(-1)  # (B*m,)
        i = torch.arange(B, device=mu.device).repeat_interleave(m)  # (B*m,)
        var = x.float().var(dim=-1).mean(dim=1)  # (B,)
        errors, _ = shift_tolerant_errors(x[j], x[i], keep)  # (B*m,)
        differ = (errors / (var[i] + var[j]).clamp_min(1e-12)).clamp(0, 1).pow(2)
        signal = lag1_autocorrelation(x.float())  # (B,)
        w = differ * signal[i] * signal[j]  # (B*m,)
    near = torch.exp(-(mu[i] - mu[j]).pow(2).sum(dim=1) / (2 * bandwidth**2 * spread2))
    return (w * near).mean()


def swap_edges(x: Tensor, n_features: int, max_len: int) -> Tensor:
    """x (B, C, T) with, per window, its first a and last b samples (a, b uniform in 0..`max_len`) of the
    `n_features` signal channels taken from another window of the batch (a random permutation); the
    time channel is kept.

    Why (a training-time augmentation of the encoder's input; the reconstruction target stays x): a
    stride-1 window holds one junction between two consecutive patterns, and an encoder that keys on
    the few samples of a neighbour at either edge groups the windows by junction (by start block)
    instead of by majority, a partition the shift-tolerant loss does not penalise
    (docs/vae-demo-experiments.md "Which junction, or which majority"). With the edges replaced by
    unrelated content during training, nothing there predicts the target and the encoder learns to
    ignore up to `max_len` samples at either end, while it still sees the whole window. Measured
    (`model.edge_swap=16`, one seed, stopped at epoch 7): behind the default; the encoder probed there
    read the pattern's phase against the time channel rather than the edges.
    """
    B, _, T = x.shape
    a = torch.randint(0, max_len + 1, (B, 1), device=x.device)  # (B, 1)
    b = torch.randint(0, max_len + 1, (B, 1), device=x.device)
    t = torch.arange(T, device=x.device)[None, :]  # (1, T)
    edge = ((t < a) | (t >= T - b))[:, None, :]  # (B, 1, T)
    donor = x[torch.randperm(B, device=x.device)]  # (B, C, T)
    signal = torch.where(edge, donor[:, :n_features], x[:, :n_features])  # (B, F, T)
    return torch.cat([signal, x[:, n_features:]], dim=1)


def roll_each(x: Tensor, shifts: Tensor) -> Tensor:
    """Window b of `x` (B, C, T) cyclically rolled by shifts[b] (torch.roll per window, in one gather)."""
    C, T = x.shape[-2:]
    t = torch.arange(T, device=x.device)
    src = (t[None, :] - shifts[:, None]) % T  # (B, T): roll(x, d)[t] = x[t - d]
    return x.gather(-1, src[:, None, :].expand(-1, C, -1))  # (B, C, T)


def roll_best(recon: Tensor, target: Tensor) -> Tensor:
    """`recon` (B, C, T) rolled by its best cyclic shift against `target`, for plots."""
    return roll_each(recon, cyclic_shift_errors(recon, target).argmin(dim=1))


class VAEOutput(NamedTuple):
    recon: Tensor  # (B, C_out, T)
    target: Tensor  # (B, C_out, T): the input channels the decoder is asked to reproduce
    mu: Tensor  # (B, D + E): the posterior, with the `extra_dims` E when there are any
    logvar: Tensor  # (B, D + E)
    z: Tensor  # (B, D + E): what the decoder received (the extra dimensions faded)


class TimeSeriesVAE(nn.Module):
    """Input (B, C, T): `n_features` signal channels, then the time channel when `time_channel`."""

    def __init__(
        self,
        n_features: int,
        window: int,
        *,
        time_channel: bool = True,
        time_bypass: bool = False,
        reconstruct_time: bool = False,
        latent_dim: int = 2,
        channels: int = 16,
        kernel_size: int = 3,
        n_heads: int = 4,
        key_dim: int = 8,
        dense_units: int = 8,
        gru_units: int = 128,
        out_kernel_size: int = 5,
        init_log_var: float = 0.0,
        encoder_pool: str = "flatten",
        min_posterior_std: float = 0.0,
        center_input: bool = False,
        encoder_taper: float = 0.0,
        edge_swap: int = 0,
        encoder_time: bool = True,
        prior_components: int = 0,
        extra_dims: int = 0,
    ) -> None:
        super().__init__()
        if (time_bypass or reconstruct_time) and not time_channel:
            raise ValueError("time_bypass / reconstruct_time need the time channel")
        if min_posterior_std < 0:
            raise ValueError(f"min_posterior_std must be >= 0, got {min_posterior_std}")
        self.min_posterior_std = min_posterior_std
        self.center_input = center_input
        if not 0 <= encoder_taper <= 1:
            raise ValueError(f"encoder_taper must be in [0, 1], got {encoder_taper}")
        # the Tukey window the encoder sees its input through (None = off); not stored in checkpoints,
        # it is a function of the config
        taper = torch.from_numpy(tukey(window, encoder_taper)).float() if encoder_taper else None
        self.register_buffer("taper", taper, persistent=False)
        if not 0 <= 2 * edge_swap < window:
            raise ValueError(f"edge_swap must be in [0, window / 2), got {edge_swap}")
        self.edge_swap = edge_swap  # training only: see swap_edges
        # latent dimensions the decoder sees scaled by `extra_scale` (set by training, which fades it
        # from 1 to 0); 0 = the state after the fade, in which the model is a latent_dim-D VAE
        self.latent_dim, self.extra_dims, self.extra_scale = latent_dim, extra_dims, 0.0
        self.prior = MixturePrior(prior_components, latent_dim) if prior_components else None
        self.n_features, self.time_channel = n_features, time_channel
        self.time_bypass, self.reconstruct_time = time_bypass, reconstruct_time
        # the encoder reads the time channel unless the bypass routes it to the decoder or
        # `encoder_time` is off
        self.encoder_time = time_channel and not time_bypass and encoder_time
        c_enc = n_features + (1 if self.encoder_time else 0)
        c_out = n_features + (1 if reconstruct_time else 0)
        self.encoder = Encoder(
            c_enc,
            window,
            channels,
            kernel_size,
            n_heads,
            key_dim,
            dense_units,
            latent_dim + extra_dims,
            pool=encoder_pool,
        )
        # A small initial posterior variance lets the decoder see an informative z from the first
        # step instead of unit-variance noise (with which it learns to ignore z: posterior collapse).
        nn.init.constant_(self.encoder.z_log_var.bias, init_log_var)
        self.decoder = Decoder(
            latent_dim + extra_dims + (1 if time_bypass else 0),
            c_out,
            window,
            channels,
            kernel_size,
            n_heads,
            key_dim,
            gru_units,
            out_kernel_size,
        )

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(mu, logvar), each (B, D), of windows x (B, C, T): the latent, without any extra dimensions."""
        mu, logvar = self.posterior(x)  # (B, D + E) each
        return mu[:, : self.latent_dim], logvar[:, : self.latent_dim]

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(mu, logvar), each (B, D + E), of windows x (B, C, T), the extra dimensions included.

        With `min_posterior_std` = s the variance is exp(logvar_learned) + s^2. Why: trained freely the
        posterior std of a pattern window shrinks to ~0.04 while the windows of one pattern spread ~0.4
        in z_mean (docs/vae-demo-experiments.md), so the decoder tells patterns apart at any spacing and nothing
        gathers a pattern's windows. A floor is noise the decoder must tolerate: two patterns closer
        than a few s get confused, and a window that strays from its pattern's centre is decoded as a
        neighbour, so the cheapest layout is one tight cluster per pattern with gaps between them.
        """
        x_enc = x if self.encoder_time else x[:, : self.n_features]  # (B, C_enc, T)
        # Windows are min-max scaled to [0, 1]; centred, a first-layer filter is no longer dead for
        # every window just because its weights sum negative (the conv's ReLU comes before BatchNorm).
        x_enc = x_enc - 0.5 if self.center_input else x_enc
        if self.taper is not None:  # (T,): the window's edges fade out of the encoder's view
            x_enc = x_enc * self.taper
        mu, logvar = self.encoder(x_enc)
        if self.min_posterior_std > 0:
            floor = torch.full_like(logvar, 2 * math.log(self.min_posterior_std))
            logvar = torch.logaddexp(logvar, floor)  # log(sigma^2 + s^2)
        return mu, logvar

    def fade_extra(self, z: Tensor, mu: Tensor) -> Tensor:
        """z (B, D + E) with the extra part's mean scaled by `extra_scale` and its noise kept (zero
        when the scale is 0). Why the noise is not scaled: the decoder could undo a scaled z by larger
        weights at no cost; with the noise kept, an extra dimension carries less the smaller the
        scale, unless the encoder spreads its means further, which the KL term charges for."""
        d, s = self.latent_dim, self.extra_scale
        if s <= 0:
            return torch.cat([z[:, :d], torch.zeros_like(z[:, d:])], dim=1)
        return torch.cat([z[:, :d], z[:, d:] - (1 - s) * mu[:, d:]], dim=1)  # s * mu + sigma * eps

    def decode(self, z: Tensor, x: Tensor | None = None) -> Tensor:
        """Windows from latents (B, D) or (B, D + E), a missing extra part taken as 0 (the faded
        state); with the bypass the decoder also needs x's last time value."""
        if z.shape[1] == self.latent_dim and self.extra_dims:
            z = torch.cat([z, z.new_zeros(len(z), self.extra_dims)], dim=1)  # (B, D + E)
        if self.time_bypass:
            if x is None:
                raise ValueError(
                    "time_bypass: decode needs the input windows for their time values"
                )
            z = torch.cat([z, x[:, -1, -1:]], dim=1)  # (B, D+1)
        return self.decoder(z)

    def forward(self, x: Tensor) -> VAEOutput:
        seen = x
        if self.training and self.edge_swap:  # the encoder's input only; the target stays x
            seen = swap_edges(x, self.n_features, self.edge_swap)
        mu, logvar = self.posterior(seen)  # (B, D + E) each
        z = reparameterize(mu, logvar) if self.training else mu
        if self.extra_dims:
            z = self.fade_extra(z, mu)
        target = x if self.reconstruct_time else x[:, : self.n_features]
        return VAEOutput(self.decode(z, x), target, mu, logvar, z)
