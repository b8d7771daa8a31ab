"""EMA codebook: nearest code, straight-through, k-means init, dead-code restart, epoch perplexity."""

import math

import torch
from ecg_vqvae.quantizer import VectorQuantizerEMA, perplexity


def test_perplexity_matches_hand_computation() -> None:
    counts = torch.tensor([2.0, 2.0, 0.0, 4.0])
    p = [0.25, 0.25, 0.5]
    assert math.isclose(
        perplexity(counts), math.exp(-sum(q * math.log(q) for q in p)), rel_tol=1e-9
    )
    assert math.isclose(perplexity(torch.ones(8)), 8.0, rel_tol=1e-9)


def test_eval_mode_picks_nearest_code_and_passes_gradient_straight_through() -> None:
    vq = VectorQuantizerEMA(2, 3, kmeans_init=False).eval()
    vq.embed.copy_(torch.tensor([[0.0, 0.0], [1.0, 1.0], [-1.0, 2.0]]))
    z = torch.tensor([[[0.9, 1.2], [-0.8, 1.7], [0.1, -0.1]]], requires_grad=True)
    quant, commitment, codes = vq(z)
    assert codes.tolist() == [[1, 2, 0]]
    assert torch.allclose(quant, vq.embed[codes])
    assert math.isclose(
        float(commitment.detach()),
        float(((z - vq.embed[codes]) ** 2).mean().detach()),
        rel_tol=1e-6,
    )
    quant.sum().backward()
    assert torch.equal(z.grad, torch.ones_like(z))


def test_kmeans_init_and_dead_code_restart_keep_codebook_alive() -> None:
    torch.manual_seed(0)
    data = torch.cat(
        [torch.randn(200, 4) * 0.1 + c for c in (torch.full((4,), 5.0), torch.full((4,), -5.0))]
    )
    healthy = VectorQuantizerEMA(4, 16, kmeans_init=True, dead_code_threshold=1.0).train()
    collapsed = VectorQuantizerEMA(4, 16, kmeans_init=False, dead_code_threshold=0.0).train()
    collapsed.embed.mul_(0.01)  # codes far from the data: the classic collapse start
    collapsed.embed_avg.copy_(collapsed.embed)
    for _ in range(20):
        healthy(data[None])
        collapsed(data[None])
    h, c = healthy.epoch_usage(), collapsed.epoch_usage()
    assert h["codes_used"] >= 12 and h["perplexity"] > 8
    assert c["codes_used"] <= 2
    assert healthy.epoch_usage()["codes_used"] == 0  # counts were reset at the epoch boundary


def test_ema_update_moves_codes_to_cluster_means() -> None:
    vq = VectorQuantizerEMA(2, 2, decay=0.5, kmeans_init=False, dead_code_threshold=0.0).train()
    vq.embed.copy_(torch.tensor([[0.0, 0.0], [10.0, 10.0]]))
    vq.embed_avg.copy_(vq.embed)
    vq.cluster_size.fill_(1.0)
    z = torch.tensor([[[1.0, 1.0], [1.0, 1.0], [9.0, 9.0]]])
    for _ in range(30):
        vq(z)
    assert torch.allclose(vq.embed, torch.tensor([[1.0, 1.0], [9.0, 9.0]]), atol=1e-2)
