"""The models keep their input shape and have the seed's and the baseline's sizes."""

import pytest
import torch
from dcase_cae.model import CNNAutoEncoder, DenseAE, count_parameters, reconstruction_error


@pytest.mark.parametrize("side", [64, 128, 96])
def test_cae_reconstructs_the_patch_shape(side: int) -> None:
    model = CNNAutoEncoder(side=side).eval()
    x = torch.rand(3, 1, side, side)
    with torch.no_grad():
        y = model(x)
    assert y.shape == x.shape
    assert float(y.min()) >= 0 and float(y.max()) <= 1  # sigmoid output for [0, 1] inputs


def test_cae_has_the_seed_size() -> None:
    assert count_parameters(CNNAutoEncoder(128, z_dim=40)) == 1_026_601  # "about 1.03 M"
    assert CNNAutoEncoder(128).encode(torch.zeros(1, 1, 128, 128)).shape == (1, 40, 5, 5)


def test_cae_rejects_too_small_patches() -> None:
    with pytest.raises(ValueError, match="side >= 64"):
        CNNAutoEncoder(side=32)


def test_dense_ae_is_the_dcase_baseline() -> None:
    model = DenseAE(input_dim=640).eval()
    x = torch.randn(4, 640)
    assert model(x).shape == (4, 640)
    assert model.encode(x).shape == (4, 8)
    linear = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linear] == [128] * 4 + [8] + [128] * 4 + [640]
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in model.modules()) == 9


def test_reconstruction_error_is_per_sample_mse() -> None:
    model = DenseAE(input_dim=20).eval()
    x = torch.randn(5, 20)
    with torch.no_grad():
        err = reconstruction_error(model, x)
        expected = ((model(x) - x) ** 2).mean(dim=1)
    assert err.shape == (5,)
    torch.testing.assert_close(err, expected)
