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


def test_tie_margin_is_how_much_farther_the_second_code_is() -> None:
    """A latent halfway between two codes is a tie (margin 0: rounding decides); the export's parity
    inputs keep clear of such latents."""
    vq = VectorQuantizerEMA(2, 3, kmeans_init=False).eval()
    vq.embed.copy_(torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 5.0]]))
    flat = torch.tensor([[1.0, 0.0], [0.5, 0.0], [0.0, 4.0]])
    margins = vq.tie_margin(flat).tolist()
    assert margins == [0.0, 1.0, 3.0]  # (0, 4): code (0, 5) at 1, code (0, 0) at 4


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


def test_usage_counters_are_checkpointed_buffers() -> None:
    torch.manual_seed(0)
    vq = VectorQuantizerEMA(4, 16, kmeans_init=True, dead_code_threshold=5.0).train()
    for _ in range(3):
        vq(torch.randn(1, 50, 4))
    state = vq.state_dict()
    assert {"epoch_counts", "epoch_restarts"} <= state.keys()
    copy = VectorQuantizerEMA(4, 16)
    copy.load_state_dict(state)
    assert copy.epoch_usage() == vq.epoch_usage()
    assert copy.epoch_usage()["codes_used"] == 0  # and they reset like the original's
    old = {k: v for k, v in state.items() if not k.startswith("epoch_")}  # pre-buffer checkpoint
    copy.load_state_dict(old)
    assert copy.epoch_usage()["codes_used"] == 0


def _ddp_worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        torch.manual_seed(0)  # same initial codebook on every rank
        vq = VectorQuantizerEMA(4, 8, decay=0.8, kmeans_init=False, dead_code_threshold=0.0)
        vq.train()
        mine = torch.load(f"{out_dir}/data.pt", weights_only=True)[rank]  # (steps, N, D)
        for z in mine:
            vq(z[None])
        restarting = VectorQuantizerEMA(4, 8, kmeans_init=True, dead_code_threshold=50.0).train()
        torch.manual_seed(rank)  # different random picks per rank: rank 0's must win
        for z in mine:
            restarting(z[None])
        torch.save(
            {"plain": vq.state_dict(), "restarting": restarting.state_dict()},
            f"{out_dir}/rank{rank}.pt",
        )
    finally:
        dist.destroy_process_group()


def test_ddp_ranks_keep_the_single_process_codebook(tmp_path) -> None:
    """Two gloo ranks on different data learn one codebook: the one a single process learns from the
    union of their batches (statistics all-reduced); restarts and k-means take rank 0's choice."""
    import torch.multiprocessing as mp

    gen = torch.Generator().manual_seed(1)
    data = torch.randn(2, 5, 40, 4, generator=gen) * 2  # (rank, step, N, D)
    torch.save(data, tmp_path / "data.pt")
    args = (2, str(tmp_path / "init"), str(tmp_path))
    # fork: the worker lives in this test module, which spawned children could not import
    mp.start_processes(_ddp_worker, args=args, nprocs=2, join=True, start_method="fork")
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    for name in ("plain", "restarting"):
        for key in ("embed", "embed_avg", "cluster_size", "epoch_counts"):
            assert torch.equal(r0[name][key], r1[name][key]), (name, key)
    assert int(r0["restarting"]["epoch_restarts"]) > 0  # restarts did happen, identically
    torch.manual_seed(0)
    single = VectorQuantizerEMA(4, 8, decay=0.8, kmeans_init=False, dead_code_threshold=0.0)
    single.train()
    for step in range(data.shape[1]):
        single(torch.cat([data[0, step], data[1, step]])[None])
    assert torch.allclose(single.embed, r0["plain"]["embed"], atol=1e-5)
    assert torch.equal(single.epoch_counts, r0["plain"]["epoch_counts"])
