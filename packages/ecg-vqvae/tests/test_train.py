"""Training through the core: loss falls, codebook health per epoch, figures, resume == uninterrupted."""

import json
from pathlib import Path

import torch
from ecg_vqvae.cli import main
from ecg_vqvae.train import load_vqvae, train_vqvae
from sigzoo_shared import load_checkpoint


def test_vqvae_training_lowers_the_loss_and_logs_codebook_health(tiny_cfg, tmp_path: Path) -> None:
    import dataclasses

    cfg = dataclasses.replace(tiny_cfg, train=dataclasses.replace(tiny_cfg.train, epochs=4))
    result = train_vqvae(cfg, tmp_path / "run")
    history = result.history
    assert history[-1]["train_mse"] < history[0]["train_mse"]
    for epoch in history:
        assert 1 <= epoch["codes_used"] <= 32 and 1 <= epoch["perplexity"] <= 32
    assert result.best_checkpoint is not None and result.best_checkpoint.is_file()
    figures = sorted(p.name for p in (tmp_path / "run" / "figures").glob("*.png"))
    assert (
        "reconstruction_before_training.png" in figures
        and "reconstruction_epoch0003.png" in figures
    )
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    assert split["test"] == ["s005", "s006"] and not set(split["train"]) & set(split["test"])
    model, stored = load_vqvae(tmp_path / "run")
    assert stored.model.n_embed == 32 and not model.training


def test_resumed_run_equals_uninterrupted_run(tiny_overrides, tmp_path: Path) -> None:
    straight, broken = tmp_path / "straight", tmp_path / "broken"
    assert main(["train", "--run-dir", str(straight), *tiny_overrides, "train.epochs=2"]) == 0
    assert main(["train", "--run-dir", str(broken), *tiny_overrides, "train.epochs=1"]) == 0
    assert main(["train", "--resume", str(broken), "train.epochs=2"]) == 0
    a = load_checkpoint(straight / "checkpoints" / "last.pt")["model_state"]
    b = load_checkpoint(broken / "checkpoints" / "last.pt")["model_state"]
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    lines = (broken / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [0, 1]


def test_model_checkpoint_weights_initialise_a_new_run(tiny_overrides, tmp_path: Path) -> None:
    assert main(["train", "--run-dir", str(tmp_path / "a"), *tiny_overrides, "train.epochs=1"]) == 0
    weights = tmp_path / "a" / "checkpoints" / "last.pt"
    assert (
        main(
            [
                "train",
                "--run-dir",
                str(tmp_path / "b"),
                *tiny_overrides,
                "train.epochs=1",
                f"model.model_checkpoint_weights={weights}",
            ]
        )
        == 0
    )
    bad = [*tiny_overrides, "model.n_embed=16", f"model.model_checkpoint_weights={weights}"]
    assert main(["train", "--run-dir", str(tmp_path / "c"), *bad]) == 2
