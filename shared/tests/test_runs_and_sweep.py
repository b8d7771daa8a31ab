"""Run plumbing every package shares: resume policy, load-a-run, the loader pair, seed sweeps."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import torch
from sigzoo_shared.config import TrainConfig, save_config
from sigzoo_shared.errors import CheckpointError, ConfigError, DataError
from sigzoo_shared.runs import load_run, make_loaders, resume_config
from sigzoo_shared.sweep import group_runs, run_sweep, summarize, summary_markdown
from toyrun import Config, DataConfig, ModelConfig, build, make_run


def test_resume_keeps_the_stored_config_and_allows_only_safe_keys(tmp_path: Path) -> None:
    run = make_run(tmp_path / "r", Config(train=TrainConfig(lr=3e-3, epochs=5)))
    cfg = resume_config(Config, run, ["train.epochs=9", "train.device=cpu", "train.lr=0.003"])
    assert cfg.train.epochs == 9 and cfg.train.lr == 3e-3  # stored lr kept, same value accepted
    with pytest.raises(ConfigError, match=r"cannot change train.lr \(stored 0.003, given 0.1\)"):
        resume_config(Config, run, ["train.lr=0.1"])
    with pytest.raises(ConfigError, match="model.width"):
        resume_config(Config, run, ["model.width=8"])
    with pytest.raises(ConfigError, match="--config"):
        resume_config(Config, run, [], config_file="other.yaml")
    moved = resume_config(Config, run, ["data.data_dir=/new"], changeable=["data.*_dir"])
    assert moved.data.data_dir == "/new"


def test_resume_checks_the_checkpoint_first(tmp_path: Path) -> None:
    run = make_run(tmp_path / "r")
    (run / "checkpoints" / "last.pt").write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match="last.pt: corrupt or truncated"):
        resume_config(Config, run, [])
    with pytest.raises(CheckpointError, match="run directory not found"):
        resume_config(Config, tmp_path / "missing", [])
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="config.yaml: not found"):
        resume_config(Config, tmp_path / "empty", [])


def test_load_run_rebuilds_the_model_from_its_stored_config(tmp_path: Path) -> None:
    run = make_run(tmp_path / "r", Config(model=ModelConfig(width=7)))
    loaded = load_run(Config, run, build)
    assert loaded.config.model.width == 7 and loaded.model.weight.shape == (2, 7)
    assert not loaded.model.training and loaded.checkpoint.name == "best.pt"
    sized = load_run(
        Config,
        run,
        lambda cfg, state: torch.nn.Linear(state["model_state"]["weight"].shape[1], 2),
        needs_state=True,
    )
    assert sized.model.weight.shape == (2, 7)
    other = make_run(tmp_path / "o", Config(model=ModelConfig(width=3)))
    with pytest.raises(CheckpointError, match="do not fit"):
        load_run(Config, other / "checkpoints" / "best.pt", lambda cfg: torch.nn.Linear(5, 2))


def test_loader_pair_shuffles_train_only_and_drops_an_empty_val() -> None:
    data = torch.utils.data.TensorDataset(torch.arange(10.0))
    cfg = TrainConfig(batch_size=4, seed=1, num_workers=0)
    train, val = make_loaders(data, data, cfg)
    assert [b[0].tolist() for b in val][0] == [0.0, 1.0, 2.0, 3.0]
    order = [x for b in train for x in b[0].tolist()]
    assert sorted(order) == list(range(10)) and order != list(range(10))
    assert make_loaders(data, torch.utils.data.TensorDataset(torch.zeros(0)), cfg)[1] is None


TOY_CLI = """
import json, sys
from dataclasses import dataclass, field
from sigzoo_shared.cli import add_config_args, base_parser, config_from_args, run_main
from sigzoo_shared.config import TrainConfig
from sigzoo_shared.rundir import RunDir
from sigzoo_shared.sweep import add_sweep_verbs, dispatch_sweep

@dataclass
class Config:
    train: TrainConfig = field(default_factory=TrainConfig)

def main(argv=None):
    parser, sub = base_parser("toy", "toy")
    add_config_args(sub.add_parser("train"))
    add_sweep_verbs(sub)
    def dispatch(args):
        if dispatch_sweep(args, "toy"):
            return
        cfg = config_from_args(Config, args, "toy")
        run = RunDir(args.run_dir, tensorboard=False)
        run.save_config(cfg)
        run.write_json("results.json", {"auc": 0.5 + cfg.train.seed / 10, "per_id": {"00": 1.0}})
    return run_main(dispatch, parser, argv)
"""


def test_sweep_runs_each_seed_once_and_summarizes(tmp_path: Path, monkeypatch) -> None:
    pkg = tmp_path / "src" / "toy"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "cli.py").write_text(textwrap.dedent(TOY_CLI))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "src"))
    root = tmp_path / "sweep"
    runs = run_sweep("toy", ["train", "train.epochs=2"], [0, 1, 2], root)
    assert [json.loads((r / "results.json").read_text())["auc"] for r in runs] == [0.5, 0.6, 0.7]
    rows = summarize(runs, keys=["auc"])
    assert len(rows) == 1 and rows[0]["group"] == "all runs" and rows[0]["n"] == 3
    assert rows[0]["mean"] == pytest.approx(0.6) and rows[0]["std"] == pytest.approx(0.1)
    assert "| all runs | auc | 3 | 0.6 ± 0.1 | 0.5 | 0.7 |" in summary_markdown(rows)
    (runs[0] / "results.json").write_text("{}")  # a finished seed is skipped, not re-run
    run_sweep("toy", ["train"], [0], root)
    assert (runs[0] / "results.json").read_text() == "{}"
    (root / "seed-5").mkdir()
    with pytest.raises(ConfigError, match="seed-5: an earlier sweep stopped"):
        run_sweep("toy", ["train"], [5], root)
    with pytest.raises(DataError, match="exit code 2"):
        run_sweep("toy", ["train", "train.epochs=abc"], [6], root)


def test_sweep_and_summarize_verbs(tmp_path: Path, monkeypatch, capsys) -> None:
    import importlib
    import sys

    pkg = tmp_path / "src" / "toy"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "cli.py").write_text(textwrap.dedent(TOY_CLI))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "src"))
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    sys.modules.pop("toy.cli", None)
    toy = importlib.import_module("toy.cli")
    root = tmp_path / "sw"
    assert (
        toy.main(
            ["sweep", "--root", str(root), "--seeds", "1", "3", "--keys", "auc", "--", "train"]
        )
        == 0
    )
    assert "| all runs | auc | 2 | 0.7 ± 0.1414 | 0.6 | 0.8 |" in (root / "summary.md").read_text()
    capsys.readouterr()
    assert (
        toy.main(["summarize", str(root / "seed-1"), str(root / "seed-3"), "--keys", "per_id.*"])
        == 0
    )
    assert "| all runs | per_id.00 | 2 | 1 ± 0 | 1 | 1 |" in capsys.readouterr().out


def test_runs_group_by_configuration_not_by_seed(tmp_path: Path) -> None:
    runs = []
    for i, (lr, seed) in enumerate([(1e-3, 0), (1e-3, 1), (3e-3, 0)]):
        run = tmp_path / f"r{i}"
        run.mkdir()
        save_config(Config(train=TrainConfig(lr=lr, seed=seed)), run / "config.yaml")
        (run / "results.json").write_text(json.dumps({"auc": 0.5 + i / 10}))
        runs.append(run)
    groups = group_runs(runs)
    assert groups == {"train.lr=0.001": runs[:2], "train.lr=0.003": runs[2:]}
    rows = summarize(runs)
    assert [(r["group"], r["n"]) for r in rows] == [("train.lr=0.001", 2), ("train.lr=0.003", 1)]


def test_list_items_are_named_by_their_label() -> None:
    from sigzoo_shared.sweep import flat_numbers

    tree = {
        "results": [{"method": "iforest", "vus_pr": 0.6}, {"method": "zscore", "vus_pr": 0.4}],
        "x": [1, 2],
    }
    assert flat_numbers(tree) == {
        "results.iforest.vus_pr": 0.6,
        "results.zscore.vus_pr": 0.4,
        "x.0": 1.0,
        "x.1": 2.0,
    }


def test_group_by_splits_runs_on_a_path_key_and_repeated_labels_keep_their_figures(
    tmp_path: Path,
) -> None:
    from sigzoo_shared.sweep import flat_numbers

    runs = []
    for i, (where, value) in enumerate([("a.csv", 1.0), ("a.csv", 3.0), ("b.csv", 10.0)]):
        run = make_run(tmp_path / f"r{i}", Config(data=DataConfig(data_dir=where)))
        (run / "results.json").write_text(json.dumps({"auc": value}))
        runs.append(run)
    assert len(group_runs(runs)) == 1  # a path alone does not split groups
    rows = summarize(runs, keys=["auc"], group_by=["data.data_dir"])
    assert sorted((r["group"], r["mean"]) for r in rows) == [
        ("data.data_dir=a.csv", 2.0),
        ("data.data_dir=b.csv", 10.0),
    ]
    rows = [{"method": "m", "mae": 1.0}, {"method": "m", "mae": 2.0}]
    assert flat_numbers({"forecast": rows}) == {"forecast.m.mae": 1.0, "forecast.m#2.mae": 2.0}
