"""Vector quantiser with an EMA-learned codebook, k-means initialisation and dead-code restart.

Follows van den Oord et al., "Neural Discrete Representation Learning" (NeurIPS 2017, arXiv:1711.00937):
nearest-code assignment (eq. 1-2), straight-through gradient, commitment loss ||z_e - sg[e]||^2 (eq. 3), and
the codebook updated by exponential moving averages of cluster sizes and sums (appendix A.1, eq. 6-8) with
Laplace smoothing of the sizes. Two cures for codebook collapse that the seed system lacked (as in Dhariwal
et al., Jukebox, arXiv:2005.00341, sec. 3.2 and lucidrains' vector-quantize-pytorch):
- k-means initialisation of the codebook on the first training batch, and
- restart of codes whose EMA usage falls below `dead_code_threshold` to random encoder outputs of the batch.
Usage counts accumulate over a whole epoch (`epoch_usage`), so perplexity is an epoch figure, not a batch's;
they are buffers (in checkpoints), so a run resumed mid-epoch reports what an uninterrupted one does.

Under DDP (only when `torch.distributed` is initialised with more than one process) the per-batch code counts
and sums are summed over ranks before the EMA update, and k-means initialisation and dead-code restarts take
rank 0's choice, so every rank holds the same codebook, the one a single process would learn from the union
of the ranks' batches.

Shapes: B batch, N code positions, D code size, K codebook size. Torch only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _world() -> object | None:
    """`torch.distributed` when a process group of more than one process is running, else None."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return dist
    return None


def perplexity(counts: Tensor) -> float:
    """exp(entropy) of the code-usage distribution: K when all codes are used equally, 1 at collapse."""
    total = counts.sum()
    if total <= 0:
        return 0.0
    p = counts.double() / total
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum()))


def kmeans(
    x: Tensor, k: int, iters: int, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Lloyd's k-means on rows of x (M, D) -> centroids (k, D) and cluster sizes (k,).

    Starts from k random rows (with replacement when M < k); empty clusters keep their previous centroid.
    """
    idx = (
        torch.randint(0, x.shape[0], (k,), generator=generator, device=x.device)
        if x.shape[0] < k
        else torch.randperm(x.shape[0], generator=generator, device=x.device)[:k]
    )
    centroids = x[idx].clone()
    sizes = torch.zeros(k, device=x.device, dtype=x.dtype)
    for _ in range(iters):
        assign = torch.cdist(x, centroids).argmin(dim=1)  # (M,)
        sizes = torch.bincount(assign, minlength=k).to(x.dtype)
        sums = torch.zeros_like(centroids).index_add_(0, assign, x)
        filled = sizes > 0
        centroids[filled] = sums[filled] / sizes[filled, None]
    return centroids, sizes


class VectorQuantizerEMA(nn.Module):
    """z (B, N, D) -> (quantised z with straight-through gradient, commitment loss, codes (B, N))."""

    def __init__(
        self,
        dim: int,
        n_embed: int,
        decay: float = 0.99,
        eps: float = 1e-5,
        kmeans_init: bool = True,
        kmeans_iters: int = 10,
        dead_code_threshold: float = 1.0,
    ) -> None:
        super().__init__()
        self.dim, self.n_embed, self.decay, self.eps = dim, n_embed, decay, eps
        self.kmeans_iters = kmeans_iters
        self.dead_code_threshold = dead_code_threshold
        embed = torch.randn(n_embed, dim)
        self.register_buffer("embed", embed)  # (K, D)
        self.register_buffer("cluster_size", torch.zeros(n_embed))  # EMA of assignments per code
        self.register_buffer("embed_avg", embed.clone())  # EMA of the sum of vectors per code
        self.register_buffer("initted", torch.tensor(not kmeans_init))
        # usage since the last epoch_usage() call: assignments per code and codes restarted
        self.register_buffer("epoch_counts", torch.zeros(n_embed))
        self.register_buffer("epoch_restarts", torch.zeros((), dtype=torch.long))

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        flat = z.reshape(-1, self.dim)  # (B*N, D)
        if self.training and not bool(self.initted):
            self._init_kmeans(flat.detach())
        codes = self.nearest(flat)  # (B*N,)
        quant = F.embedding(codes, self.embed).view_as(z)  # (B, N, D)
        if self.training:
            self._ema_update(flat.detach(), codes)
        commitment = F.mse_loss(z, quant.detach())  # eq. 3, third term
        quant = z + (quant - z).detach()  # straight-through estimator
        return quant, commitment, codes.view(z.shape[:-1])

    def nearest(self, flat: Tensor) -> Tensor:
        """Index of the closest code (squared Euclidean) for each row of flat (M, D)."""
        dist = (
            flat.pow(2).sum(1, keepdim=True)
            - 2 * flat @ self.embed.t()
            + self.embed.pow(2).sum(1)[None, :]
        )  # (M, K)
        return dist.argmin(dim=1)

    @torch.no_grad()
    def tie_margin(self, flat: Tensor) -> Tensor:
        """(M,) how much farther the second-nearest code is than the nearest (Euclidean, float64) for
        each row of flat (M, D). Near 0 the assignment is a coin toss for rounding: another runtime
        (ONNX Runtime, another BLAS) whose encoder output differs by ~1e-6 may pick the other code."""
        dist = torch.cdist(flat.double(), self.embed.double())  # (M, K)
        two = dist.topk(2, dim=1, largest=False).values  # (M, 2)
        return two[:, 1] - two[:, 0]

    def embed_code(self, codes: Tensor) -> Tensor:
        """codes (...) -> code vectors (..., D)."""
        return F.embedding(codes, self.embed)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:  # noqa: ANN001
        # checkpoints written before the usage counters were buffers: start them at zero
        for name in ("epoch_counts", "epoch_restarts"):
            state_dict.setdefault(prefix + name, getattr(self, name).clone().zero_())
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @torch.no_grad()
    def _init_kmeans(self, flat: Tensor) -> None:
        centroids, sizes = kmeans(flat.float(), self.n_embed, self.kmeans_iters)
        self.embed.copy_(centroids)
        self.embed_avg.copy_(centroids * sizes.clamp(min=1)[:, None])
        self.cluster_size.copy_(sizes.clamp(min=1))
        dist = _world()
        if dist is not None:  # every rank starts from rank 0's codebook
            for buf in (self.embed, self.embed_avg, self.cluster_size):
                dist.broadcast(buf, src=0)
        self.initted.fill_(True)

    @torch.no_grad()
    def _ema_update(self, flat: Tensor, codes: Tensor) -> None:
        counts = torch.bincount(codes, minlength=self.n_embed).to(flat.dtype)  # (K,)
        sums = torch.zeros_like(self.embed).index_add_(0, codes, flat)  # (K, D)
        dist = _world()
        if dist is not None:  # statistics of the union of all ranks' batches
            dist.all_reduce(counts)
            dist.all_reduce(sums)
        self.epoch_counts += counts
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)  # eq. 6
        self.embed_avg.mul_(self.decay).add_(sums, alpha=1 - self.decay)  # eq. 7
        n = self.cluster_size.sum()
        smoothed = (
            (self.cluster_size + self.eps) / (n + self.n_embed * self.eps) * n
        )  # Laplace smoothing
        self.embed.copy_(self.embed_avg / smoothed[:, None])  # eq. 8
        if self.dead_code_threshold > 0:
            self._restart_dead_codes(flat)

    @torch.no_grad()
    def _restart_dead_codes(self, flat: Tensor) -> None:
        dead = self.cluster_size < self.dead_code_threshold
        n_dead = int(dead.sum())
        if n_dead == 0:
            return
        picks = flat[torch.randint(0, flat.shape[0], (n_dead,), device=flat.device)]
        dist = _world()
        if dist is not None:  # the same restarts on every rank (n_dead agrees: same statistics)
            dist.broadcast(picks, src=0)
        self.embed[dead] = picks
        self.embed_avg[dead] = picks * self.dead_code_threshold
        self.cluster_size[dead] = self.dead_code_threshold
        self.epoch_restarts += n_dead

    def epoch_usage(self, reset: bool = True) -> dict[str, float]:
        """Codes used, perplexity and restarts over the training steps since the last call."""
        out = {
            "codes_used": float((self.epoch_counts > 0).sum()),
            "perplexity": perplexity(self.epoch_counts),
            "dead_restarts": float(self.epoch_restarts),
        }
        if reset:
            self.epoch_counts.zero_()
            self.epoch_restarts.zero_()
        return out
