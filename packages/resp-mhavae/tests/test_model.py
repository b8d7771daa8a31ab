"""The model's shapes, the loss, and that vectorised and per-step LSTM decoding agree."""

import torch
from resp_mhavae.model import MHAVAE, SequenceLSTM, kl_divergence, vae_loss, weighted_squared_error


def test_vae_maps_a_window_to_a_latent_sequence_and_back() -> None:
    vae = MHAVAE(n_channels=3, code_size=5, widths=(4, 8, 16), num_heads=4).eval()
    x = torch.randn(2, 3, 40)
    recon, mu, logvar = vae(x)
    assert recon.shape == x.shape
    assert mu.shape == logvar.shape == (2, 5, 40)
    assert not hasattr(MHAVAE(3, 5, (4, 8), use_attention=False).attention, "attn")


def test_weighted_error_and_kl_match_hand_computation() -> None:
    x, x_hat = torch.zeros(1, 2, 4), torch.ones(1, 2, 4)
    x_hat[0, 1] = 2.0
    w = torch.tensor([0.25, 0.75])
    assert torch.allclose(weighted_squared_error(x, x_hat, w), torch.tensor([0.25 * 1 + 0.75 * 4]))
    assert torch.allclose(kl_divergence(torch.zeros(1, 3, 2), torch.zeros(1, 3, 2)), torch.zeros(1))
    loss, parts = vae_loss(x, x_hat, torch.ones(1, 3, 2), torch.zeros(1, 3, 2), w, kl_weight=0.8)
    assert torch.isclose(loss, parts["recon"] + 0.8 * parts["kl"])
    assert torch.isclose(parts["kl"], torch.tensor(0.5))


def test_vectorised_decoding_equals_the_per_step_loop() -> None:
    torch.manual_seed(0)
    fast = SequenceLSTM(4, hidden=8, num_layers=2, dropout=0.0).eval()
    slow = SequenceLSTM(4, hidden=8, num_layers=2, dropout=0.0, decoding="loop").eval()
    slow.load_state_dict(fast.state_dict())
    seq = torch.randn(3, 3, 4, 10)  # (B, k + 1, D, L)
    assert fast(seq).shape == (3, 4, 10)
    assert torch.allclose(fast(seq), slow(seq), atol=1e-5)
    assert torch.allclose(fast.generate(seq[:, :-1]), slow.generate(seq[:, :-1]), atol=1e-5)


def test_teacher_forced_prediction_uses_only_the_past() -> None:
    lstm = SequenceLSTM(2, hidden=8, num_layers=1).eval()
    seq = torch.randn(1, 2, 2, 6)
    changed = seq.clone()
    changed[0, -1, :, -1] += 10.0  # the last step can influence no prediction
    assert torch.allclose(lstm(seq), lstm(changed))
