"""Model shapes, losses, and one test per defect of the original that lives in the model."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from event_lstm.model import (
    ContrastiveLSTM,
    EventSpecificClassifier,
    EventSpecificLoss,
    EventTimingLoss,
    LSTMAutoencoder,
    LSTMEventClassifier,
    TemporalAugmentation,
    VariationalLSTMAutoencoder,
    fractional_shift,
    gaussian_timing_target,
    nt_xent_loss,
    refractory_penalty,
    transfer_encoder_to_classifier,
    vae_loss,
)

SMALL = {"hidden_size": 16, "attention_heads": 4, "downsample": 10, "frontend_channels": 8}
ES = {
    "hidden_size": 16,
    "downsample": 10,
    "frontend_channels": 8,
    "cnn_channels": 2,
    "cnn_out_per_event": 1,
    "timing_head_dim": 8,
}


def batch(B: int = 3, T: int = 300) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(B, T, 6, generator=g)
    labels = (torch.rand(B, 16, generator=g) < 0.3).float()
    timings = torch.randint(0, T, (B, 16), generator=g).float()
    return x, labels, timings


def test_lstm_classifier_outputs_have_documented_shapes() -> None:
    x, *_ = batch()
    out = LSTMEventClassifier(**SMALL)(x)
    assert out["event_logits"].shape == (3, 16)
    assert out["timing_logits"].shape == (3, 16, 30)  # 300 samples / downsample 10
    assert torch.allclose(out["timing_probs"].sum(-1), torch.ones(3, 16))
    assert out["attention_weights"].shape == (3, 30, 30)
    assert out["hidden_states"].shape == (3, 30, 32)


def test_padded_windows_match_their_unpadded_outputs() -> None:
    torch.manual_seed(0)
    model = LSTMEventClassifier(**SMALL).eval()
    x, *_ = batch(2, 300)
    short = x[1:, :200]
    padded = torch.cat([x[:1], torch.nn.functional.pad(short, (0, 0, 0, 100))])
    out = model(padded, lengths=torch.tensor([300, 200]))
    alone = model(short)
    assert torch.allclose(out["event_probs"][1], alone["event_probs"][0], atol=1e-5)
    assert torch.allclose(out["timing_probs"][1, :, :20], alone["timing_probs"][0], atol=1e-5)
    assert out["timing_probs"][1, :, 20:].max() < 1e-6


def test_event_specific_classifier_outputs_and_template_grid(tmp_path) -> None:
    from event_lstm.plots import visualize_learned_templates

    x, labels, _ = batch()
    model = EventSpecificClassifier(**ES)
    out = model(x, event_mask=labels > 0.5)
    assert out["timing_logits"].shape == (3, 16, 30)
    assert out["template_scores"].shape == (3, 300, 16)
    assert out["template_scores"].abs().max() <= 1.0 + 1e-5
    assert model.template_bank.templates.shape == (16, 6, 80)
    assert visualize_learned_templates(model, tmp_path / "t.png").stat().st_size > 10_000


def test_fractional_shift_integer_delay_is_a_zero_filled_shift() -> None:
    x = torch.arange(1.0, 9.0).reshape(1, 8)
    assert torch.equal(
        fractional_shift(x, torch.tensor([2.0])), torch.tensor([[0, 0, 1, 2, 3, 4, 5, 6.0]])
    )
    half = fractional_shift(x, torch.tensor([0.5]))
    assert torch.allclose(half[0, 1:], x[0, :-1] + 0.5)


def test_template_delays_receive_gradients_and_learn() -> None:
    """Original defect: delays applied with a non-differentiable roll never changed."""
    torch.manual_seed(0)
    model = EventSpecificClassifier(**ES)
    x, labels, timings = batch()
    before = model.template_bank.delays.detach().clone()
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(3):
        parts = EventSpecificLoss()(model(x, event_mask=labels > 0.5), labels, timings)
        opt.zero_grad()
        parts["loss"].backward()
        assert model.template_bank.delay_params.grad.abs().sum() > 0
        opt.step()
    assert (model.template_bank.delays - before).abs().max() > 1e-3
    assert model.template_bank.delays.abs().max() <= 10.0


def test_per_event_cnn_features_reach_the_outputs() -> None:
    """Original defect: the per-event CNN features were computed and thrown away."""
    torch.manual_seed(0)
    model = EventSpecificClassifier(**ES)
    x, labels, timings = batch()
    EventSpecificLoss()(model(x, event_mask=labels > 0.5), labels, timings)["loss"].backward()
    last_conv = model.event_cnn.event_path[4]
    assert last_conv.weight.grad is not None and last_conv.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("c_in", "c_out", "kernel", "padding", "groups"),
    [(6, 10, 11, 5, 1), (8, 8, 41, 20, 2), (6, 16, 80, 0, 1)],  # first layer, grouped, templates
)
def test_spectral_convolution_equals_conv1d(c_in, c_out, kernel, padding, groups) -> None:
    from event_lstm.event_specific import conv_spectrum, fft_size, spectral_conv

    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, c_in, 300, generator=g)
    w = torch.randn(c_out, c_in // groups, kernel, generator=g)
    bias = torch.randn(c_out, generator=g)
    want = F.conv1d(F.pad(x, (padding, kernel - 1 - padding)), w, bias, groups=groups)
    n = fft_size(300 + max(padding, kernel - 1 - padding))
    got = spectral_conv(F.pad(x, (0, n - 300)), conv_spectrum(w, n, padding, groups), bias, groups)
    assert torch.allclose(got[..., :300], want, atol=1e-4)


# 305: the last LSTM step holds 5 samples; cnn_channels 0: the model without the per-event CNN
@pytest.mark.parametrize(("T", "cnn_channels"), [(300, 2), (305, 2), (305, 0)])
def test_fast_inference_gives_the_reference_outputs(T, cnn_channels) -> None:
    """FFT convolutions, the front end as matrix products and skipped timing heads change nothing a
    user reads (events, onsets, probabilities within float rounding), with padded windows too."""
    torch.manual_seed(0)
    model = EventSpecificClassifier(**{**ES, "cnn_channels": cnn_channels}).eval()
    x, *_ = batch(4, T)
    lengths = torch.tensor([T, T, 200, 81])
    with torch.no_grad():
        fast = model.predict_events(x, lengths, threshold=0.5, apply_refractory=False)
        all_heads = model.window_scores(x, lengths, threshold=0.0)
        model.fast_inference = False
        ref = model.predict_events(x, lengths, threshold=0.5, apply_refractory=False)
        ref_scores = model.window_scores(x, lengths)
    assert 0 < int(ref["present"].sum()) < ref["present"].numel()
    assert torch.allclose(fast["probs"], ref["probs"], atol=1e-5)
    assert torch.equal(fast["present"], ref["present"])
    assert torch.equal(fast["onsets"].nan_to_num(-1.0), ref["onsets"].nan_to_num(-1.0))
    assert torch.equal(all_heads[1], ref_scores[1])  # threshold 0: every head, the same onsets


def test_front_end_convolutions_as_matrix_products_equal_conv1d() -> None:
    from event_lstm.backbone import conv_as_matmul, strided_conv_as_matmul
    from event_lstm.event_specific import window_sums

    torch.manual_seed(0)
    x = torch.randn(3, 300, 6)
    conv = torch.nn.Conv1d(6, 8, 11, padding=5)
    want = conv(x.transpose(1, 2)).transpose(1, 2)  # (B, T, O)
    assert torch.allclose(conv_as_matmul(x, conv), want, atol=1e-5)
    down = torch.nn.Conv1d(8, 8, 10, stride=10)
    h = torch.randn(3, 300, 8)
    want = down(h.transpose(1, 2)).transpose(1, 2)  # (B, 30, O)
    assert torch.allclose(strided_conv_as_matmul(h, down), want, atol=1e-5)
    sq = torch.rand(3, 1, 300)
    want = F.conv1d(F.pad(sq, (0, 79)), torch.ones(1, 1, 80))  # sums over 80 samples, zero beyond
    assert torch.allclose(window_sums(sq, 80), want, atol=1e-4)


def test_event_specific_model_without_the_per_event_cnn_trains() -> None:
    """`cnn_channels=0` drops the per-event CNN: the LSTM sees the front end and template scores."""
    torch.manual_seed(0)
    model = EventSpecificClassifier(**{**ES, "cnn_channels": 0})
    assert model.event_cnn is None and model.cnn_reduce is None
    x, labels, timings = batch()
    out = model(x, event_mask=labels > 0.5)
    assert out["timing_logits"].shape == (3, 16, 30)
    EventSpecificLoss()(out, labels, timings)["loss"].backward()
    assert model.template_bank.templates.grad.abs().sum() > 0


@pytest.mark.parametrize("cnn_channels", [0, 2])
def test_a_new_model_starts_at_the_event_prior(cnn_channels) -> None:
    """The presence head's output bias is log(p / (1 - p)), so an untrained model reports each type
    with about the prior probability p, not 0.5 (its weights add a little: the max over 30 steps)."""
    from event_lstm.builders import build_model
    from event_lstm.config import ModelConfig

    torch.manual_seed(0)
    p = 0.094  # the generator's rate: 0.5 s windows, mean gap 2 s + 1 / 0.3 s
    model = build_model(ModelConfig(**{**ES, "cnn_channels": cnn_channels})).eval()
    assert ModelConfig().event_prior == p
    assert torch.allclose(model.event_head[-1].bias, torch.full((16,), math.log(p / (1 - p))))
    with torch.no_grad():
        probs = model(batch(8, 300)[0])["event_probs"]  # (B, E)
    assert abs(probs.mean().item() - p) < 0.01 and probs.max() < 0.15
    with torch.no_grad():  # a head whose weights contribute nothing sits exactly at the prior
        model.event_head[-1].weight.zero_()
        probs = model(batch(8, 300)[0])["event_probs"]
    assert torch.allclose(probs, torch.full_like(probs, p))


def test_cnn_reduction_after_pooling_equals_pooling_after_it() -> None:
    """The per-event 1x1 reduction runs on pooled steps; with a partial last step the result is
    still the reduction of each sample, zero-padded, then averaged (as it was computed before)."""
    torch.manual_seed(0)
    model = EventSpecificClassifier(**ES).eval()
    x, *_ = batch(2, 305)
    captured = {}

    def keep_extra(module, args, out) -> None:  # the encoder's third input: the pooled features
        captured["extra"] = args[2]

    model.encoder.register_forward_hook(keep_extra)
    with torch.no_grad():
        model(x)
        xc = model._prepare(x, None)
        ev, _ = model.event_cnn(xc)  # (B, T, E, K)
        per_sample = model.cnn_reduce(ev.flatten(2).transpose(1, 2))  # (B, E * k, T)
        want = F.avg_pool1d(F.pad(per_sample, (0, 5)), 10).transpose(1, 2)  # (B, S, E * k)
    E = model.num_events
    assert torch.allclose(captured["extra"][..., E : E + want.shape[-1]], want, atol=1e-5)


def test_event_specific_loss_counts_its_refractory_weight() -> None:
    """Original defect: EventSpecificLoss ignored refractory_weight."""
    torch.manual_seed(0)
    x, labels, timings = batch()
    out = EventSpecificClassifier(**ES)(x, event_mask=labels > 0.5)
    a = EventSpecificLoss(refractory_weight=0.0)(out, labels, timings)
    b = EventSpecificLoss(refractory_weight=1.0)(out, labels, timings)
    assert b["refractory"] > 0
    assert torch.isclose(b["loss"] - a["loss"], b["refractory"])


def test_gaussian_target_is_a_distribution_peaking_at_the_onset_bin() -> None:
    target = gaussian_timing_target(torch.tensor([[123.0]]), n=30, bin_samples=10, sigma=5.0)
    assert torch.isclose(target.sum(), torch.tensor(1.0))
    assert int(target.argmax()) == 12


def test_refractory_penalty_is_zero_for_one_peak_and_grows_with_two() -> None:
    one = torch.zeros(1, 1, 100)
    one[..., 40] = 1.0
    two = torch.zeros(1, 1, 100)
    two[..., 10] = two[..., 80] = 0.5
    assert refractory_penalty(one, 10, 4000, 20).item() == 0.0
    assert math.isclose(
        refractory_penalty(two, 10, 4000, 20).item(), 0.5, rel_tol=1e-5
    )  # 2 * 0.5 * 0.5


def test_timing_loss_falls_when_fitting_a_batch() -> None:
    torch.manual_seed(0)
    model = LSTMEventClassifier(**{**SMALL, "dropout": 0.0})
    x, labels, timings = batch(4, 300)
    loss_fn = EventTimingLoss()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        parts = loss_fn(model(x), labels, timings)
        opt.zero_grad()
        parts["loss"].backward()
        opt.step()
        losses.append(parts["loss"].item())
    assert losses[-1] < 0.7 * losses[0]


def test_predict_events_applies_the_refractory_filter_across_windows() -> None:
    """Original defect: the refractory filter inside predict_events was a no-op."""
    torch.manual_seed(0)
    model = LSTMEventClassifier(**SMALL).eval()
    x = torch.randn(1, 300, 6).repeat(2, 1, 1)  # two windows seeing the same data ...
    offsets = torch.tensor([0, 100])  # ... 100 samples apart in one recording
    raw = model.predict_events(x, threshold=0.0, apply_refractory=False, offsets=offsets)
    kept = model.predict_events(x, threshold=0.0, apply_refractory=True, offsets=offsets)
    assert int(raw["present"].sum()) == 32
    assert int(kept["present"].sum()) == 16  # one per type survives
    assert torch.isnan(kept["onsets"][~kept["present"]]).all()
    assert (kept["onsets"][kept["present"]] % 10 == 0).all()  # 5 ms resolution


@pytest.mark.parametrize("cls", [LSTMAutoencoder, VariationalLSTMAutoencoder, ContrastiveLSTM])
def test_pretrained_encoders_transfer_into_both_classifiers(cls) -> None:
    kw = {"hidden_size": 16, "downsample": 10, "frontend_channels": 8}
    source = cls(**kw)
    clf = LSTMEventClassifier(attention_heads=4, **kw)
    copied = transfer_encoder_to_classifier(source, clf)
    assert "lstm.weight_ih_l0" in copied and "frontend.conv.weight" in copied
    assert torch.equal(clf.encoder.lstm.weight_hh_l1, source.encoder.lstm.weight_hh_l1)
    es = EventSpecificClassifier(**ES)
    copied_es = source.transfer_encoder_to_classifier(es)
    assert "frontend.conv.weight" in copied_es and "lstm.weight_ih_l0" not in copied_es


def test_vae_loss_is_reconstruction_plus_weighted_kl() -> None:
    torch.manual_seed(0)
    x, *_ = batch()
    out = VariationalLSTMAutoencoder(hidden_size=16, downsample=10)(x)
    assert out["reconstruction"].shape == x.shape
    parts = vae_loss(out, kl_weight=0.5)
    assert torch.isclose(parts["loss"], parts["recon"] + 0.5 * parts["kl"])


def test_nt_xent_matches_a_hand_computation() -> None:
    z1 = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), dim=-1)
    z2 = z1.clone()
    t = 0.5
    # row 0: partner sim 1/t, others: z1[1] (0), z2[1] (0) -> -log(e^2 / (e^2 + 2))
    expected = -math.log(math.exp(2) / (math.exp(2) + 2))
    assert math.isclose(nt_xent_loss(z1, z2, t).item(), expected, rel_tol=1e-5)


def test_temporal_augmentation_keeps_shape_and_follows_its_generator() -> None:
    x, *_ = batch()
    a = TemporalAugmentation(generator=torch.Generator().manual_seed(1))
    b = TemporalAugmentation(generator=torch.Generator().manual_seed(1))
    for op in ("add_noise", "scale", "crop", "shift", "random_augment"):
        ya, yb = getattr(a, op)(x), getattr(b, op)(x)
        assert ya.shape == x.shape and torch.equal(ya, yb)
    assert not torch.equal(a.shift(x), x)


def test_freeze_backbone_stops_encoder_gradients() -> None:
    model = LSTMEventClassifier(**SMALL)
    model.freeze_backbone()
    assert not any(p.requires_grad for p in model.encoder.parameters())
    assert all(p.requires_grad for p in model.event_head.parameters())
    model.unfreeze_backbone()
    assert all(p.requires_grad for p in model.encoder.parameters())
    assert model.get_embeddings(batch()[0]).shape == (3, 32)
