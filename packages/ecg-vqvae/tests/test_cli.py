"""The console script: help, version, shipped configs, clear errors, prepare and the demo."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ecg_vqvae.cli import main
from ecg_vqvae.config import Config
from sigzoo_shared.cli import packaged_config
from sigzoo_shared.config import load_config


def test_help_lists_every_verb(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for verb in ("prepare", "train", "train-forecaster", "evaluate", "forecast", "bench", "demo"):
        assert verb in out


def test_version_via_module() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ecg_vqvae.cli", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "0.1.0" in out.stdout


@pytest.mark.parametrize("name", ["default.yaml", "seed.yaml"])
def test_each_shipped_yaml_loads(name: str) -> None:
    cfg = load_config(Config, packaged_config("ecg_vqvae", name))
    assert cfg.data.window_samples == 1080


def test_seed_yaml_is_the_original_architecture() -> None:
    cfg = load_config(Config, base=packaged_config("ecg_vqvae", "seed.yaml"))
    assert (cfg.model.variant, cfg.model.n_res_block, cfg.model.n_embed, cfg.model.embed_dim) == (
        "original",
        16,
        2048,
        2048,
    )
    assert cfg.model.has_attention and cfg.train.optimizer == "radam"


def test_typo_in_override_is_one_clear_line(capsys) -> None:
    assert main(["train", "model.n_embd=8"]) == 2
    assert "did you mean 'model.n_embed'" in capsys.readouterr().err


def test_train_without_data_dir_says_what_to_set(capsys) -> None:
    assert main(["train", "train.epochs=1"]) == 2
    assert "data.data_dir" in capsys.readouterr().err


def test_prepare_validates_and_caches(ecg_dir: Path, tmp_path: Path) -> None:
    assert (
        main(
            [
                "prepare",
                "--data-dir",
                str(ecg_dir),
                "--run-dir",
                str(tmp_path),
                "data.signals_per_patient=2",
            ]
        )
        == 0
    )
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 6
    assert '"s006"' in (tmp_path / "prepared.json").read_text()


def test_demo_runs_end_to_end_on_a_tiny_config(tiny_overrides, tmp_path: Path) -> None:
    overrides = [o for o in tiny_overrides if not o.startswith("data.data_dir")]
    assert main(["demo", "--run-dir", str(tmp_path), *overrides, "train.epochs=1"]) == 0
    report = (tmp_path / "report.md").read_text()
    assert "repeat_last_beat" in report and "PRD" in report
    for line in report.splitlines():
        if line.startswith("- [") and "](" in line:
            assert (tmp_path / line.split("](")[1].rstrip(")")).is_file()


def test_quick_also_limits_the_forecasters_training(tiny_overrides, tmp_path: Path) -> None:
    """`--quick` is a smoke run for both phases; a value the user types still wins."""
    vq, fc = tmp_path / "vq", tmp_path / "fc"
    assert main(["train", "--quick", "--run-dir", str(vq), *tiny_overrides]) == 0
    argv = ["train-forecaster", "--quick", "--vqvae", str(vq), "--run-dir", str(fc)]
    assert main([*argv, *tiny_overrides, "forecast.train.limit_val_batches=1"]) == 0
    stored = yaml.safe_load((fc / "config.yaml").read_text())["forecast"]["train"]
    assert stored["epochs"] == 1 and stored["limit_train_batches"] == 2
    assert stored["limit_val_batches"] == 1
