"""The console script: instant help, shipped configs load, user errors are one line naming the place."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from dcase_cae.cli import build_parser, main
from dcase_cae.config import Config
from sigzoo_shared.config import load_config

CONFIGS = sorted(
    (Path(__file__).resolve().parents[1] / "src" / "dcase_cae" / "configs").glob("*.yaml")
)


def test_help_lists_every_verb(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for verb in ("prepare", "train", "test", "report", "bench", "demo"):
        assert verb in out


def test_version_via_module() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "dcase_cae.cli", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "0.1.0" in out.stdout


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_each_shipped_yaml_loads(path: Path) -> None:
    cfg = load_config(Config, path)
    assert cfg.data.n_mels == 128 and cfg.data.n_fft == 1024 and cfg.data.hop_length == 512
    # the autoencoders train 100 epochs as seed and baselines did; the embedding model far fewer
    assert cfg.train.epochs == (10 if cfg.model.name == "embedding" else 100)


def test_shipped_defaults_follow_the_seed() -> None:
    names = [p.name for p in CONFIGS]
    assert {"default.yaml", "seed.yaml", "dense_ae.yaml"} <= set(names)
    seed = load_config(Config, CONFIGS[names.index("seed.yaml")])
    assert (seed.train.batch_size, seed.train.lr, seed.train.seed, seed.train.save_top_k) == (
        256,
        1e-3,
        2020,
        3,
    )
    assert seed.model.z_dim == 40 and seed.decision.max_fpr == 0.1
    dense = load_config(Config, CONFIGS[names.index("dense_ae.yaml")])
    assert dense.model.name == "dense_ae" and dense.train.batch_size == 512
    b2023 = load_config(Config, CONFIGS[names.index("dcase2023_baseline.yaml")])
    assert (b2023.model.name, b2023.train.batch_size, b2023.data.frames) == ("dense_ae", 256, 5)


def test_a_misspelt_key_is_one_line_with_a_suggestion(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    code = main(
        ["train", "--data-dir", str(tiny_data), "--run-dir", str(tmp_path / "r"), "model.z_dimm=8"]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "unknown key 'model.z_dimm'" in err and "model.z_dim" in err
    assert not (tmp_path / "r").exists()  # nothing partial left behind


def test_missing_data_dir_is_named(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["train", "--data-dir", str(tmp_path / "absent"), "--run-dir", str(tmp_path / "r")])
    assert code == 2
    assert f"{tmp_path / 'absent'}: data directory not found" in capsys.readouterr().err


def test_test_without_a_trained_model_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["test", "--run-dir", str(tmp_path / "empty")]) == 2
    assert "train first" in capsys.readouterr().err


def test_a_refused_checkpoint_leaves_no_output_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bad = tmp_path / "run" / "checkpoints" / "best.pt"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not a checkpoint")
    out = tmp_path / "out"
    code = main(["test", "--checkpoint", str(bad), "--out-dir", str(out)])
    assert code == 2 and "best.pt" in capsys.readouterr().err
    assert not out.exists()


def test_config_shorthand_names_a_shipped_file() -> None:
    from dcase_cae.cli import _config

    args = build_parser().parse_args(
        ["train", "--config", "dense_ae", "--data-dir", "/x", "train.epochs=2"]
    )
    cfg = _config(args)
    assert cfg.model.name == "dense_ae" and cfg.train.epochs == 2 and str(cfg.data.data_dir) == "/x"


def test_test_config_shorthand_reads_the_shipped_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`test --config NAME` finds the shipped YAML as `train` does; a file NAME here wins."""
    from dcase_cae.cli import _test_layer

    monkeypatch.chdir(tmp_path)
    argv = ["test", "--run-dir", "r", "--config", "dense_ae", "decision.quantile=0.95"]
    layer = _test_layer(build_parser().parse_args(argv))
    assert layer["model"]["name"] == "dense_ae" and layer["decision"]["quantile"] == 0.95
    (tmp_path / "dense_ae").write_text("decision:\n  method: percentile\n")
    layer = _test_layer(build_parser().parse_args(argv))
    assert "model" not in layer and layer["decision"]["method"] == "percentile"


def test_prepare_train_test_report_from_the_command_line(
    tiny_data: Path, tmp_path: Path, tiny_overrides, capsys: pytest.CaptureFixture
) -> None:
    cache = tmp_path / "cache"
    assert (
        main(
            [
                "prepare",
                "--data-dir",
                str(tiny_data),
                "--cache-dir",
                str(cache),
                "--run-dir",
                str(tmp_path / "prep"),
                *tiny_overrides,
            ]
        )
        == 0
    )
    assert len(list(cache.glob("*.npy"))) == 36  # 16 train + 20 test clips
    runs = []
    for model in ("dense_ae", "cae"):
        run = tmp_path / model
        extra = ["train.epochs=1", "train.limit_train_batches=2"] if model == "cae" else []
        extra.append("decision.threshold_clips=4")
        assert (
            main(
                [
                    "train",
                    "--data-dir",
                    str(tiny_data),
                    "--cache-dir",
                    str(cache),
                    "--run-dir",
                    str(run),
                    *tiny_overrides,
                    f"model.name={model}",
                    *extra,
                ]
            )
            == 0
        )
        assert main(["test", "--run-dir", str(run)]) == 0
        assert (run / "result.csv").is_file()
        if model == "dense_ae":  # a partial decision override keeps the run's threshold_clips
            out = tmp_path / "q"
            assert (
                main(
                    ["test", "--run-dir", str(run), "--out-dir", str(out), "decision.quantile=0.5"]
                )
                == 0
            )
            (res,) = json.loads((out / "results.json").read_text())["results"]
            assert res["threshold_source"] == "gamma q=0.5 on 4 train clips"
        runs.append(str(run))
    assert main(["report", "--runs", *runs, "--run-dir", str(tmp_path / "cmp")]) == 0
    report = (tmp_path / "cmp" / "report.md").read_text()
    assert (
        "| data | toy_fan | dense_ae/mse |" in report and "| data | toy_fan | cae/mse |" in report
    )
    assert "| average | 1 |" in report
    out = capsys.readouterr().out
    assert "toy_fan (dense_ae): AUC=" in out


def test_demo_runs_on_a_tiny_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dcase_cae import demo as demo_module
    from dcase_cae.generator import GeneratorConfig

    tiny = GeneratorConfig(
        machine_ids=("00",), n_train=6, n_test_normal=3, n_test_anomaly=3, duration_s=2.5
    )
    original = demo_module.demo
    monkeypatch.setattr(
        demo_module, "demo", lambda cfg, run_dir=None: original(cfg, run_dir, generator=tiny)
    )
    assert (
        main(
            [
                "demo",
                "--run-dir",
                str(tmp_path / "demo"),
                "train.epochs=1",
                "figures.enabled=false",
                "data.feature_workers=1",
            ]
        )
        == 0
    )
    report = (tmp_path / "demo" / "report.md").read_text()
    assert (
        "| cae/mse | toy_machine | 00 |" in report
        and "| dense_ae/mse | toy_machine | 00 |" in report
    )
    assert (tmp_path / "demo" / "figures" / "cae_roc_toy_machine.png").is_file()


def test_seed_table_through_the_core_sweep_and_report(
    tiny_data: Path, tmp_path: Path, tiny_overrides, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The documented real-data table command: `sweep` trains and tests each seed, `report` groups them."""
    from sigzoo_shared import sweep

    def in_process(module: str, argv: list[str]) -> None:  # the core tests the subprocess part
        assert module == "dcase_cae" and main(argv) == 0

    monkeypatch.setattr(sweep, "_run_cli", in_process)
    root, cache = tmp_path / "table" / "dense_ae", tmp_path / "cache"
    test_line = f"test --run-dir {{run_dir}} --cache-dir {cache}"
    train = ["train", "--data-dir", str(tiny_data), "--cache-dir", str(cache), *tiny_overrides]
    argv = ["sweep", "--root", str(root), "--seeds", "1", "2", "--then", test_line, "--", *train]
    assert main([*argv, "model.name=dense_ae", "train.epochs=1", "decision.n_bootstrap=0"]) == 0
    runs = [root / "seed-1", root / "seed-2"]
    seeds = [load_config(Config, run / "config.yaml").train.seed for run in runs]
    assert seeds == [1, 2]  # the sweep's seed wins over the tiny overrides' train.seed=3
    assert all((run / "results.json").is_file() for run in runs)
    assert "AUC" in (root / "summary.md").read_text()
    assert main(["report", "--runs", *map(str, runs), "--run-dir", str(tmp_path / "rep")]) == 0
    assert "| data | toy_fan | dense_ae/mse |" in (tmp_path / "rep" / "report.md").read_text()
    assert "| average | 2 |" in (tmp_path / "rep" / "report.md").read_text()
