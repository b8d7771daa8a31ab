"""Shapes, the time bypass, the reconstruct-time option and a batch-size-independent loss."""

import numpy as np
import pytest
import torch
from vae_demo.model import Layers, TimeSeriesVAE, kl_divergence, reparameterize
from vae_demo.train import KLWarmup, make_step


def small(**kw) -> TimeSeriesVAE:
    return TimeSeriesVAE(7, 128, layers=Layers(channels=4, gru_units=8, n_heads=2, key_dim=4), **kw)


def test_shapes_follow_the_original_layout() -> None:
    x = torch.rand(5, 8, 128)
    out = small()(x)
    assert out.recon.shape == (5, 7, 128) and out.target.shape == (5, 7, 128)
    assert out.mu.shape == out.logvar.shape == out.z.shape == (5, 2)
    out = small(reconstruct_time=True)(x)
    assert out.recon.shape == (5, 8, 128)
    torch.testing.assert_close(out.target, x)
    assert ((out.recon >= 0) & (out.recon <= 1)).all()
    assert TimeSeriesVAE(7, 64, layers=Layers(channels=4, gru_units=8))(
        torch.rand(2, 8, 64)
    ).recon.shape == (
        2,
        7,
        64,
    )


def test_bypass_encoder_ignores_time_and_decoder_uses_it() -> None:
    # seeded: ~10% of random inits of this 4-channel model have every decoder unit dead after the first
    # ConvTranspose -> ReLU, making the output constant whatever the input
    torch.manual_seed(0)
    model = small(time_bypass=True).eval()
    x = torch.rand(4, 8, 128)
    y = x.clone()
    y[:, -1] = torch.rand(4, 128)
    torch.testing.assert_close(model.encode(x)[0], model.encode(y)[0])
    assert model.decoder.dense.in_features == 3  # 2-D latent + the last time value
    assert not torch.allclose(model(x).recon, model(y).recon)
    assert model.encoder.blocks[0].conv.in_channels == 7  # signal channels only
    assert small().encoder.blocks[0].conv.in_channels == 8  # without the bypass: signal + time


def test_kl_and_reparameterisation() -> None:
    mu, logvar = torch.zeros(3, 2), torch.zeros(3, 2)
    torch.testing.assert_close(kl_divergence(mu, logvar), torch.zeros(3))
    mu = torch.tensor([[1.0, 2.0]])
    logvar = torch.log(torch.tensor([[0.5, 2.0]]))
    expected = 0.5 * sum(
        v + m**2 - 1 - torch.log(torch.tensor(v)) for m, v in ((1.0, 0.5), (2.0, 2.0))
    )
    torch.testing.assert_close(kl_divergence(mu, logvar), expected.reshape(1))
    torch.manual_seed(0)
    z = reparameterize(torch.full((20000, 2), 3.0), torch.full((20000, 2), 0.0))
    assert abs(z.mean().item() - 3) < 0.05 and abs(z.std().item() - 1) < 0.05


def test_loss_does_not_depend_on_the_batch_size() -> None:
    model = small().eval()  # eval: z = mu, so the loss is deterministic
    x = torch.rand(6, 8, 128)
    y = torch.zeros(6, dtype=torch.long)
    step = make_step(beta=0.5)
    one, _ = step(model, (x, y))
    twice, _ = step(model, (torch.cat([x, x]), torch.cat([y, y])))
    torch.testing.assert_close(one, twice)


def test_kl_weight_warms_up_linearly_with_the_global_step() -> None:
    from types import SimpleNamespace

    warmup = KLWarmup(beta=0.4, warmup_steps=10)
    weights = []
    for step in (0, 5, 10, 20):
        warmup.on_train_batch_end(SimpleNamespace(global_step=step), None, 0.0, {})
        weights.append(warmup.weight)
    assert weights == [0.0, 0.2, 0.4, 0.4]
    resumed = KLWarmup(beta=0.4, warmup_steps=10)
    resumed.on_fit_start(SimpleNamespace(global_step=5), None)  # a resumed run continues the ramp
    assert resumed.weight == 0.2
    assert KLWarmup(beta=0.4, warmup_steps=0).weight == 0.4
    x, y = torch.rand(4, 8, 128), torch.zeros(4, dtype=torch.long)
    model = small(init_log_var=-6.0).eval()
    assert torch.allclose(model.encode(x)[1], torch.full((4, 2), -6.0), atol=2.0)
    loss, parts = make_step(0.4, KLWarmup(beta=0.4, warmup_steps=10))(model, (x, y))
    torch.testing.assert_close(loss, parts["recon"])  # weight 0 at step 0


def test_free_bits_exempt_the_first_nats_per_dimension_from_the_penalty() -> None:
    torch.manual_seed(0)
    model = small().eval()
    x, y = torch.rand(4, 8, 128), torch.zeros(4, dtype=torch.long)
    out = model(x)
    kl_d = kl_divergence(out.mu, out.logvar, per_dim=True).mean(dim=0)  # (D,)
    torch.testing.assert_close(kl_d.sum(), kl_divergence(out.mu, out.logvar).mean())
    plain, parts = make_step(beta=1.0)(model, (x, y))
    torch.testing.assert_close(plain, parts["recon"] + kl_d.sum())
    # above every dimension's KL: the penalty is a constant
    floor = float(kl_d.max().detach()) + 1.0
    loss, parts_fb = make_step(beta=1.0, free_bits=floor)(model, (x, y))
    torch.testing.assert_close(loss, parts["recon"] + 2 * floor)
    torch.testing.assert_close(parts_fb["kl"], parts["kl"])  # the logged KL stays the true KL
    loss.backward()
    assert (
        model.encoder.z_log_var.weight.grad.abs().max() == 0
    )  # no gradient pulls q(z|x) to the prior


def test_shift_tolerant_error_is_the_best_cyclic_shift() -> None:
    from vae_demo.model import cyclic_shift_errors, roll_best, shift_tolerant_mse

    torch.manual_seed(0)
    x, y = torch.rand(3, 7, 128), torch.rand(3, 7, 128)
    by_hand = torch.stack(
        [((x - torch.roll(y, d, dims=-1)) ** 2).mean(dim=(1, 2)) for d in range(128)], dim=1
    )
    torch.testing.assert_close(cyclic_shift_errors(y, x), by_hand, atol=1e-5, rtol=1e-5)
    loss, shift = shift_tolerant_mse(y, x)
    torch.testing.assert_close(loss, by_hand.min(dim=1).values.mean(), atol=1e-5, rtol=1e-5)
    # a reconstruction that is the target rolled by 5 samples costs nothing, and roll_best undoes it
    loss, shift = shift_tolerant_mse(torch.roll(x, 5, dims=-1), x)
    assert loss.abs() < 1e-5 and shift.tolist() == [123, 123, 123]
    torch.testing.assert_close(roll_best(torch.roll(x, 5, dims=-1), x), x)
    # the window's majority pattern wins: 100 samples of pattern a and 28 of pattern b are matched
    # better by a shifted a than by a shifted b
    a, b = torch.rand(1, 7, 128), torch.rand(1, 7, 128)
    window = torch.cat([a[..., 28:], b[..., :28]], dim=-1)
    assert shift_tolerant_mse(a, window)[0] < shift_tolerant_mse(b, window)[0]
    # in training, the step uses it
    model = small().eval()
    labels = torch.zeros(3, dtype=torch.long)
    xin = torch.cat([x, torch.rand(3, 1, 128)], dim=1)
    tolerant, parts = make_step(beta=0.0, shift_tolerant=True)(model, (xin, labels))
    plain, _ = make_step(beta=0.0)(model, (xin, labels))
    out = model(xin)
    torch.testing.assert_close(tolerant, shift_tolerant_mse(out.recon, out.target)[0])
    assert tolerant <= plain


def test_trimmed_shift_error_ignores_the_minority_pattern() -> None:
    from vae_demo.model import shift_tolerant_mse

    torch.manual_seed(1)
    a, b = torch.rand(2, 7, 128), torch.rand(2, 7, 128)
    window = torch.cat([a[..., 40:], b[..., :40]], dim=-1)  # 88 samples of a, then 40 of b
    full, shift = shift_tolerant_mse(a, window)
    trimmed, shift_t = shift_tolerant_mse(a, window, keep=0.5)
    # the majority pattern, shifted, fits its 88 samples exactly: the kept half costs nothing
    assert full > 0.01 and trimmed.abs() < 1e-6 and shift.tolist() == shift_t.tolist() == [88, 88]
    # by hand: the mean of the 64 smallest per-step errors of the best roll
    y, x = torch.rand(3, 7, 128), torch.rand(3, 7, 128)
    loss, d = shift_tolerant_mse(y, x, keep=0.5)
    rolled = torch.stack([torch.roll(r, int(k), dims=-1) for r, k in zip(y, d)])
    per_step = ((x - rolled) ** 2).mean(dim=1).sort(dim=1).values[:, :64]
    torch.testing.assert_close(loss, per_step.mean())
    # keep = 1 is the plain shift-tolerant error, and the step passes keep through
    torch.testing.assert_close(shift_tolerant_mse(y, x, keep=1.0)[0], shift_tolerant_mse(y, x)[0])
    model = small().eval()
    xin = torch.cat([x, torch.rand(3, 1, 128)], dim=1)
    labels = torch.zeros(3, dtype=torch.long)
    loss, _ = make_step(beta=0.0, shift_tolerant=True, keep=0.5)(model, (xin, labels))
    out = model(xin)
    torch.testing.assert_close(loss, shift_tolerant_mse(out.recon, out.target, keep=0.5)[0])


def test_spectral_error_compares_magnitude_spectra_and_ignores_the_offset() -> None:
    from vae_demo.model import spectral_errors

    torch.manual_seed(2)
    x, y = torch.rand(3, 7, 128), torch.rand(3, 7, 128)
    mag = lambda a: np.abs(np.fft.rfft(a.numpy(), axis=-1))  # noqa: E731
    by_hand = ((mag(y) - mag(x)) ** 2).mean(axis=(1, 2)) / 128
    torch.testing.assert_close(spectral_errors(y, x), torch.from_numpy(by_hand).float())
    # a cyclic shift costs nothing; on the MSE's scale (Parseval): against silence, ~ the mean square
    assert spectral_errors(torch.roll(x, 37, dims=-1), x).abs().max() < 1e-5
    noise = torch.randn(4, 7, 128)
    torch.testing.assert_close(
        spectral_errors(noise, torch.zeros_like(noise)).mean(),
        noise.pow(2).mean(),
        rtol=0.02,
        atol=0,
    )
    # a window of 88 samples of a and 40 of b is nearer a than b in spectrum
    a, b = torch.rand(1, 7, 128), torch.rand(1, 7, 128)
    window = torch.cat([a[..., 40:], b[..., :40]], dim=-1)
    assert spectral_errors(a, window) < spectral_errors(b, window)


def test_spectral_error_enters_the_loss_with_its_weight() -> None:
    from vae_demo.model import spectral_errors

    torch.manual_seed(0)
    model = small().eval()
    x, y = torch.rand(6, 8, 128), torch.zeros(6)
    base, parts = make_step(beta=0.1, shift_tolerant=True, keep=0.75)(model, (x, y))
    assert "spec" not in parts
    loss, parts = make_step(beta=0.1, shift_tolerant=True, keep=0.75, spectral=0.5)(model, (x, y))
    out = model(x)
    expected = spectral_errors(out.recon, out.target).mean()
    torch.testing.assert_close(parts["spec"], expected)
    torch.testing.assert_close(loss, base + 0.5 * expected)


def test_statistics_pooling_makes_the_encoder_nearly_blind_to_the_offset() -> None:
    torch.manual_seed(0)
    x = torch.rand(16, 8, 128)
    shifted = torch.roll(x, 8, dims=-1)  # 8 samples = one step of the encoder's T/8 feature map
    change = {}
    for pool in ("flatten", "stats"):
        model = TimeSeriesVAE(7, 128, encoder_pool=pool).eval()
        mu, _ = model.encode(x)
        mu_shifted, _ = model.encode(shifted)
        assert mu.shape == (16, 2)
        change[pool] = ((mu - mu_shifted).norm(dim=1) / mu.norm(dim=1)).mean().item()
    # attention has no positional code, so only the zero-padded window edges see the shift
    assert change["stats"] < 0.2 * change["flatten"], change
    # mean and std per channel
    assert small(encoder_pool="stats").encoder.dense.in_features == 2 * 4


def test_posterior_std_floor_adds_its_variance_to_the_learned_one() -> None:
    torch.manual_seed(0)
    x = torch.rand(32, 8, 128)
    free = TimeSeriesVAE(7, 128, init_log_var=-6.0).eval()
    floored = TimeSeriesVAE(7, 128, init_log_var=-6.0, min_posterior_std=0.2).eval()
    floored.load_state_dict(free.state_dict())  # same weights: only the floor differs
    mu, logvar = free.encode(x)
    mu_f, logvar_f = floored.encode(x)
    torch.testing.assert_close(mu_f, mu)  # the cluster metrics see the same z_mean
    torch.testing.assert_close(logvar_f.exp(), logvar.exp() + 0.2**2)  # sigma^2 = learned + s^2
    assert logvar.exp().sqrt().max() < 0.1 < 0.2 <= logvar_f.exp().sqrt().min()
    # the floor is in the training noise: z = mu + sigma * eps with sigma >= 0.2
    floored.train()
    torch.manual_seed(1)
    mu4 = floored.encode(x[:4])[0]  # train-mode BatchNorm: the same batch gives the same mu
    draws = torch.stack([floored(x[:4]).z - mu4 for _ in range(400)])
    assert 0.17 < draws.std().item() < 0.25
    # the learned part still gets gradients through the floor
    floored.encode(x)[1].sum().backward()
    assert floored.encoder.z_log_var.weight.grad.abs().sum() > 0


def test_centred_input_leaves_no_first_layer_unit_dead_at_initialisation() -> None:
    # windows like the data's: min-max scaled to [0, 1], mean ~0.5, std ~0.17
    torch.manual_seed(0)
    x = (0.5 + 0.17 * torch.randn(256, 8, 128)).clamp(0, 1)

    def dead(center: bool) -> int:
        n = 0
        for seed in range(10):
            torch.manual_seed(seed)
            model = TimeSeriesVAE(7, 128, center_input=center)
            conv = model.encoder.blocks[0].conv
            with torch.no_grad():
                x_enc = x - 0.5 if center else x
                n += int(((conv(x_enc) > 0).sum(dim=(0, 2)) == 0).sum())  # off for every window
        return n

    assert dead(center=False) >= 10  # ~3 of 16 filters per initialisation, as measured in the docs
    assert dead(center=True) == 0
    # the option only changes what the encoder sees
    torch.manual_seed(0)
    a, b = TimeSeriesVAE(7, 128), TimeSeriesVAE(7, 128, center_input=True)
    b.load_state_dict(a.state_dict())
    a.eval(), b.eval()
    torch.testing.assert_close(a.encode(x[:4] - 0.5)[0], b.encode(x[:4])[0])


def test_the_trimmed_shift_error_and_its_gradient_match_the_by_hand_computation() -> None:
    """The loss rolls the target back onto the output and drops the largest steps; the same maths
    as rolling the output and keeping the smallest, value and gradient (to float rounding)."""
    from vae_demo.model import real_spectra, shift_tolerant_mse, spectral_errors

    torch.manual_seed(3)
    x = torch.rand(5, 7, 128, dtype=torch.float64)
    y = torch.rand(5, 7, 128, requires_grad=True)

    def by_hand(out: torch.Tensor) -> torch.Tensor:
        errors = torch.stack(
            [((x - torch.roll(out, d, dims=-1)) ** 2).mean(dim=(1, 2)) for d in range(128)], 1
        )
        best = errors.argmin(dim=1)
        rolled = torch.stack([torch.roll(r, int(k), dims=-1) for r, k in zip(out, best)])
        kept = ((x - rolled) ** 2).mean(dim=1).sort(dim=1).values[:, :96]  # keep 0.75
        mag = lambda a: torch.fft.rfft(a.double(), dim=-1).abs()  # noqa: E731
        return kept.mean() + ((mag(out) - mag(x)) ** 2).mean(dim=(1, 2)).mean() / 128

    expected = by_hand(y)
    (grad_expected,) = torch.autograd.grad(expected, y)
    spectra = real_spectra(y, x)
    loss = shift_tolerant_mse(y, x, 0.75, spectra)[0] + spectral_errors(y, x, spectra).mean()
    (grad,) = torch.autograd.grad(loss, y)
    torch.testing.assert_close(loss.double(), expected, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(grad.double(), grad_expected.double(), atol=1e-9, rtol=1e-4)


def test_the_fast_layers_decode_every_sample_and_encode_the_spectrum() -> None:
    from vae_demo.model import DenseDecoder, SpectrumEncoder, dft_basis

    torch.manual_seed(0)
    x = torch.rand(6, 8, 128)
    # the basis gives the real FFT
    re, im = (x @ dft_basis(128)).chunk(2, dim=-1)
    torch.testing.assert_close(torch.complex(re, im), torch.fft.rfft(x, dim=-1), atol=1e-4, rtol=0)
    layers = Layers(encoder="spectrum", decoder="dense", spectrum_units=16, dense_decoder_units=16)
    model = TimeSeriesVAE(7, 128, layers=layers, center_input=True).eval()
    assert isinstance(model.encoder, SpectrumEncoder) and isinstance(model.decoder, DenseDecoder)
    out = model(x)
    assert out.recon.shape == out.target.shape == (6, 7, 128)
    assert ((out.recon >= 0) & (out.recon <= 1)).all()
    # a magnitude spectrum does not see where a cyclic window starts
    mu, _ = model.encode(x)
    torch.testing.assert_close(model.encode(torch.roll(x, 37, dims=-1))[0], mu, atol=1e-4, rtol=0)
    # the basis is rebuilt, not stored: the weights are the learned layers only
    assert not any("basis" in k for k in model.state_dict())
    with pytest.raises(ValueError, match="decoder must be 'gru' or 'dense'"):
        TimeSeriesVAE(7, 128, layers=Layers(decoder="lstm"))
    with pytest.raises(
        ValueError, match="encoder must be 'attention', 'spectrum' or 'min-spectrum'"
    ):
        TimeSeriesVAE(7, 128, layers=Layers(encoder="cepstrum"))


def half_window_min_by_hand(x: np.ndarray) -> np.ndarray:
    """min over the 8 half-windows starting at 0, T/8, ..., 7T/8 (cyclically) of |rfft| zero-padded
    to T, per channel: the default encoder's input, written out with NumPy. x (C, T) -> (C, F)."""
    T = x.shape[-1]
    spectra = []
    for start in range(0, T, T // 8):
        half = np.roll(x, -start, axis=-1)[:, : T // 2]  # (C, T/2)
        spectra.append(np.abs(np.fft.rfft(half, n=T, axis=-1)))  # (C, F)
    return np.min(spectra, axis=0)


def test_the_min_spectrum_encoder_reads_the_smallest_half_window_magnitude() -> None:
    from vae_demo.model import SpectrumEncoder

    x = torch.rand(3, 8, 128, generator=torch.Generator().manual_seed(0))
    least = SpectrumEncoder(8, 128, half_window_min=True).magnitude(x)  # (3, 8, 65)
    assert least.shape == (3, 8, 65)
    for b in range(3):
        expected = half_window_min_by_hand(x[b].double().numpy())
        np.testing.assert_allclose(least[b].numpy(), expected, atol=1e-4, rtol=1e-5)
    # a window 3/4 of one pattern (5 Hz) and 1/4 of its neighbour (11 Hz): the whole window's
    # spectrum holds both, the minimum over half-windows only the majority's
    t = torch.arange(128) / 128
    major, minor = torch.sin(2 * torch.pi * 5 * t), torch.sin(2 * torch.pi * 11 * t + 1.0)
    mixed = torch.cat([major[:96], minor[96:]])[None, None]  # (1, 1, 128)
    full = SpectrumEncoder(1, 128).magnitude(mixed)[0, 0]
    least = SpectrumEncoder(1, 128, half_window_min=True).magnitude(mixed)[0, 0]
    assert full[11] > 0.2 * full[5]
    assert least[5] > 10 and least[11] < 1e-3
    # so its features are near those of the pure majority pattern, and far from the neighbour's
    pure = SpectrumEncoder(1, 128, half_window_min=True).magnitude(major[None, None])[0, 0]
    other = SpectrumEncoder(1, 128, half_window_min=True).magnitude(minor[None, None])[0, 0]
    assert (least - pure).norm() < 0.5 * (least - other).norm()


def test_the_default_layers_encode_with_the_half_window_minimum() -> None:
    from vae_demo.config import Config
    from vae_demo.evaluate import build_model
    from vae_demo.model import DenseDecoder, SpectrumEncoder

    torch.manual_seed(0)
    model = build_model(Config()).eval()
    assert isinstance(model.encoder, SpectrumEncoder) and model.encoder.half_window_min
    assert isinstance(model.decoder, DenseDecoder)
    x = torch.rand(4, 8, 128)
    out = model(x)
    assert out.recon.shape == out.target.shape == (4, 7, 128)
    assert out.mu.shape == out.logvar.shape == (4, 2)
    # a cyclic shift by a multiple of T/8 only reorders the half-windows
    mu, _ = model.encode(x)
    torch.testing.assert_close(model.encode(torch.roll(x, 48, dims=-1))[0], mu, atol=1e-4, rtol=0)
    # the plain spectrum encoder (the previous default) has the same weights' shapes: only the
    # stored config tells them apart
    plain = TimeSeriesVAE(7, 128, layers=Layers(encoder="spectrum", decoder="dense"))
    assert {k: v.shape for k, v in plain.state_dict().items()} == {
        k: v.shape for k, v in model.state_dict().items()
    }


FAST = Layers(encoder="spectrum", decoder="dense", spectrum_units=16, dense_decoder_units=16)


@pytest.mark.parametrize("kw", [{}, {"time_bypass": True}, {"layers": FAST}])
def test_batchnorm_forward_gives_precise_bn_the_statistics_of_the_full_forward(kw) -> None:
    """Precise BN through the short forward (no GRU, attention, output) equals it through `forward`."""
    from sigzoo_shared.precise_bn import recompute_batchnorm

    batches = [torch.rand(8, 8, 128, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    stats = []
    for forward in ("forward", "batchnorm_forward"):
        torch.manual_seed(0)
        model = small(**kw) if "layers" not in kw else TimeSeriesVAE(7, 128, **kw)
        torch.manual_seed(1)  # z's draws: the same in both passes
        recompute_batchnorm(model, getattr(model, forward), batches, 3)
        stats.append({k: v for k, v in model.state_dict().items() if "running" in k})
    assert stats[0] and stats[0].keys() == stats[1].keys()
    for k in stats[0]:
        torch.testing.assert_close(stats[1][k], stats[0][k], rtol=1e-5, atol=1e-6)
