"""The console script: help, shipped configs, the original JSON config, resume == uninterrupted, demo."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from resp_mhavae.cli import main
from resp_mhavae.config import Config
from sigzoo_shared.cli import packaged_config
from sigzoo_shared.config import load_config
from sigzoo_shared.errors import ConfigError

TINY = [
    "data.l_win=24",
    "model.code_size=4",
    "model.vae_channels=[4]",
    "model.num_hidden_units_vae=8",
    "model.num_heads=2",
    "model.num_hidden_units_lstm=8",
    "model.num_layers_lstm=1",
    "train.batch_size=16",
    "lstm.batch_size=16",
    "lstm.epochs=1",
    "detect.baselines=[]",
    "train.scheduler=none",
]


def test_help_lists_every_verb(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for verb in ("preprocess", "train", "detect", "grid-search", "run", "bench", "demo"):
        assert verb in out


def test_version_via_module() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "resp_mhavae.cli", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "0.1.0" in out.stdout


@pytest.mark.parametrize("name", ["default.yaml", "seed.yaml"])
def test_each_shipped_yaml_loads(name: str) -> None:
    cfg = load_config(Config, packaged_config("resp_mhavae", name))
    assert cfg.data.look_back_num == 2
    if name == "seed.yaml":
        assert cfg.data.l_win == 800 and cfg.data.protocol == "original"
        assert cfg.model.modality_weights == [0.4, 0.3, 0.3]


def test_original_flat_json_config_is_accepted(tmp_path: Path, recording: Path, capsys) -> None:
    original = {
        "exp_name": "x",
        "l_win": 24,
        "look_back_num": 1,
        "code_size": 6,
        "num_hidden_units_vae": 8,
        "threshold_percent": 85,
        "modality_weights": [0.5, 0.25, 0.25],
    }
    path = tmp_path / "mha_vae_lstm_config.json"
    path.write_text(json.dumps(original))
    code = main(
        [
            "preprocess",
            "--config",
            str(path),
            "--run-dir",
            str(tmp_path / "p"),
            f"data.path={recording}",
            "model.num_heads=2",
        ]
    )
    assert code == 0
    cfg = load_config(Config, tmp_path / "p" / "config.yaml")
    assert (cfg.data.l_win, cfg.data.look_back_num, cfg.model.code_size) == (24, 1, 6)
    assert cfg.detect.threshold_percent == 85.0 and cfg.model.modality_weights == [0.5, 0.25, 0.25]
    path.write_text(json.dumps({"l_wn": 10}))
    assert main(["preprocess", "--config", str(path), f"data.path={recording}"]) == 2
    assert "did you mean 'l_win'" in capsys.readouterr().err


def test_bad_input_is_one_line_on_stderr(tmp_path: Path, capsys) -> None:
    code = main(
        ["preprocess", "--run-dir", str(tmp_path / "p"), f"data.path={tmp_path / 'missing.csv'}"]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "missing.csv" in err and "Traceback" not in err
    with pytest.raises(ConfigError):
        load_config(Config, overrides=["data.l_wn=3"])


def _weights(run: Path) -> dict:
    return torch.load(run / "mhavae" / "vae" / "checkpoints" / "last.pt", weights_only=True)[
        "model_state"
    ]


def test_resumed_training_equals_uninterrupted(tmp_path: Path, recording: Path) -> None:
    common = [f"data.path={recording}", *TINY]
    assert main(["train", "--run-dir", str(tmp_path / "a"), *common, "train.epochs=2"]) == 0
    assert main(["train", "--run-dir", str(tmp_path / "b"), *common, "train.epochs=1"]) == 0
    # what a kill after the first epoch leaves behind: last.pt of epoch 0, no done marker, no LSTM yet
    (tmp_path / "b" / "mhavae" / "vae" / "done.json").unlink()
    import shutil

    shutil.rmtree(tmp_path / "b" / "mhavae" / "lstm")
    assert main(["train", "--resume", str(tmp_path / "b"), "train.epochs=2"]) == 0
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert main(["detect", "--run-dir", str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / "detection_metrics.json").is_file()


def test_demo_runs_on_a_tiny_config(tmp_path: Path) -> None:
    from resp_mhavae.demo import demo

    cfg = load_config(
        Config, overrides=["train.epochs=2", "lstm.epochs=2", "detect.baselines=[isolation_forest]"]
    )
    report = demo(cfg, tmp_path / "demo", n_rows=2400)
    text = report.read_text()
    assert "MHA-VAE-LSTM" in text and "IsolationForest" in text
    assert (tmp_path / "demo" / "figures" / "anomaly_detection_comparison.png").is_file()
