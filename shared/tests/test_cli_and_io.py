"""Shared CLI plumbing: overrides, one-line errors with exit code 2; atomic writers; bench tables."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from sigzoo_shared.bench import markdown_table, step_times, time_fn, write_bench
from sigzoo_shared.cli import add_config_args, base_parser, overrides_from, run_main
from sigzoo_shared.config import TrainConfig, load_config
from sigzoo_shared.errors import DataError
from sigzoo_shared.io import atomic_write_csv, atomic_write_json


def parser() -> argparse.ArgumentParser:
    p, sub = base_parser("toy", "a toy CLI")
    train = sub.add_parser("train")
    add_config_args(train)
    return p


def test_overrides_collected_in_order() -> None:
    args = parser().parse_args(
        ["train", "--set", "lr=0.1", "epochs=3", "--device", "cpu", "--quick"]
    )
    overrides = overrides_from(args)
    assert overrides[:2] == ["lr=0.1", "epochs=3"] and "train.device=cpu" in overrides
    cfg = load_config(TrainConfig, None, [o.removeprefix("train.") for o in overrides])
    assert cfg.epochs == 1 and cfg.limit_train_batches == 2 and cfg.lr == 0.1


def test_user_error_is_one_line_and_exit_code_2(capsys) -> None:
    def dispatch(args):
        raise DataError("data/x.wav: sample rate 44100 Hz, expected 16000 Hz")

    code = run_main(dispatch, parser(), ["train"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1] == "toy: error: data/x.wav: sample rate 44100 Hz, expected 16000 Hz"
    assert not any("Traceback" in line for line in err)


def test_atomic_writers(tmp_path: Path) -> None:
    atomic_write_json(tmp_path / "r.json", {"auc": 0.5, "path": tmp_path})
    assert json.loads((tmp_path / "r.json").read_text())["auc"] == 0.5
    atomic_write_csv(tmp_path / "r.csv", [{"id": "00", "auc": 0.7}, {"id": "02", "auc": 0.8}])
    assert (tmp_path / "r.csv").read_text() == "id,auc\n00,0.7\n02,0.8\n"
    assert not list(tmp_path.glob(".*.tmp"))


def test_bench_helpers(tmp_path: Path) -> None:
    calls = []
    timing = time_fn(lambda: calls.append(1), warmup=2, repeat=3)
    assert len(calls) == 5 and timing["median_s"] >= 0

    def spin() -> None:  # CPU-bound: its CPU time is close to its wall time, and both > 0
        sum(i * i for i in range(200_000))

    both = time_fn(spin, warmup=0, repeat=3)
    assert 0 < both["min_s"] <= both["median_s"] <= both["max_s"]
    assert both["median_cpu_s"] > 0
    times = step_times(spin, 2)
    assert len(times) == 2 and all(cpu > 0 and wall > 0 for cpu, wall in times)
    assert (
        markdown_table([{"case": "a", "x": 1.23456}]) == "| case | x |\n|---|---|\n| a | 1.235 |\n"
    )
    md, js = write_bench(tmp_path, "toy bench", [{"case": "a", "x": 1.0}])
    assert "| case | x |" in md.read_text() and json.loads(js.read_text())["rows"][0]["case"] == "a"


def test_quick_limits_every_training_phase() -> None:
    import argparse
    from dataclasses import dataclass, field

    from sigzoo_shared.cli import config_from_args
    from sigzoo_shared.config import TrainConfig

    @dataclass
    class TwoPhase:
        train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=30))
        lstm: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=40))

    args = argparse.Namespace(config=None, quick=True, overrides=[], set_overrides=[])
    cfg = config_from_args(TwoPhase, args, "sigzoo_shared")
    assert cfg.train.epochs == 1 and cfg.lstm.epochs == 1
    assert cfg.lstm.limit_train_batches == 2 and cfg.lstm.limit_val_batches == 2


def test_metrics_history_survives_a_kill_during_append(tmp_path: Path) -> None:
    from sigzoo_shared.errors import DataError
    from sigzoo_shared.rundir import RunDir

    run = RunDir(tmp_path)
    run.metrics_path.write_text(
        '{"epoch": 1, "loss": 2.0}\n{"epoch": 2, "loss": 1.5}\n{"epoch": 3, "lo'
    )
    assert [r["epoch"] for r in run.read_metrics()] == [1, 2]
    run.truncate_metrics(last_epoch=1)
    assert [r["epoch"] for r in run.read_metrics()] == [1]
    run.metrics_path.write_text('{"epoch": 1\n{"epoch": 2}\n')  # damage before the end is an error
    with pytest.raises(DataError, match="line 1"):
        run.read_metrics()


def test_cli_layer_does_not_import_torch() -> None:
    """`<pkg> --help` stays instant: the CLI layer and the package namespace load torch only on use."""
    import subprocess
    import sys

    code = (
        "import sys, sigzoo_shared, sigzoo_shared.cli\n"
        "assert 'torch' not in sys.modules, 'torch imported eagerly'\n"
        "assert sigzoo_shared.Trainer.__name__ == 'Trainer' and 'torch' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_an_input_error_removes_only_what_the_run_created(tmp_path: Path) -> None:
    from sigzoo_shared.errors import ConfigError
    from sigzoo_shared.rundir import RunDir

    with pytest.raises(DataError), RunDir.created("pkg", run_dir=tmp_path / "a" / "b") as run:
        (run.path / "config.yaml").write_text("x")
        raise DataError("bad row")
    assert not (tmp_path / "a").exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    with pytest.raises(ConfigError), RunDir.created("pkg", run_dir=kept):
        raise ConfigError("unknown key")
    assert kept.is_dir()
    with RunDir.created("pkg", run_dir=tmp_path / "ok") as run:  # no error: the run stays
        pass
    assert run.path.is_dir()
