"""Training through the core: the loss falls, checkpoints land per machine type, resume == uninterrupted."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
import torch
from dcase_cae.cli import main
from dcase_cae.train import load_trained, reconstruction_step, train
from sigzoo_shared import Callback, load_checkpoint

dcase_train = importlib.import_module("dcase_cae.train")  # the module (the package exports `train`)


def test_dense_ae_loss_falls_and_checkpoints_are_written(
    tiny_data: Path, tmp_path: Path, tiny_config
) -> None:
    run = train(tiny_config(tiny_data, epochs=4), run_dir=tmp_path / "run")
    sub = run / "toy_fan"
    history = [json.loads(line) for line in (sub / "metrics.jsonl").read_text().splitlines()]
    assert len(history) == 4
    assert history[-1]["train_loss"] < 0.5 * history[0]["train_loss"]
    assert {"best.pt", "last.pt"} <= {p.name for p in (sub / "checkpoints").iterdir()}
    assert (run / "config.yaml").is_file() and (sub / "figures" / "loss.png").is_file()
    assert list((run / "cache").glob("*.npy"))  # features cached under the run by default
    model, cfg, state = load_trained(sub)
    assert cfg.model.name == "dense_ae" and not model.training
    assert state["path"].endswith("best.pt")


def test_cae_trains_on_patches(tiny_data: Path, tmp_path: Path, tiny_config) -> None:
    run = train(
        tiny_config(
            tiny_data, model="cae", figures=True, epochs=1, batch_size=8, limit_train_batches=2
        ),
        run_dir=tmp_path / "cae",
    )
    model, cfg, _ = load_trained(run / "toy_fan")
    assert cfg.data.n_mels == 64 and model.side == 64
    figures = {p.name for p in (run / "toy_fan" / "figures").iterdir()}
    assert "reconstruction_epoch0000.png" in figures


def test_step_returns_mse() -> None:
    model = torch.nn.Identity()
    x = torch.randn(4, 10)
    loss, parts = reconstruction_step(model, x)
    assert float(loss) == 0.0 and parts == {}


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(run / "toy_fan" / "checkpoints" / "last.pt")["model_state"]


def test_resumed_run_equals_uninterrupted_run(
    tiny_data: Path, tmp_path: Path, tiny_overrides
) -> None:
    common = ["--data-dir", str(tiny_data), *tiny_overrides, "model.name=dense_ae"]
    assert main(["train", "--run-dir", str(tmp_path / "full"), *common, "train.epochs=3"]) == 0
    assert main(["train", "--run-dir", str(tmp_path / "part"), *common, "train.epochs=1"]) == 0
    assert main(["train", "--resume", str(tmp_path / "part"), "train.epochs=3"]) == 0
    full, resumed = _weights(tmp_path / "full"), _weights(tmp_path / "part")
    for key in full:
        torch.testing.assert_close(full[key], resumed[key], rtol=0, atol=0)
    lines = (tmp_path / "part" / "toy_fan" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [0, 1, 2]


def test_resume_of_a_missing_run_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "--resume", str(tmp_path / "nope")]) == 2
    assert "nope: run directory not found" in capsys.readouterr().err


def test_resume_keeps_the_stored_config_and_checks_checkpoints_first(
    tiny_data: Path, tiny_overrides: list[str], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    common = ["--data-dir", str(tiny_data), *tiny_overrides, "model.name=dense_ae"]
    assert main(["train", "--run-dir", str(tmp_path / "r"), *common, "train.epochs=1"]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "r"), "train.lr=0.5"]) == 2
    assert "cannot change train.lr" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "r"), "--config", "x.yaml"]) == 2
    assert "--config x.yaml" in capsys.readouterr().err
    last = next((tmp_path / "r").glob("*/checkpoints/last.pt"))
    last.write_bytes(b"\x00" * 64)
    # refused before any audio is read: the data folder may even be gone
    assert (
        main(["train", "--resume", str(tmp_path / "r"), "--data-dir", str(tmp_path / "gone")]) == 2
    )
    assert "last.pt: corrupt or truncated" in capsys.readouterr().err


class _Interrupt(Callback):
    """Raises KeyboardInterrupt (as Ctrl-C would) right after optimizer step `at`."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_train_batch_end(self, trainer, model, loss, parts) -> None:  # noqa: ANN001
        if trainer.global_step == self.at:
            raise KeyboardInterrupt


def test_a_run_interrupted_mid_epoch_resumes_to_the_same_weights(
    tiny_data: Path, tmp_path: Path, tiny_config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CAE (dropout: the RNG state matters), mid-epoch checkpoints every 2 steps, interrupted one step
    after the mid-epoch checkpoint of epoch 2, so the resume must skip batches and redo a lost step."""
    cfg = tiny_config(tiny_data, model="cae", epochs=2, batch_size=8, checkpoint_every_n_steps=2)
    full = train(cfg, run_dir=tmp_path / "full")
    steps_per_epoch = (
        load_checkpoint(full / "toy_fan" / "checkpoints" / "last.pt")["global_step"] // 2
    )
    assert (
        steps_per_epoch >= 3
    )  # step 5 lies inside epoch 2, after a mid-epoch checkpoint at step 4

    class InterruptedTrainer(dcase_train.Trainer):
        def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
            super().__init__(*args, **kwargs)
            self.callbacks.append(_Interrupt(at=steps_per_epoch + 3))

    with monkeypatch.context() as patch:
        patch.setattr(dcase_train, "Trainer", InterruptedTrainer)
        with pytest.raises(KeyboardInterrupt):
            train(cfg, run_dir=tmp_path / "part")
    state = load_checkpoint(tmp_path / "part" / "toy_fan" / "checkpoints" / "last.pt")
    assert state["batches_done"] == 2 and state["global_step"] == steps_per_epoch + 2  # mid-epoch
    train(cfg, resume=tmp_path / "part")
    done, resumed = _weights(full), _weights(tmp_path / "part")
    for key in done:
        torch.testing.assert_close(done[key], resumed[key], rtol=0, atol=0)
    lines = (tmp_path / "part" / "toy_fan" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [0, 1]
