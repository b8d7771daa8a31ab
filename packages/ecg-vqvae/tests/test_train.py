"""Training through the core: loss falls, codebook health per epoch, figures, resume == uninterrupted."""

import json
from pathlib import Path

import pytest
import torch
from ecg_vqvae.cli import main
from ecg_vqvae.train import load_vqvae, train_vqvae
from sigzoo_shared import ConfigError, load_checkpoint


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
    """On --resume the stored config wins: a key that would change the model or what was trained is
    one clear error naming it (the run is left as it was); the device and a moved data folder are
    accepted, more epochs are not under the default cosine schedule (its length is planned). Exact
    continuation after a real interruption is tested below."""
    run = tmp_path / "run"
    assert main(["train", "--run-dir", str(run), *tiny_overrides, "train.epochs=1"]) == 0
    before = (run / "metrics.jsonl").read_text()
    for refused in ("train.lr=0.01", "model.n_embed=64"):
        assert main(["train", "--resume", str(run), "train.epochs=2", refused]) == 2
        err = capsys.readouterr().err
        assert refused.split("=")[0] in err and "train.epochs" not in err.split("keys that may")[0]
        assert (run / "metrics.jsonl").read_text() == before
    assert main(["train", "--resume", str(run), "--config", str(run / "config.yaml")]) == 2
    assert "--config" in capsys.readouterr().err
    assert main(["train", "--resume", str(run), "--device", "cpu"]) == 0
    assert (run / "metrics.jsonl").read_text() == before  # the stored 1 epoch are done already
    # the default cosine schedule was planned for 1 epoch: more would train at its end rate
    assert main(["train", "--resume", str(run), "train.epochs=2"]) == 2
    assert "schedule was planned for T_max=1" in capsys.readouterr().err
    assert (run / "metrics.jsonl").read_text() == before


def test_resume_refuses_a_corrupt_checkpoint_before_reading_data(
    tiny_overrides, tmp_path: Path, capsys
) -> None:
    run = tmp_path / "run"
    assert main(["train", "--run-dir", str(run), *tiny_overrides, "train.epochs=1"]) == 0
    last = run / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[:100])
    capsys.readouterr()
    gone = tmp_path / "no-such-records"  # reading data first would fail on this folder instead
    argv = ["train", "--resume", str(run), "train.epochs=2", f"data.data_dir={gone}"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "last.pt" in err and str(gone) not in err and len(err.splitlines()) == 1


def test_model_checkpoint_weights_initialise_a_new_run(
    tiny_overrides, tmp_path: Path, monkeypatch
) -> None:
    """A run started from another run's weights continues with that run's codebook (the documented
    way to train a finished run further): no k-means re-initialisation on its first batch."""
    from ecg_vqvae.quantizer import VectorQuantizerEMA

    real_init, inits = VectorQuantizerEMA._init_kmeans, []

    def counting_init(self, flat):  # noqa: ANN001, ANN202
        inits.append(1)
        return real_init(self, flat)

    monkeypatch.setattr(VectorQuantizerEMA, "_init_kmeans", counting_init)
    assert main(["train", "--run-dir", str(tmp_path / "a"), *tiny_overrides, "train.epochs=1"]) == 0
    assert len(inits) == 1
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
    assert len(inits) == 1  # the second run kept the first run's codebook
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


def _beats(T: int, at: list[int], fs: float = 360.0) -> torch.Tensor:
    """(1, 2, T) mV: a 1 mV, 25 ms wide Gaussian QRS at each sample index of `at` on both leads."""
    t = torch.arange(T, dtype=torch.float32)
    sigma = 0.0125 * fs / 2
    x = torch.zeros(T) + sum(torch.exp(-0.5 * ((t - a) / sigma) ** 2) for a in at)
    return x.expand(1, 2, T).clone()


def test_qrs_envelope_peaks_at_the_beat_and_pays_a_missing_beat_more_than_a_late_one() -> None:
    from ecg_vqvae.train import qrs_envelope, qrs_envelope_kernels

    kernels = qrs_envelope_kernels(360.0)
    truth = _beats(1080, [300, 700])
    env = qrs_envelope(truth, kernels)  # (1, 2, 1080)
    assert env.shape == truth.shape
    for lead in range(2):
        peak = int(env[0, lead, :500].argmax())
        assert abs(peak - 300) <= 3  # linear phase: the envelope stays on the beat
    late = _beats(1080, [310, 710])  # 28 ms late
    flat = torch.zeros_like(truth)  # the beats dropped, as a pointwise median does when unsure
    cost = {
        name: (qrs_envelope(f, kernels) - env).abs().mean().item()
        for name, f in (("truth", truth), ("late", late), ("flat", flat))
    }
    assert cost["truth"] == 0.0 and 0 < cost["late"] < 0.5 * cost["flat"]


def test_forecast_step_adds_the_beat_heads_l1_and_weighted_energy_shift() -> None:
    from ecg_vqvae.train import energy_shift, make_forecast_step, qrs_envelope, qrs_envelope_kernels

    future, pred, beats = _beats(1080, [300]), _beats(1080, [320]), _beats(1080, [310])

    class TwoHeads(torch.nn.Module):
        def __init__(self, with_beats: bool) -> None:
            super().__init__()
            self.with_beats = with_beats

        def forward(self, context, prior=None, snap=False, head="point"):  # noqa: ANN001, ANN202
            assert head == "both"  # one transformer pass serves both heads
            return pred, (beats if self.with_beats else None)

    batch = (torch.zeros(1, 2, 1080), future)
    step = make_forecast_step("l1", beat_shift_weight=2.0, fs=360.0)
    plain, parts = step(TwoHeads(False), batch)
    assert "beats_shift" not in parts
    assert torch.isclose(plain, (pred - future).abs().mean())
    loss, parts = step(TwoHeads(True), batch)
    kernels = qrs_envelope_kernels(360.0)
    shift = energy_shift(qrs_envelope(beats, kernels), qrs_envelope(future, kernels), 360.0)
    beats_mae = (beats - future).abs().mean()
    assert torch.isclose(parts["beats_shift"], shift) and shift > 0
    assert torch.isclose(loss, plain + beats_mae + 2.0 * shift)


def test_forecast_validation_examples_follow_their_own_stride(tiny_cfg) -> None:
    import dataclasses

    import numpy as np
    from ecg_vqvae.train import forecast_datasets

    segments = {"r": np.zeros((2, 360 * 30), dtype=np.float32)}
    dense = forecast_datasets(tiny_cfg, segments)  # data.forecast_stride_s = 1.5
    sparse = forecast_datasets(tiny_cfg, segments, stride_s=6.0)
    assert [s for _, s in sparse.index] == [s for _, s in dense.index][::4]
    with pytest.raises(ConfigError, match="forecast.val_stride_s"):
        dataclasses.replace(tiny_cfg.forecast, val_stride_s=-1.0)


def test_energy_shift_grows_with_the_delay_and_prefers_a_sharp_beat_at_the_median_time() -> None:
    from ecg_vqvae.train import energy_shift, qrs_envelope, qrs_envelope_kernels

    kernels = qrs_envelope_kernels(360.0)
    truth = qrs_envelope(_beats(1080, [400]), kernels)

    def cost(at: list[int], scale: float = 1.0) -> float:
        pred = qrs_envelope(scale * _beats(1080, at), kernels)
        return energy_shift(pred, truth, 360.0).item()

    assert cost([400]) == pytest.approx(0.0, abs=1e-6)
    late10, late20, late40 = cost([410]), cost([420]), cost([440])
    assert late20 == pytest.approx(2 * late10, rel=0.05)  # the earth mover's distance: linear in d
    assert late40 == pytest.approx(4 * late10, rel=0.05)
    assert cost([], 0.0) > late40  # a missing beat costs its energy for the rest of the window
    # truth equally likely 20 samples early or late: a sharp beat at the median costs less than a
    # beat at either guess, and less than two half-height beats at both (a hedge)
    early, late = (qrs_envelope(_beats(1080, [a]), kernels) for a in (380, 420))

    def expected(pred_at: list[int], scale: float = 1.0) -> float:
        pred = qrs_envelope(scale * _beats(1080, pred_at), kernels)
        return 0.5 * (energy_shift(pred, early, 360.0) + energy_shift(pred, late, 360.0)).item()

    assert expected([400]) <= expected([380]) + 1e-6
    assert expected([400]) < expected([380, 420], 0.5)
