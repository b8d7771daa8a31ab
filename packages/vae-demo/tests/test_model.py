"""Shapes, the time bypass, the reconstruct-time option and a batch-size-independent loss."""

import numpy as np
import pytest
import torch
from vae_demo.model import TimeSeriesVAE, kl_divergence, reparameterize
from vae_demo.train import KLWarmup, make_step


def small(**kw) -> TimeSeriesVAE:
    return TimeSeriesVAE(7, 128, channels=4, gru_units=8, n_heads=2, key_dim=4, **kw)


def test_shapes_follow_the_original_layout() -> None:
    x = torch.rand(5, 8, 128)
    out = small()(x)
    assert out.recon.shape == (5, 7, 128) and out.target.shape == (5, 7, 128)
    assert out.mu.shape == out.logvar.shape == out.z.shape == (5, 2)
    out = small(reconstruct_time=True)(x)
    assert out.recon.shape == (5, 8, 128)
    torch.testing.assert_close(out.target, x)
    assert ((out.recon >= 0) & (out.recon <= 1)).all()
    assert TimeSeriesVAE(7, 64, channels=4, gru_units=8)(torch.rand(2, 8, 64)).recon.shape == (
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


def test_posterior_floor_ramp_sets_the_models_floor_from_the_global_step() -> None:
    from types import SimpleNamespace

    from vae_demo.train import Ramp, set_posterior_floor

    model = small(min_posterior_std=0.25)
    ramp = Ramp(0.25, 10, 20, apply=set_posterior_floor, name="posterior_floor")
    floors = []
    for step in (0, 10, 15, 20, 40):
        ramp.on_train_batch_end(SimpleNamespace(global_step=step), model, 0.0, {})
        floors.append(model.min_posterior_std)
    assert floors == [0.0, 0.0, 0.125, 0.25, 0.25]
    resumed = small(min_posterior_std=0.25)
    Ramp(0.25, 10, 20, apply=set_posterior_floor).on_fit_start(
        SimpleNamespace(global_step=15), resumed
    )
    assert resumed.min_posterior_std == 0.125  # a resumed run continues the ramp
    annealed = Ramp(0.25, 10, 20, apply=set_posterior_floor, initial=0.65)
    for step, expected in ((0, 0.65), (15, 0.45), (30, 0.25)):
        annealed.on_train_batch_end(SimpleNamespace(global_step=step), resumed, 0.0, {})
        assert resumed.min_posterior_std == pytest.approx(expected)
    # floor 0: the learned variance alone; floor 0.125: sigma^2 = exp(logvar) + 0.125^2
    x = torch.rand(3, 8, 128)
    model.eval().min_posterior_std = 0.0
    _, logvar = model.encode(x)
    model.min_posterior_std = 0.125
    torch.testing.assert_close(model.encode(x)[1], torch.log(logvar.exp() + 0.125**2))


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


def test_mixture_prior_kl_matches_the_closed_form_and_pulls_towards_the_nearest_component() -> None:
    from vae_demo.model import MixturePrior

    torch.manual_seed(0)
    prior = MixturePrior(3, 2)
    with torch.no_grad():  # every component N(0, I): the mixture is the standard normal prior
        prior.means.zero_()
        prior.log_std.zero_()
    mu = torch.tensor([[0.5, -1.0], [2.0, 0.3]])
    logvar = torch.tensor([[-1.0, -2.0], [0.2, -0.5]])
    estimate = torch.stack([prior.kl(mu, logvar) for _ in range(20000)]).mean(0)
    torch.testing.assert_close(estimate, kl_divergence(mu, logvar), atol=0.03, rtol=0)
    # two components at (-2, 0) and (2, 0): the KL's gradient moves z towards the nearer one
    prior = MixturePrior(2, 2)
    with torch.no_grad():
        prior.means.copy_(torch.tensor([[-2.0, 0.0], [2.0, 0.0]]))
    mu = torch.tensor([[-1.2, 0.4], [1.5, -0.3]], requires_grad=True)
    narrow = torch.full((2, 2), -6.0)  # log-variance: a nearly deterministic z
    torch.stack([prior.kl(mu, narrow) for _ in range(200)]).mean(0).sum().backward()
    step = -mu.grad  # the direction gradient descent moves mu
    assert step[0, 0] < 0 < step[1, 0]  # left window to the left component, right to the right
    assert step[0, 1] < 0 < step[1, 1]  # and onto its axis
    # the prior's own parameters learn from the same term
    assert prior.means.grad is not None and prior.means.grad.abs().sum() > 0


def test_mixture_prior_trains_inside_the_step() -> None:
    torch.manual_seed(0)
    model = small(prior_components=4, min_posterior_std=0.2)
    x = torch.rand(8, 8, 128)
    loss, parts = make_step(beta=1.0, free_bits=0.0)(model, (x, torch.zeros(8)))
    loss.backward()
    assert torch.isfinite(loss) and parts["kl"].item() != 0
    assert model.prior.means.grad.abs().sum() > 0 and model.prior.logits.grad.abs().sum() > 0


def test_mean_shift_pull_draws_a_bridge_into_the_denser_side_and_keeps_clusters_apart() -> None:
    from vae_demo.model import mean_shift_pull

    torch.manual_seed(0)
    h = 0.3  # x the latent spread (~0.7 here): ~0.2 in latent units
    a = 0.03 * torch.randn(40, 2)  # a cluster at the origin
    b = 0.03 * torch.randn(40, 2) + torch.tensor([2.0, 0.0])  # another, 10 bandwidths away
    bridge = torch.stack([torch.linspace(0.1, 0.6, 6), torch.zeros(6)], dim=1)  # trails from a
    mu = torch.cat([a, b, bridge]).requires_grad_(True)
    # far-apart clusters alone: (almost) nothing to pull, each is already at its mode
    assert mean_shift_pull(torch.cat([a, b]), h).item() < 0.05
    start = mean_shift_pull(mu, h).item()
    # the bandwidth follows the latent's scale: shrinking the whole latent buys nothing
    torch.testing.assert_close(mean_shift_pull(0.1 * mu.detach(), h).item(), start)
    opt = torch.optim.SGD([mu], lr=0.01)  # each step moves a point half-way to its target
    for _ in range(200):
        opt.zero_grad()
        (mu.shape[0] * mean_shift_pull(mu, h)).backward()  # x B: unit weight per point
        opt.step()
    z = mu.detach()
    assert mean_shift_pull(z, h).item() < 0.1 * start
    assert (z[80:, 0] < 0.15).all(), z[80:, 0]  # the whole bridge went into cluster a ...
    torch.testing.assert_close(z[40:80].mean(0), b.mean(0), atol=0.01, rtol=0)  # ... b stayed put
    assert (z[:40, 0] < 0.15).all()  # and a did not move towards b


def test_mean_shift_pull_enters_the_loss_with_its_ramped_weight() -> None:
    from types import SimpleNamespace

    from vae_demo.model import mean_shift_pull
    from vae_demo.train import Ramp

    torch.manual_seed(0)
    model = small().eval()
    x, y = torch.rand(6, 8, 128), torch.zeros(6)
    pull = Ramp(0.5, 10, 20, name="mean_shift_weight")
    base, _ = make_step(beta=0.1)(model, (x, y))
    step = make_step(beta=0.1, pull=pull, bandwidth=0.3)
    loss, parts = step(model, (x, y))
    torch.testing.assert_close(loss, base)  # weight 0 before the ramp starts, but logged
    expected = mean_shift_pull(model.encode(x)[0], 0.3)
    torch.testing.assert_close(parts["pull"], expected)
    pull.on_train_batch_end(SimpleNamespace(global_step=15), model, 0.0, {})
    loss, _ = step(model, (x, y))
    torch.testing.assert_close(loss, base + 0.25 * expected)


def _sines(freqs: list[int], n: int, rng: np.random.Generator) -> torch.Tensor:
    """n windows (n, 7, 128) of one 128-periodic pattern (a sum of sines at `freqs` Hz, fs 128) at
    random cyclic offsets, min-max-like scaled, plus a little noise: what a stride-1 window of one
    pattern looks like to the encoder."""
    t = np.arange(128) / 128
    phase = rng.uniform(0, 2 * np.pi, size=(7, len(freqs)))
    base = np.sin(2 * np.pi * np.array(freqs)[None, :, None] * t + phase[..., None]).sum(
        1
    )  # (7, 128)
    base = 0.5 + base / (2 * np.abs(base).max())
    out = np.stack([np.roll(base, rng.integers(128), axis=1) for _ in range(n)])
    return torch.from_numpy(out + 0.02 * rng.standard_normal(out.shape)).float()


def test_content_repulsion_parts_two_patterns_but_not_one_pattern_or_noise() -> None:
    from vae_demo.model import content_repulsion, lag1_autocorrelation

    rng = np.random.default_rng(0)
    N = 12  # windows per group
    torch.manual_seed(0)
    xa, xb = _sines([2, 5, 11, 17, 23], N, rng), _sines([3, 7, 13, 19, 29], N, rng)
    xn = torch.from_numpy(0.5 + 0.15 * rng.standard_normal((N, 7, 128))).float()  # noise windows
    xf = _sines([1, 4, 9, 15, 27], N, rng)  # a pattern far away: sets the latent's spread
    x = torch.cat([xa, xb, xn, xf])
    signal = lag1_autocorrelation(x)
    # lag-1 autocorrelation: noise windows vs pattern windows
    assert signal[2 * N : 3 * N].max() < 0.15 < 0.4 < signal[: 2 * N].min()
    # patterns a and b landed in one place (merged), the noise in another, f far away
    mu0 = torch.cat(
        [
            0.05 * torch.randn(2 * N, 2),
            0.05 * torch.randn(N, 2) + torch.tensor([0.0, 1.5]),
            0.05 * torch.randn(N, 2) + torch.tensor([3.0, 0.0]),
        ]
    )
    h = 0.15
    spread_noise = float((mu0[2 * N : 3 * N] - mu0[2 * N : 3 * N].mean(0)).norm(dim=1).mean())
    start = content_repulsion(mu0, x, h, keep=0.75).item()
    # the bandwidth follows the latent's scale: inflating the whole latent buys nothing
    torch.testing.assert_close(content_repulsion(4 * mu0, x, h, keep=0.75).item(), start)
    mu = mu0.clone().requires_grad_(True)
    opt = torch.optim.SGD([mu], lr=0.1)
    for _ in range(300):
        opt.zero_grad()
        content_repulsion(mu, x, h, keep=0.75).backward()
        opt.step()
    z = mu.detach()

    def spread(g: slice) -> float:
        return float((z[g] - z[g].mean(0)).norm(dim=1).mean())

    assert content_repulsion(z, x, h, keep=0.75).item() < 0.2 * start
    # the two patterns no longer share a place: their closest windows are more than 0.1 apart (they
    # started mixed; the bandwidth is 0.15 x a spread of ~1.4). The term only pushes; gathering each
    # pattern again is the reconstruction's job under the posterior floor
    assert torch.cdist(z[:N], z[N : 2 * N]).min() > 0.1
    # the noise windows were not pushed apart
    assert spread(slice(2 * N, 3 * N)) < 1.1 * spread_noise
    # the far pattern stays where it was (it moves only through the spread that scales the bandwidth)
    assert (z[3 * N :].mean(0) - mu0[3 * N :].mean(0)).norm() < 0.05
    assert spread(slice(3 * N, 4 * N)) < 0.1


def test_content_repulsion_enters_the_loss_with_its_ramped_weight() -> None:
    from types import SimpleNamespace

    from vae_demo.model import content_repulsion
    from vae_demo.train import Ramp

    torch.manual_seed(0)
    model = small().eval()
    x, y = torch.rand(6, 8, 128), torch.zeros(6)
    base, _ = make_step(beta=0.1)(model, (x, y))
    repulsion = Ramp(0.5, 10, 20, name="repulsion_weight")
    step = make_step(beta=0.1, repulsion=repulsion, repulsion_bandwidth=0.2)
    loss, parts = step(model, (x, y))
    torch.testing.assert_close(loss, base)  # weight 0 before the ramp starts, but logged
    expected = content_repulsion(model.encode(x)[0], x[:, :7], 0.2)
    torch.testing.assert_close(parts["repel"], expected)
    repulsion.on_train_batch_end(SimpleNamespace(global_step=20), model, 0.0, {})
    loss, _ = step(model, (x, y))
    torch.testing.assert_close(loss, base + 0.5 * expected)


def test_extra_latent_dimensions_fade_out_of_the_decoders_input() -> None:
    """model.extra_latent_dims: the decoder sees the extra means scaled by `extra_scale` with their
    noise kept, nothing of them at scale 0; encode() returns the latent_dim-D latent only."""
    torch.manual_seed(0)
    model = small(extra_dims=2, min_posterior_std=0.25)
    x = torch.rand(6, 8, 128)
    assert model.encoder.z_mean.out_features == 4 and model.decoder.dense.in_features == 4
    mu, logvar = model.posterior(x)  # (6, 4) each
    torch.testing.assert_close(model.encode(x)[0], mu[:, :2])
    z = torch.randn(6, 4)
    for scale in (1.0, 0.5, 0.0):
        model.extra_scale = scale
        faded = model.fade_extra(z, mu)
        torch.testing.assert_close(faded[:, :2], z[:, :2])  # the latent itself is untouched
        expected = z[:, 2:] - (1 - scale) * mu[:, 2:] if scale > 0 else torch.zeros(6, 2)
        torch.testing.assert_close(faded[:, 2:], expected)
    model.eval()  # z = mu: at scale 0 the output depends on the 2-D latent alone
    out = model(x)
    assert out.mu.shape == out.z.shape == (6, 4)
    torch.testing.assert_close(out.z[:, 2:], torch.zeros(6, 2))
    torch.testing.assert_close(out.recon, model.decode(out.mu[:, :2]))
    model.extra_scale = 1.0
    assert not torch.allclose(model(x).recon, out.recon)


def test_encoder_taper_hides_the_window_edges_from_the_encoder_only() -> None:
    torch.manual_seed(0)
    tapered = small(encoder_taper=1.0, center_input=True).eval()
    plain = small(center_input=True).eval()
    plain.load_state_dict(tapered.state_dict())  # the taper is not a stored weight
    x = torch.rand(3, 8, 128)
    edges = x.clone()
    edges[..., 0] = torch.rand(3, 8)  # a Hann window is 0 at the first sample ...
    edges[..., :4] = edges[..., :4] + 0.001 * torch.rand(3, 8, 4)  # ... and ~1e-3 next to it
    centre = x.clone()
    centre[..., 60:68] = torch.rand(3, 8, 8)
    mu = tapered.encode(x)[0]
    torch.testing.assert_close(tapered.encode(edges)[0], mu, atol=1e-5, rtol=0)
    assert (tapered.encode(centre)[0] - mu).abs().max() > 1e-3  # the centre is seen
    assert (plain.encode(edges)[0] - plain.encode(x)[0]).abs().max() > 1e-4  # untapered: seen
    # the decoder and its target are untouched: the same z gives the same reconstruction
    z = torch.randn(3, 2)
    torch.testing.assert_close(tapered.decode(z), plain.decode(z))
    with pytest.raises(ValueError, match="encoder_taper"):
        small(encoder_taper=1.5)


def test_swap_edges_replaces_only_the_signal_edges_with_another_windows() -> None:
    from vae_demo.model import swap_edges

    torch.manual_seed(0)
    x = torch.rand(64, 8, 128)
    y = swap_edges(x, 7, 16)
    changed = (y != x).any(dim=1)  # (B, T)
    torch.testing.assert_close(y[:, 7], x[:, 7])  # the time channel is kept
    assert not changed[:, 16:112].any()  # at most 16 samples at either end
    assert changed[:, :16].any() and changed[:, 112:].any()
    for b in range(64):  # each replaced stretch is the same stretch of one other window
        for part in (slice(0, 16), slice(112, 128)):
            t = torch.nonzero(changed[b, part]).flatten() + part.start
            if len(t):
                donors = [d for d in range(64) if torch.equal(y[b, :7, t], x[d, :7, t])]
                assert donors and b not in donors


def test_edge_swap_changes_the_encoders_training_input_only() -> None:
    torch.manual_seed(0)
    model = small(edge_swap=16, center_input=True)
    x = torch.rand(8, 8, 128)
    out = model(x)
    torch.testing.assert_close(out.target, x[:, :7])  # the target is the untouched window
    model.eval()
    torch.testing.assert_close(model(x).mu, model(x).mu)  # no augmentation in eval mode
    torch.testing.assert_close(model(x).mu, model.encode(x)[0])
    with pytest.raises(ValueError, match="edge_swap"):
        small(edge_swap=64)


def test_encoder_without_time_ignores_the_time_channel_and_the_decoder_gets_none() -> None:
    torch.manual_seed(0)
    model = small(encoder_time=False).eval()
    assert model.encoder.blocks[0].conv.in_channels == 7  # the signal channels only
    x = torch.rand(4, 8, 128)
    shifted = x.clone()
    shifted[:, 7] = torch.roll(x[:, 7], 32, dims=-1)  # another phase of the time channel
    out = model(x)
    torch.testing.assert_close(model(shifted).mu, out.mu)
    torch.testing.assert_close(model(shifted).recon, out.recon)  # no time value reaches the decoder
    seeing = small().eval()
    assert (seeing(shifted).mu - seeing(x).mu).abs().max() > 1e-4  # the original reads it
