"""Models come back from a run through the core's `load_run`: same weights, right variant, or one clear error."""

import shutil
from pathlib import Path

import pytest
import torch
from resp_mhavae.factory import load_model
from resp_mhavae.model import MHAVAE, SequenceLSTM, TemporalSelfAttention
from sigzoo_shared.errors import CheckpointError

CPU = torch.device("cpu")


def _best(phase: Path) -> dict:
    return torch.load(phase / "checkpoints" / "best.pt", map_location="cpu", weights_only=True)


@pytest.mark.parametrize(
    ("phase", "kind", "attention"),
    [
        ("mhavae/vae", MHAVAE, True),
        ("mhavae/lstm", SequenceLSTM, None),
        ("vae_lstm_no_attention/vae", MHAVAE, False),
        ("lstm_only", SequenceLSTM, None),
    ],
)
def test_each_phase_reloads_its_own_variant_with_its_best_weights(
    trained_run, phase: str, kind: type, attention: bool | None
) -> None:
    _, run = trained_run
    model = load_model(run / phase, CPU)
    assert isinstance(model, kind) and not model.training
    if attention is not None:
        assert isinstance(model.attention, TemporalSelfAttention) == attention
    stored = _best(run / phase)["model_state"]
    got = model.state_dict()
    assert got.keys() == stored.keys()
    assert all(torch.equal(got[k], stored[k]) for k in stored)


def test_weights_that_do_not_fit_the_stored_config_are_one_checkpoint_error(
    trained_run, tmp_path: Path
) -> None:
    _, run = trained_run
    phase = tmp_path / "vae"
    shutil.copytree(run / "mhavae" / "vae", phase)
    state = _best(phase)
    state["config"]["model"]["code_size"] += 1  # the config now describes another model
    torch.save(state, phase / "checkpoints" / "best.pt")
    with pytest.raises(CheckpointError, match="best.pt"):
        load_model(phase, CPU)


def test_weights_of_no_resp_model_name_the_checkpoint(trained_run, tmp_path: Path) -> None:
    _, run = trained_run
    phase = tmp_path / "other"
    shutil.copytree(run / "mhavae" / "vae", phase)
    state = _best(phase)
    state["model_state"] = {"encoder.weight": torch.zeros(2, 2)}  # another package's model
    torch.save(state, phase / "checkpoints" / "best.pt")
    with pytest.raises(CheckpointError, match=r"best\.pt: neither a resp-mhavae VAE nor LSTM"):
        load_model(phase, CPU)
