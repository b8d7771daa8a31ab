"""Every shipped model loads offline, matches its card, and reproduces figures of its card."""

from __future__ import annotations

from pathlib import Path

import ecg_vqvae
import numpy as np
import pytest
from ecg_vqvae.api import DEFAULT_PRETRAINED
from ecg_vqvae.cli import main
from ecg_vqvae.evaluate import example_starts
from sigzoo_shared.pretrained import REQUIRED_META, list_pretrained, verify_pretrained

SHIPPED = [card["name"] for card in list_pretrained("ecg_vqvae")]


def test_the_default_model_ships() -> None:
    assert DEFAULT_PRETRAINED in SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_model_loads_offline_with_its_card(name: str, capsys) -> None:
    verify_pretrained("ecg_vqvae", name)  # model.pt is the file its card describes
    model = ecg_vqvae.load_pretrained(name)
    assert model.forecaster is not None and not model.forecaster.training
    assert all(model.card.get(key) for key in REQUIRED_META)
    assert model.card["package_version"] == ecg_vqvae.__version__
    x = np.zeros((model.n_leads, model.window_samples))
    assert model.reconstruct(x).shape == x.shape
    assert main(["pretrained", "list"]) == 0 and name in capsys.readouterr().out
    assert main(["pretrained", "show", name]) == 0
    assert "ODC-By 1.0" in capsys.readouterr().out  # the data's licence is on the card


def test_mitdb_ds1_reproduces_its_card_on_record_220(mitdb_dir: Path) -> None:
    """Card figures of the unseen patient 220: reconstruction PRD over the whole record (5.574 %,
    within 0.01 points) and forecast MAE over the first 1 s of its 90 examples (one every 20 s, as
    `evaluate data.forecast_stride_s=20` cuts them; 0.0852 mV, within 0.0005 mV)."""
    model = ecg_vqvae.load_pretrained("mitdb-ds1")
    metrics = model.card["metrics"]
    x = model.read_record(mitdb_dir / "220")  # (2, 650000) mV
    w = model.window_samples
    whole = x[:, : x.shape[1] // w * w]  # the windows evaluate scores
    x_hat = model.reconstruct(whole)
    prd = 100 * np.linalg.norm(whole.astype(np.float64) - x_hat) / np.linalg.norm(whole)
    assert prd == pytest.approx(metrics["reconstruction_prd_pct_record_220"], abs=0.01)

    starts = example_starts(x.shape[1], w, model.horizon_samples, 20 * model.fs, None)
    assert len(starts) == 90
    one_s = model.fs
    errors = [
        np.abs(
            model.forecast(x, start_s=(s + w) / model.fs, samples=0).point[:, :one_s]
            - x[:, s + w : s + w + one_s]
        ).mean()
        for s in starts
    ]
    assert np.mean(errors) == pytest.approx(metrics["forecast_mae_mv_1s_record_220"], abs=5e-4)
