"""The console script: help, shipped configs, the original JSON config, bad input, demo (resume: test_resume)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from resp_mhavae.cli import main
from resp_mhavae.config import Config
from sigzoo_shared.cli import packaged_config
from sigzoo_shared.config import load_config
from sigzoo_shared.errors import ConfigError


def test_help_lists_every_verb(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for verb in (
        "preprocess",
        "train",
        "detect",
        "grid-search",
        "run",
        "bench",
        "demo",
        "leaderboard",
    ):
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
        assert cfg.detect.prediction_weight == 0.5  # the seed's score mix
    else:  # the default scores the reconstruction error alone
        assert cfg.detect.prediction_weight == 0.0


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


def test_demo_runs_on_a_tiny_config(tmp_path: Path) -> None:
    from resp_mhavae.demo import demo

    cfg = load_config(
        Config, overrides=["train.epochs=2", "lstm.epochs=2", "detect.baselines=[isolation_forest]"]
    )
    report = demo(cfg, tmp_path / "demo", n_rows=2400)
    text = report.read_text()
    assert "MHA-VAE-LSTM" in text and "IsolationForest" in text
    assert (tmp_path / "demo" / "figures" / "anomaly_detection_comparison.png").is_file()


@pytest.mark.parametrize(
    "verb, override",
    [
        ("train", "data.l_win=5000"),  # too few rows for one window
        ("run", "model.modality_weights=[1.0]"),  # 1 weight for 3 channels
        ("preprocess", "data.channels=[Audio,CO2]"),  # missing column
        ("grid-search", "data.timestamp_column=Nope"),
    ],
)
def test_input_errors_leave_no_run_directory(
    tmp_path: Path, recording: Path, capsys, verb: str, override: str
) -> None:
    run = tmp_path / "new" / "run"
    code = main([verb, "--run-dir", str(run), f"data.path={recording}", override])
    assert code == 2, capsys.readouterr().err
    assert "Traceback" not in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


def test_resume_of_a_missing_run_is_an_error_not_a_new_run(tmp_path: Path, capsys) -> None:
    assert main(["train", "--resume", str(tmp_path / "typo")]) == 2
    assert "run directory not found" in capsys.readouterr().err
    assert not (tmp_path / "typo").exists()
    (tmp_path / "plain").mkdir()
    assert main(["train", "--resume", str(tmp_path / "plain")]) == 2
    assert "config.yaml: not found" in capsys.readouterr().err
    assert list((tmp_path / "plain").iterdir()) == []


def test_an_input_error_inside_a_run_removes_only_what_the_run_created(tmp_path: Path) -> None:
    from resp_mhavae.train import new_run
    from sigzoo_shared.errors import DataError

    with pytest.raises(DataError), new_run(tmp_path / "a" / "b", "train") as run:
        (run.path / "config.yaml").write_text("x")
        raise DataError("bad row")
    assert not (tmp_path / "a").exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    with pytest.raises(DataError), new_run(kept, "train"):
        raise DataError("bad row")
    assert kept.is_dir()
