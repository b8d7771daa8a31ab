"""The VQ-VAE and the forecaster: shapes, decode_code, frozen VQ-VAE, the original variant's size."""

import torch
from ecg_vqvae.model import VQVAE, LatentForecaster


def small_vqvae(**kw) -> VQVAE:
    return VQVAE(channel=8, n_res_block=1, n_res_channel=8, embed_dim=8, n_embed=16, **kw)


def test_vqvae_reconstructs_window_shape_and_codes() -> None:
    model = small_vqvae(normalization="revin")
    x = torch.randn(3, 2, 1080)
    x_hat, commitment, codes = model(x)
    assert x_hat.shape == (3, 2, 1080)
    assert codes.shape == (3, 540) and codes.dtype == torch.long
    assert commitment.ndim == 0 and commitment >= 0


def test_decode_code_matches_forward_in_eval_mode() -> None:
    model = small_vqvae().eval()
    x = torch.randn(2, 2, 1080)
    with torch.no_grad():
        x_hat, _, codes = model(x)
        assert torch.allclose(model.decode_code(codes), x_hat, atol=1e-5)


def test_transformer_and_attention_options_run() -> None:
    model = small_vqvae(
        has_attention=True, has_transformer=True, transformer_heads=2, transformer_layers=1
    )
    assert model(torch.randn(2, 2, 1080))[0].shape == (2, 2, 1080)


def test_original_variant_carries_the_big_linear() -> None:
    model = VQVAE(
        variant="original",
        channel=8,
        n_res_block=1,
        n_res_channel=8,
        embed_dim=8,
        n_embed=16,
        has_attention=True,
    )
    n = sum(p.numel() for p in model.parameters())
    assert n > 74_600_000  # Linear(8*1080, 8*1080) = 74.66 M parameters
    assert model(torch.randn(1, 2, 1080))[0].shape == (1, 2, 1080)


def test_forecaster_predicts_next_windows_and_leaves_vqvae_frozen() -> None:
    vqvae = small_vqvae(normalization="revin")
    before = {k: v.clone() for k, v in vqvae.state_dict().items()}
    forecaster = LatentForecaster(
        vqvae, n_windows=2, d_model=16, n_layers=1, n_heads=2, patch=3, use_prior=False
    ).train()
    pred = forecaster(torch.randn(4, 2, 1080))
    assert pred.shape == (4, 2, 2160)
    pred.abs().mean().backward()
    assert all(p.grad is None for p in vqvae.parameters())
    assert forecaster.patch_in.weight.grad is not None
    after = vqvae.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # codebook and BN stats untouched


def test_untrained_forecaster_with_prior_returns_the_prior_through_the_vqvae() -> None:
    vqvae = small_vqvae(normalization="revin").eval()
    forecaster = LatentForecaster(vqvae, d_model=16, n_layers=1, n_heads=2, use_prior=True).eval()
    context, prior = torch.randn(2, 2, 1080), torch.randn(2, 2, 1080)
    with torch.no_grad():
        pred = forecaster(context, prior)
        stats = vqvae.revin.stats(context)
        expected = vqvae.decode(vqvae.encode(prior, stats)[0], stats)
    assert torch.allclose(pred, expected, atol=1e-5)


def test_snapped_forecasts_are_decoded_from_the_nearest_codes() -> None:
    """`snap` (the sampled futures' default) decodes codebook entries, the nearest ones: an untrained
    forecaster's latents are the prior's codes already, a trained correction moves them off the codes."""
    torch.manual_seed(0)
    vqvae = small_vqvae(normalization="revin").eval()
    forecaster = LatentForecaster(vqvae, d_model=16, n_layers=1, n_heads=2, use_prior=True).eval()
    context, prior = torch.randn(2, 2, 1080), torch.randn(2, 2, 1080)
    z = torch.randn(3, 8, 540)
    with torch.no_grad():
        snapped = forecaster.nearest_codes(z)  # (3, 8, 540)
        nearest = torch.cdist(z.transpose(1, 2), vqvae.quantizer.embed[None]).argmin(-1)  # (3, 540)
        assert torch.equal(snapped, vqvae.quantizer.embed[nearest].transpose(1, 2))
        untrained = forecaster(context, prior)
        assert torch.allclose(forecaster(context, prior, snap=True), untrained, atol=1e-5)
        torch.nn.init.normal_(forecaster.patch_out.weight, std=0.5)  # a learned correction
        hedge = forecaster(context, prior)
        assert not torch.allclose(forecaster(context, prior, snap=True), hedge, atol=1e-3)
