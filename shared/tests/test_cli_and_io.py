"""Shared CLI plumbing: overrides, one-line errors with exit code 2; atomic writers; bench tables."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
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
    assert overrides[-3:] == ["lr=0.1", "epochs=3", "train.device=cpu"]
    cfg = load_config(TrainConfig, None, [o.removeprefix("train.") for o in overrides])
    # --quick fills what the user did not type; the user's epochs=3 wins
    assert cfg.epochs == 3 and cfg.limit_train_batches == 2 and cfg.lr == 0.1


def test_quick_never_hides_an_invalid_value() -> None:
    from sigzoo_shared.cli import config_from_args
    from sigzoo_shared.errors import ConfigError

    args = parser().parse_args(["train", "--quick", "train.epochs=abc"])
    with pytest.raises(ConfigError, match="train.epochs"):
        config_from_args(_Toy, args, "sigzoo_shared")
    args = parser().parse_args(["train", "--quick", "train.epochs=4"])
    cfg = config_from_args(_Toy, args, "sigzoo_shared")
    assert cfg.train.epochs == 4 and cfg.train.limit_train_batches == 2


def test_key_value_overrides_are_accepted_after_options(capsys) -> None:
    seen = {}

    def dispatch(args):
        seen["overrides"] = overrides_from(args)

    code = run_main(
        dispatch, parser(), ["train", "train.lr=0.1", "--device", "cpu", "train.epochs=2"]
    )
    assert code == 0
    assert seen["overrides"] == ["train.lr=0.1", "train.epochs=2", "train.device=cpu"]
    with pytest.raises(SystemExit):
        run_main(dispatch, parser(), ["train", "a.b=1", "--device", "cpu", "stray"])
    assert "unrecognized arguments: stray" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("err", "expected"),
    [
        (
            OSError(28, "No space left on device", "runs/x/checkpoints/last.pt"),
            "runs/x/checkpoints/last.pt: no space left",
        ),
        (OSError(30, "Read-only file system", "runs/x"), "runs/x: read-only file system"),
        (FileExistsError(17, "File exists", "runs/x"), "runs/x: already exists"),
        (
            PermissionError(13, "Permission denied", "runs/x/config.yaml"),
            "runs/x/config.yaml: permission denied",
        ),
    ],
)
def test_os_errors_are_one_line_naming_the_path(capsys, err: OSError, expected: str) -> None:
    def dispatch(args):
        raise err

    code = run_main(dispatch, parser(), ["train"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(lines) == 1
    assert lines[0].startswith(f"toy: error: {expected}")


def test_a_failed_atomic_write_names_its_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch
) -> None:
    import errno
    import os

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError) as caught:
        atomic_write_json(tmp_path / "results.json", {"auc": 0.5})
    assert caught.value.errno == errno.ENOSPC
    assert caught.value.filename == str(tmp_path / "results.json")
    assert not list(tmp_path.iterdir())


def test_only_rank_zero_prints_the_summary(capsys, monkeypatch) -> None:
    def dispatch(args):
        print("summary: auc 0.9")

    monkeypatch.setenv("RANK", "1")
    assert run_main(dispatch, parser(), ["train"]) == 0
    assert capsys.readouterr().out == ""
    monkeypatch.setenv("RANK", "0")
    assert run_main(dispatch, parser(), ["train"]) == 0
    assert capsys.readouterr().out == "summary: auc 0.9\n"


def test_json_outputs_hold_null_for_nan(tmp_path: Path) -> None:
    import numpy as np
    from sigzoo_shared.rundir import RunDir

    atomic_write_json(
        tmp_path / "r.json",
        {"auc": float("nan"), "x": np.float32("inf"), "v": np.array([1.0, np.nan])},
    )
    assert json.loads((tmp_path / "r.json").read_text()) == {
        "auc": None,
        "x": None,
        "v": [1.0, None],
    }
    run = RunDir(tmp_path / "run", tensorboard=False)
    run.log_metrics({"epoch": 1, "val_loss": float("nan")})
    line = run.metrics_path.read_text().strip()
    assert "NaN" not in line and json.loads(line)["val_loss"] is None


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


@dataclass
class _Toy:
    train: TrainConfig = field(default_factory=TrainConfig)


@dataclass
class _Forecast:
    horizon_s: float = 1.0
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=50))


@dataclass
class _Nested:
    train: TrainConfig = field(default_factory=TrainConfig)
    lstm: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=40))
    forecast: _Forecast = field(default_factory=_Forecast)


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
    cfg = config_from_args(_Nested, args, "sigzoo_shared")
    assert cfg.train.epochs == 1 and cfg.lstm.epochs == 1 and cfg.forecast.train.epochs == 1
    assert cfg.forecast.train.limit_train_batches == 2
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
    from sigzoo_shared.errors import CheckpointError

    with pytest.raises(CheckpointError), RunDir.created("pkg", run_dir=tmp_path / "c"):
        raise CheckpointError("best.pt: corrupt")  # a refused checkpoint leaves no empty out-dir
    assert not (tmp_path / "c").exists()


def test_config_verb_prints_every_key_after_overrides(tmp_path: Path, capsys) -> None:
    import yaml
    from sigzoo_shared.cli import add_config_verb, dispatch_config
    from sigzoo_shared.config import save_config

    p, sub = base_parser("toy", "a toy CLI")
    add_config_verb(sub)

    def dispatch(args):
        assert dispatch_config(args, _Toy, "sigzoo_shared")

    assert run_main(dispatch, p, ["config", "--show", "train.lr=0.01"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["train"]["lr"] == 0.01
    assert set(shown["train"]) == set(TrainConfig.__dataclass_fields__)
    save_config(_Toy(train=TrainConfig(epochs=7)), tmp_path / "config.yaml")
    assert run_main(dispatch, p, ["config", "--run-dir", str(tmp_path)]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["train"]["epochs"] == 7
    assert run_main(dispatch, p, ["config", "--run-dir", str(tmp_path / "nope")]) == 2
    assert "config.yaml: not found" in capsys.readouterr().err


def test_zoo_table_gathers_every_package_and_names_the_missing(tmp_path: Path) -> None:
    from sigzoo_shared.bench import zoo_row, zoo_table

    write_bench(
        tmp_path / "a",
        "a",
        [{"case": "x"}],
        zoo=[zoo_row("a", "train step", 0.5, 5.0, "measured in this run")],
    )
    write_bench(tmp_path / "b", "b", [{"case": "x"}])
    table = zoo_table(tmp_path, ["a", "b"])
    assert "| a | train step | 0.5 | 5 | 10 | measured in this run |" in table
    assert "No zoo rows from: b." in table
    assert zoo_row("c", "epoch", 2.0, None, "no original")["speed-up"] is None


def test_log_lines_follow_the_current_stderr(capsys) -> None:
    import io
    import logging
    import sys

    from sigzoo_shared.log import setup_logging

    setup_logging()
    first = io.StringIO()
    old = sys.stderr
    try:
        sys.stderr = first
        logging.getLogger("sigzoo_shared.test").info("to the first")
        first.close()  # a harness closes its capture stream
        sys.stderr = io.StringIO()
        logging.getLogger("sigzoo_shared.test").info("to the second")
        assert "to the second" in sys.stderr.getvalue()
    finally:
        sys.stderr = old


def test_config_names_a_shipped_config_unless_a_file_of_that_name_is_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sigzoo_shared.cli import shipped_config

    (tmp_path / "site" / "shipzoo" / "configs").mkdir(parents=True)
    (tmp_path / "site" / "shipzoo" / "__init__.py").write_text("")
    (tmp_path / "site" / "shipzoo" / "configs" / "seed.yaml").write_text("{}\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.chdir(tmp_path)
    shipped = tmp_path / "site" / "shipzoo" / "configs" / "seed.yaml"
    assert shipped_config("shipzoo", Path("seed")) == shipped
    assert shipped_config("shipzoo", Path("seed.yaml")) == shipped
    assert shipped_config("shipzoo", Path("other")) == Path(
        "other"
    )  # load_config names it as missing
    assert shipped_config("shipzoo", Path("sub/seed")) == Path("sub/seed")  # a path is a path
    (tmp_path / "seed.yaml").write_text("{}\n")
    assert shipped_config("shipzoo", Path("seed.yaml")) == Path("seed.yaml")  # the user's file wins
    assert shipped_config("shipzoo", None) is None


def test_a_timed_console_script_is_found_beside_the_interpreter_without_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`.venv/bin/python -m sigzoo_shared.bench --time ... -- pkg demo` times that venv's `pkg`."""
    import sys

    from sigzoo_shared.bench import time_command

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    name = Path(sys.executable).name  # a command only the interpreter's own bin/ holds now
    row = time_command([name, "-c", "pass"], "pkg")
    assert row["command"] == f"{name} -c pass" and row["cpu_s"] >= 0


def test_a_timed_command_records_its_cpu_and_the_zoo_page_lists_it(tmp_path: Path) -> None:
    """README times come from whole commands timed as a user runs them; a failing one has no time."""
    import sys

    from sigzoo_shared.bench import main as bench_main

    out = tmp_path / "pkg" / "commands.json"
    busy = [sys.executable, "-c", "s = 0\nfor i in range(3_000_000): s += i"]
    assert bench_main(["--time", str(out), "--package", "pkg", "--", *busy]) == 0
    assert bench_main(["--time", str(out), "--package", "pkg", "--", *busy]) == 0  # replaced
    [row] = json.loads(out.read_text())
    assert row["package"] == "pkg" and row["cpu_s"] > 0.05 and row["wall_s"] >= row["cpu_s"] * 0.5
    with pytest.raises(RuntimeError, match="exited with 3"):
        bench_main(["--time", str(out), "--package", "pkg", "--", sys.executable, "-c", "exit(3)"])
    assert bench_main(["--zoo", str(tmp_path), "pkg"]) == 0
    page = (tmp_path / "zoo.md").read_text()
    with pytest.raises(RuntimeError, match="no-such-sigzoo-cmd: no such command"):
        bench_main(["--time", str(out), "--package", "pkg", "--", "no-such-sigzoo-cmd"])
    assert (
        "Whole commands" in page and "range(3_000_000)" in page and "No zoo rows from: pkg" in page
    )
