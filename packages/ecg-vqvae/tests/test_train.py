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


def test_resume_keeps_the_stored_config_and_names_a_refused_key(
    tiny_overrides, tmp_path: Path, capsys
) -> None:
    """On --resume the stored config wins: a key that would change the model is one clear error (the run
    is left as it was); a key that cannot (the device) is accepted. Exact continuation after a real
    interruption is tested below."""
    run = tmp_path / "run"
    assert main(["train", "--run-dir", str(run), *tiny_overrides, "train.epochs=1"]) == 0
    before = (run / "metrics.jsonl").read_text()
    assert main(["train", "--resume", str(run), "train.epochs=2", "model.n_embed=64"]) == 2
    err = capsys.readouterr().err
    assert "train.epochs=2" in err and "model.n_embed=64" in err and "stored config wins" in err
    assert (run / "metrics.jsonl").read_text() == before
    assert main(["train", "--resume", str(run), "--config", str(run / "config.yaml")]) == 0
    assert main(["train", "--resume", str(run), "--device", "cpu"]) == 0
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [0]


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


def test_run_resumed_mid_epoch_reports_the_same_codebook_usage(
    tiny_cfg, tmp_path: Path, monkeypatch
) -> None:
    """Killed between two steps of an epoch, resumed from the mid-epoch last.pt: same weights, codebook
    and per-epoch codes_used / perplexity / dead_restarts as an uninterrupted run (the usage counters
    travel in the checkpoint)."""
    import dataclasses

    import ecg_vqvae.train as train_module

    tc = dataclasses.replace(tiny_cfg.train, epochs=2, batch_size=4, checkpoint_every_n_steps=1)
    model_cfg = dataclasses.replace(tiny_cfg.model, dead_code_threshold=3.0)
    cfg = dataclasses.replace(tiny_cfg, train=tc, model=model_cfg, figure_every_n_epochs=10)
    straight = train_vqvae(cfg, tmp_path / "straight").history

    real_step = train_module.make_reconstruction_step

    def crashing(weight: float):
        step, calls = real_step(weight), [0]

        def crash_at_step_7(model, batch):
            calls[0] += 1
            if calls[0] == 7:  # the 3rd batch of epoch 1 (4-5 batches per epoch)
                raise KeyboardInterrupt
            return step(model, batch)

        return crash_at_step_7

    monkeypatch.setattr(train_module, "make_reconstruction_step", crashing)
    try:
        train_vqvae(cfg, tmp_path / "broken")
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("the interruption did not happen")
    monkeypatch.setattr(train_module, "make_reconstruction_step", real_step)
    assert load_checkpoint(tmp_path / "broken" / "checkpoints" / "last.pt")["batches_done"] > 0
    resumed = train_vqvae(cfg, resume=tmp_path / "broken").history
    keys = ("codes_used", "perplexity", "dead_restarts", "train_mse")
    assert [[e[k] for k in keys] for e in resumed] == [[e[k] for k in keys] for e in straight]
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")["model_state"]
    b = load_checkpoint(tmp_path / "broken" / "checkpoints" / "last.pt")["model_state"]
    assert all(torch.equal(a[k], b[k]) for k in a)
