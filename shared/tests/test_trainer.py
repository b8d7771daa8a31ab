"""The one training loop: what every package relies on, each feature on a tiny CPU problem."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
from matplotlib.figure import Figure
from sigzoo_shared import (
    ConfigError,
    EpochFigures,
    EpochMetrics,
    NonFiniteLossError,
    RunDir,
    TrainConfig,
    Trainer,
    make_loader,
)
from sigzoo_shared.trainer import build_scheduler
from torch import nn
from torch.utils.data import TensorDataset


def regression(n: int = 128, seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 5, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 0.0, 3.0]) + 0.05 * torch.randn(n, generator=g)
    return TensorDataset(x, y[:, None])


def mse_step(model: nn.Module, batch) -> tuple[torch.Tensor, dict]:
    x, y = batch
    loss = nn.functional.mse_loss(model(x), y)
    return loss, {"abs_err": (model(x) - y).abs().mean()}


def fit(
    tmp_path: Path,
    model: nn.Module | None = None,
    callbacks=(),
    val: bool = True,
    bn_step=None,
    resume: Path | None = None,
    **overrides,
):
    cfg = TrainConfig(
        **{
            "epochs": 3,
            "batch_size": 16,
            "lr": 0.2,
            "progress": False,
            "device": "cpu",
            **overrides,
        }
    )
    torch.manual_seed(0)
    model = model or nn.Linear(5, 1)
    train = make_loader(regression(), cfg.batch_size, shuffle=True, seed=cfg.seed)
    val_loader = make_loader(regression(64, seed=1), 32) if val else None
    result = Trainer(cfg, RunDir(tmp_path), callbacks, config=cfg).fit(
        model, mse_step, train, val_loader, bn_step=bn_step, resume=resume
    )
    return model, result


def test_loss_falls_and_everything_is_written(tmp_path: Path) -> None:
    _, result = fit(tmp_path, epochs=5)
    losses = [h["val_loss"] for h in result.history]
    assert losses[-1] < 0.1 * losses[0]
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == list(range(5))
    assert {"train_loss", "train_abs_err", "val_loss", "val_abs_err", "lr", "step"} <= set(lines[0])
    assert (tmp_path / "config.yaml").is_file()
    assert list(tmp_path.glob("events.out.tfevents.*")), "TensorBoard events"
    assert result.best_checkpoint == tmp_path / "checkpoints" / "best.pt"
    assert result.global_step == 5 * 8


def test_accumulating_k_micro_batches_equals_one_k_times_batch(tmp_path: Path) -> None:
    """SGD on 4 micro-batches of 8 with accumulation 4 == SGD on batches of 32, step for step."""
    base = nn.Linear(5, 1)
    cfg_a = TrainConfig(
        epochs=1,
        batch_size=8,
        accumulate_grad_batches=4,
        optimizer="sgd",
        momentum=0.0,
        lr=0.1,
        progress=False,
        device="cpu",
    )
    cfg_b = TrainConfig(
        epochs=1, batch_size=32, optimizer="sgd", momentum=0.0, lr=0.1, progress=False, device="cpu"
    )
    a, b = copy.deepcopy(base), copy.deepcopy(base)
    ds = regression(96)  # 12 micro-batches of 8 = 3 updates; 3 batches of 32 = 3 updates
    ra = Trainer(cfg_a, RunDir(tmp_path / "c"), config=cfg_a).fit(a, mse_step, make_loader(ds, 8))
    rb = Trainer(cfg_b, RunDir(tmp_path / "d"), config=cfg_b).fit(b, mse_step, make_loader(ds, 32))
    assert ra.global_step == rb.global_step == 3
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, rtol=1e-5, atol=1e-6)


def test_partial_last_accumulation_group_is_stepped(tmp_path: Path) -> None:
    # 128 samples / 16 = 8 batches, accumulation 3 -> groups of 3, 3, 2 -> 3 steps per epoch.
    _, result = fit(tmp_path, epochs=1, accumulate_grad_batches=3, val=False)
    assert result.global_step == 3


def test_gradient_clipping_bounds_the_update(tmp_path: Path) -> None:
    model = nn.Linear(5, 1)
    with torch.no_grad():
        model.weight.fill_(100.0)  # huge loss -> huge gradient
    before = model.weight.detach().clone()
    fit(
        tmp_path,
        model,
        epochs=1,
        optimizer="sgd",
        momentum=0.0,
        lr=1.0,
        grad_clip_norm=0.5,
        limit_train_batches=1,
        val=False,
    )
    # The whole gradient (weight and bias) has norm <= 0.5 after clipping, so the weight moves <= 0.5.
    assert (model.weight.detach() - before).norm() <= 0.5 + 1e-5


def test_non_finite_loss_names_the_step(tmp_path: Path) -> None:
    calls = []

    def step_that_blows_up(model, batch):
        calls.append(1)
        loss, parts = mse_step(model, batch)
        return (loss * float("nan") if len(calls) == 2 else loss), parts

    cfg = TrainConfig(epochs=1, batch_size=16, progress=False, device="cpu")
    with pytest.raises(
        NonFiniteLossError, match=r"non-finite loss \(nan\) at step 2 \(epoch 0, batch 1\)"
    ):
        Trainer(cfg, RunDir(tmp_path)).fit(
            nn.Linear(5, 1), step_that_blows_up, make_loader(regression(), 16)
        )


def test_limit_batches_and_max_steps(tmp_path: Path) -> None:
    _, r = fit(tmp_path / "a", epochs=2, limit_train_batches=2, limit_val_batches=1)
    assert r.global_step == 4
    _, r = fit(tmp_path / "b", epochs=50, max_steps=10)
    assert r.global_step == 10 and r.epochs_completed == 2 and r.stopped_early


def test_early_stopping_stops_and_resume_respects_it(tmp_path: Path) -> None:
    # lr=0 -> the validation loss never improves after epoch 0.
    _, r = fit(tmp_path, epochs=20, lr=1e-12, early_stopping_patience=2, min_delta=1e-3)
    assert r.stopped_early and r.epochs_completed == 3


def test_plateau_scheduler_lowers_the_lr(tmp_path: Path) -> None:
    _, r = fit(
        tmp_path, epochs=6, lr=1e-6, scheduler="plateau", scheduler_patience=1, scheduler_factor=0.1
    )
    lrs = [h["lr"] for h in r.history]
    assert lrs[-1] < lrs[0]


def test_any_torch_scheduler_can_be_passed(tmp_path: Path) -> None:
    cfg = TrainConfig(epochs=3, batch_size=16, progress=False, device="cpu")
    model = nn.Linear(5, 1)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 0.5**e)
    r = Trainer(cfg, RunDir(tmp_path)).fit(
        model, mse_step, make_loader(regression(), 16), optimizer=opt, scheduler=sched
    )
    assert [h["lr"] for h in r.history] == [1.0, 0.5, 0.25]
    opt2 = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)
    assert build_scheduler(opt2, TrainConfig(scheduler="onecycle", epochs=2), 5)[1] == "step"


def test_callbacks_write_figures_and_metrics(tmp_path: Path) -> None:
    def weight_plot(trainer, model, epoch):
        fig = Figure()
        fig.add_subplot().bar(range(5), model.weight.detach().squeeze().numpy())
        return fig

    def weight_norm(trainer, model, epoch):
        return {"weight_norm": float(model.weight.norm())}

    fit(
        tmp_path,
        epochs=4,
        callbacks=[
            EpochFigures(weight_plot, "weights", every_n_epochs=2),
            EpochMetrics(weight_norm),
        ],
    )
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == [
        "weights_epoch0001.png",
        "weights_epoch0003.png",
    ]
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert all("weight_norm" in r for r in lines)


def test_monitor_falls_back_to_train_loss_without_validation(tmp_path: Path) -> None:
    _, r = fit(tmp_path, epochs=2, val=False)
    assert r.monitor == "train_loss" and r.best_checkpoint is not None


def test_amp_is_off_on_cpu(tmp_path: Path) -> None:
    cfg = TrainConfig(device="cpu")
    trainer = Trainer(cfg, RunDir(tmp_path))
    assert trainer.amp_dtype is None and not trainer.scaler.is_enabled()


def test_bf16_autocast_on_cpu_when_asked(tmp_path: Path) -> None:
    seen: list[torch.dtype] = []

    def step(model: nn.Module, batch) -> tuple[torch.Tensor, dict]:
        x, y = batch
        pred = model(x)
        seen.append(pred.dtype)
        return nn.functional.mse_loss(pred.float(), y), {}

    cfg = TrainConfig(device="cpu", amp="bf16", epochs=4, batch_size=16, lr=0.2, progress=False)
    torch.manual_seed(0)
    model = nn.Linear(5, 1)
    trainer = Trainer(cfg, RunDir(tmp_path), config=cfg)
    r = trainer.fit(model, step, make_loader(regression(), 16, shuffle=True))
    assert trainer.amp_dtype is torch.bfloat16 and not trainer.scaler.is_enabled()
    assert set(seen) == {torch.bfloat16}  # the step ran under autocast
    assert model.weight.dtype is torch.float32  # the weights stay full precision
    assert r.history[-1]["train_loss"] < 0.5 * r.history[0]["train_loss"]


def test_loss_curves_figure_from_history(tmp_path: Path) -> None:
    from sigzoo_shared.plots import loss_curves

    _, r = fit(tmp_path, epochs=3)
    fig = loss_curves(r.history)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "abs_err"]
    assert len(fig.axes[0].lines) == 2  # train and val
    path = RunDir(tmp_path).save_figure(fig, "loss")
    assert path.stat().st_size > 1000


def test_precise_bn_gives_the_final_weights_statistics_and_leaves_training_unchanged(
    tmp_path: Path,
) -> None:
    def net() -> nn.Module:
        torch.manual_seed(0)
        # dropout draws random numbers: the recomputation must not shift them
        return nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.Dropout(0.2), nn.Linear(4, 1))

    plain, _ = fit(tmp_path / "plain", net(), epochs=2)
    precise, _ = fit(tmp_path / "precise", net(), epochs=2, precise_bn_batches=1000)
    for name, p in plain.named_parameters():  # identical training trajectory
        torch.testing.assert_close(dict(precise.named_parameters())[name], p)
    # running mean = the mean of the first layer's output over all 8 equal batches of the data
    with torch.no_grad():
        h = precise[0](regression().tensors[0])  # (128, 4)
    bn_precise, bn_plain = precise[1], plain[1]
    torch.testing.assert_close(bn_precise.running_mean, h.mean(0), atol=1e-5, rtol=0)
    torch.testing.assert_close(bn_precise.running_var, h.var(0), rtol=0.25, atol=0)
    # 8 batches, two forward passes each in mse_step; then the momentum is restored
    assert bn_precise.momentum == 0.1 and bn_precise.num_batches_tracked.item() == 16
    # the moving average of the plain run is not that
    assert (bn_plain.running_mean - h.mean(0)).abs().max() > 1e-3


def test_precise_bn_runs_the_cheaper_forward_a_package_gives(tmp_path: Path) -> None:
    """`bn_step` drives only the BatchNorm layers: same statistics, one pass per batch, same weights."""
    calls = []

    def bn_step(model: nn.Module, batch):
        calls.append(1)
        model[1](model[0](batch[0]))  # the layers up to the BatchNorm only

    def net() -> nn.Module:
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))

    full, _ = fit(tmp_path / "full", net(), epochs=1, precise_bn_batches=1000)
    cheap, _ = fit(tmp_path / "cheap", net(), epochs=1, precise_bn_batches=1000, bn_step=bn_step)
    assert len(calls) == 8 and cheap[1].num_batches_tracked.item() == 8
    torch.testing.assert_close(cheap[1].running_mean, full[1].running_mean)
    torch.testing.assert_close(cheap[2].weight, full[2].weight)


def test_precise_bn_batches_must_not_be_negative() -> None:
    with pytest.raises(Exception, match="train.precise_bn_batches"):
        TrainConfig(precise_bn_batches=-1)


def test_heartbeat_logs_where_a_silent_epoch_is(caplog, monkeypatch) -> None:
    import logging

    from sigzoo_shared import log as log_module
    from sigzoo_shared.log import Heartbeat

    clock = iter([0.0, 10.0, 31.0, 40.0, 62.0, 70.0, 80.0])
    monkeypatch.setattr(log_module.time, "monotonic", lambda: next(clock))
    beat = Heartbeat("epoch 1/3", 100, every_s=30, bar_visible=False)
    with caplog.at_level(logging.INFO, logger="sigzoo_shared.trainer"):
        fired = [beat.tick(i, loss=0.5) for i in (10, 31, 40, 62)]
    assert fired == [False, True, False, True]
    assert caplog.messages[0] == "epoch 1/3: batch 31/100, loss 0.5, 31 s"
    assert not Heartbeat("e", 5, every_s=30, bar_visible=True).enabled
    assert not Heartbeat("e", 5, every_s=0, bar_visible=False).enabled


def test_validation_and_callbacks_are_announced_when_slow(tmp_path, caplog, monkeypatch) -> None:
    """Off a terminal, a long validation logs heartbeats and the end-of-epoch work is announced."""
    import logging

    import torch
    from sigzoo_shared import Callback, RunDir, Trainer
    from sigzoo_shared.config import TrainConfig

    class Nothing(Callback):
        pass

    data = torch.utils.data.TensorDataset(torch.randn(16, 3), torch.randn(16, 1))
    loader = torch.utils.data.DataLoader(data, batch_size=4)
    model = torch.nn.Linear(3, 1)

    def step(m, batch):
        x, y = batch
        return torch.nn.functional.mse_loss(m(x), y), {}

    # every heartbeat and announcement fires: a 0-second interval would disable them, so use a tiny one
    cfg = TrainConfig(epochs=1, progress=False, progress_every_s=1e-9, device="cpu")
    trainer = Trainer(cfg, RunDir(tmp_path, tensorboard=False), callbacks=[Nothing()])
    with caplog.at_level(logging.INFO, logger="sigzoo_shared.trainer"):
        trainer.fit(model, step, loader, loader)
    text = "\n".join(caplog.messages)
    assert "epoch 1/1 validation: batch 1/4" in text
    assert "epoch 1/1: end-of-epoch callbacks (Nothing)" in text


def test_adam_takes_the_fused_update_with_the_configured_settings() -> None:
    """Adam/AdamW get PyTorch's fused update (cheaper per step on CPU), with lr, betas and weight decay
    as configured; parameter groups work; the other optimizers take the multi-tensor update."""
    from sigzoo_shared.trainer import build_optimizer

    cfg = TrainConfig(lr=3e-4, betas=(0.8, 0.99), weight_decay=0.01)
    net = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 1))
    for name, cls in (("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW)):
        opt = build_optimizer(net.parameters(), TrainConfig(**{**vars(cfg), "optimizer": name}))
        assert type(opt) is cls and opt.defaults["fused"]
        assert opt.defaults["lr"] == 3e-4 and opt.defaults["betas"] == (0.8, 0.99)
        assert opt.defaults["weight_decay"] == 0.01
    groups = [{"params": net[0].parameters()}, {"params": net[1].parameters(), "lr": 1e-3}]
    assert build_optimizer(groups, cfg).defaults["fused"]
    sgd = build_optimizer(net.parameters(), TrainConfig(optimizer="sgd"))
    assert isinstance(sgd, torch.optim.SGD) and sgd.defaults["foreach"]


@pytest.mark.parametrize("scheduler", ["cosine", "onecycle"])
def test_resume_refuses_to_stretch_a_planned_schedule(tmp_path: Path, scheduler: str) -> None:
    """More epochs on a cosine / one-cycle run would train them at the old plan's end rate."""
    fit(tmp_path, epochs=2, scheduler=scheduler)
    cfg = TrainConfig(epochs=4, batch_size=16, lr=0.2, progress=False, device="cpu")
    cfg.scheduler = scheduler
    train = make_loader(regression(), cfg.batch_size, shuffle=True, seed=cfg.seed)
    with pytest.raises(ConfigError, match="schedule was planned for"):
        Trainer(cfg, RunDir(tmp_path), config=cfg).fit(
            nn.Linear(5, 1), mse_step, train, resume=tmp_path
        )


def test_resume_with_more_epochs_continues_an_unplanned_schedule(tmp_path: Path) -> None:
    fit(tmp_path, epochs=2, scheduler="step", scheduler_step_size=1)
    _, result = fit(tmp_path, epochs=4, scheduler="step", scheduler_step_size=1, resume=tmp_path)
    assert result.epochs_completed == 4
