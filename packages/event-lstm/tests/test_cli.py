"""The console script end to end on tiny generated data: every verb, resume, errors, shipped YAMLs."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
import torch
from event_lstm.cli import main
from event_lstm.config import Config
from sigzoo_shared.config import load_config, replace

TINY: list[str] = []  # filled from the conftest fixture


@pytest.fixture(autouse=True)
def _tiny(tiny_args: list[str]) -> None:
    TINY[:] = tiny_args


def run_cli(*args: str) -> None:
    assert main([*args]) == 0


def one_error_line(stderr: str) -> bool:
    """One `event-lstm: error: ...` line (log lines aside) and no traceback."""
    errors = [line for line in stderr.splitlines() if line.startswith("event-lstm: error:")]
    return len(errors) == 1 and "Traceback" not in stderr


def data_args(dataset: dict[str, Path]) -> list[str]:
    return [
        f"data.train_path={dataset['train']}",
        f"data.val_path={dataset['val']}",
        f"data.unlabelled_path={dataset['unlabelled']}",
    ]


def test_help_lists_every_verb(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for verb in (
        "generate",
        "train",
        "pretrain",
        "finetune",
        "detect",
        "evaluate",
        "templates",
        "bench",
        "demo",
    ):
        assert verb in out


def test_version_via_module() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "event_lstm.cli", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "0.1.0" in out.stdout


@pytest.mark.parametrize(
    "name", ["default.yaml", "seed.yaml", "lstm.yaml", "compare.yaml", "event-cnn.yaml"]
)
def test_each_shipped_yaml_loads(name) -> None:
    path = Path(str(resources.files("event_lstm") / "configs" / name))
    cfg = load_config(Config, path)
    assert cfg.model.num_events == 16
    if name == "seed.yaml":
        assert cfg.model.downsample == 1 and cfg.model.cnn_channels == 32
        assert cfg.model.arch == "lstm" and cfg.model.num_layers == 2  # the original's model
    earlier = {"num_layers": 2}
    if name == "lstm.yaml":  # the earlier default: the model family and its layers differ
        model = replace(Config().model, arch="lstm", **earlier)
        assert cfg == replace(Config(), model=model, train=replace(Config().train, epochs=20))
    if name in ("event-cnn.yaml", "compare.yaml"):  # the earlier event-specific model
        assert cfg.model == replace(Config().model, cnn_channels=4, **earlier)


def test_the_default_model_is_the_event_specific_one() -> None:
    model = Config().model  # without the per-event CNN, one BiLSTM layer (docs: speed section)
    assert model.arch == "event_specific" and model.cnn_channels == 0 and model.num_layers == 1


def test_train_evaluate_detect_and_resume(tmp_path, dataset, capsys) -> None:
    args = [*TINY, *data_args(dataset)]
    full, part = tmp_path / "full", tmp_path / "part"
    run_cli("train", "--run-dir", str(full), *args)
    # a progress line per epoch between the batches and the epoch summary (issue 33)
    err = capsys.readouterr().err
    assert err.count("scoring events on 16 validation windows") == 2
    assert err.count("drawing the window and template figures") == 2
    assert "training EventSpecificClassifier" in err and "3 batches per epoch" in err
    assert (full / "checkpoints" / "best.pt").is_file() and (full / "config.yaml").is_file()
    run_cli("train", "--run-dir", str(part), *args, "train.epochs=1")
    # the stored config wins: a key that changes what was trained is refused, naming it
    assert main(["train", "--resume", str(part), "train.lr=0.1"]) == 2
    err = capsys.readouterr().err
    assert "train.lr" in err and "cannot change" in err and one_error_line(err)
    run_cli("train", "--resume", str(part), *args)  # train.epochs=2 (stored 1) may change
    a = torch.load(full / "checkpoints" / "last.pt", weights_only=True)["model_state"]
    b = torch.load(part / "checkpoints" / "last.pt", weights_only=True)["model_state"]
    assert all(torch.equal(a[k], b[k]) for k in a)

    run_cli(
        "evaluate",
        "--checkpoint",
        str(full),
        "--data",
        str(dataset["test"]),
        "--run-dir",
        str(tmp_path / "ev"),
    )
    res = json.loads((tmp_path / "ev" / "results.json").read_text())
    assert set(res["by_tolerance"]) == {"2ms", "5ms", "10ms", "20ms"}
    # the chance level travels with every windowed result (summarize reports it beside the F1)
    assert set(res["chance_f1"]) == set(res["by_tolerance"])
    assert all(0.0 <= v < 0.2 for v in res["chance_f1"].values())
    out = capsys.readouterr().out
    assert "+-5ms" in out and "chance level" in out
    assert (tmp_path / "ev" / "figures" / "confusion_5ms.png").is_file()

    # validation F1 per epoch, mean over runs (the docs' curve tables)
    run_cli("curves", str(full), str(part))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| runs | epoch 1 | epoch 2 |"
    assert lines[2].startswith("| val_f1_5ms, mean of 2 run(s) |")
    assert main(["curves", str(tmp_path / "ev" / "nowhere")]) == 2
    assert "metrics.jsonl: not found" in capsys.readouterr().err

    out_csv = tmp_path / "events.csv"
    run_cli(
        "detect",
        "--checkpoint",
        str(full),
        "--input",
        str(dataset["stream"]),
        "--out",
        str(out_csv),
        "--run-dir",
        str(tmp_path / "det"),
        "detect.threshold=0.3",
    )
    assert out_csv.read_text().splitlines()[0] == "sample,time_s,event,probability"
    info = json.loads((tmp_path / "det" / "detect.json").read_text())
    assert info["refractory_violations"] == 0 and info["real_time_factor"] > 0


def test_pretrain_each_method_and_finetune(tmp_path, dataset) -> None:
    """Original defect: VAE pre-training had no working trainer."""
    args = [*TINY, *data_args(dataset), "train.epochs=2"]
    for method in ("vae", "contrastive", "ae"):
        run_cli("pretrain", method, "--run-dir", str(tmp_path / method), *args)
        lines = [
            json.loads(x) for x in (tmp_path / method / "metrics.jsonl").read_text().splitlines()
        ]
        assert len(lines) == 2 and all(torch.isfinite(torch.tensor(x["train_loss"])) for x in lines)
    vae = [json.loads(x) for x in (tmp_path / "vae" / "metrics.jsonl").read_text().splitlines()]
    assert "train_kl" in vae[0] and vae[-1]["train_loss"] < vae[0]["train_loss"]
    run_cli(
        "finetune",
        "--pretrained",
        str(tmp_path / "vae"),
        "--run-dir",
        str(tmp_path / "ft"),
        *args,
        "pretrain.freeze_backbone_epochs=1",
    )
    assert (tmp_path / "ft" / "checkpoints" / "best.pt").is_file()
    run_cli(
        "finetune",
        "--pretrained",
        str(tmp_path / "ae"),
        "--run-dir",
        str(tmp_path / "ft-es"),
        *args,
        "model.arch=event_specific",
        "train.epochs=1",
    )
    run_cli("templates", "--checkpoint", str(tmp_path / "ft-es"), "--out", str(tmp_path / "t.png"))
    assert (tmp_path / "t.png").stat().st_size > 10_000


def test_user_errors_are_one_line_naming_the_problem(tmp_path, capsys) -> None:
    assert main(["train", "--run-dir", str(tmp_path / "x"), "model.hiden_size=3"]) == 2
    assert "did you mean 'model.hidden_size'" in capsys.readouterr().err
    assert main(["evaluate", "--checkpoint", str(tmp_path), "--data", "nope.npz"]) == 2
    assert "no checkpoint found" in capsys.readouterr().err


def test_one_source_of_defaults_every_key_shown_and_help_without_torch() -> None:
    """`Config()` trains what `event-lstm train` does; `config` shows every key; --help stays light."""
    from sigzoo_shared.layout import cli_problems

    assert cli_problems("event_lstm", Config, main, ["model.hidden_size=32", "train.lr=0.01"]) == []
    assert (Config().model.hidden_size, Config().train.lr) == (64, 3e-3)


def test_resume_of_a_missing_run_is_refused_before_any_data_is_made(
    tmp_path, capsys, monkeypatch
) -> None:
    def no_data(*args: object, **kwargs: object) -> None:
        raise AssertionError("data was generated before the resume dir was checked")

    monkeypatch.setattr("event_lstm.train.generate_windows", no_data)
    for verb in (["train"], ["pretrain", "ae"]):
        assert main([*verb, "--resume", str(tmp_path / "gone"), *TINY]) == 2
        assert "gone: run directory not found" in capsys.readouterr().err
    assert not (tmp_path / "gone").exists()


def test_resume_of_a_corrupt_checkpoint_is_refused_before_any_data_is_made(
    tmp_path, capsys, monkeypatch
) -> None:
    def no_data(*args: object, **kwargs: object) -> None:
        raise AssertionError("data was generated before the checkpoint was checked")

    monkeypatch.setattr("event_lstm.train.generate_windows", no_data)
    run = tmp_path / "run"
    assert main(["config", *TINY]) == 0
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text(capsys.readouterr().out)
    (run / "checkpoints" / "last.pt").write_bytes(b"\x00not a checkpoint" * 10)
    for verb in (["train"], ["pretrain", "ae"], ["finetune", "--pretrained", str(run)]):
        assert main([*verb, "--resume", str(run), *TINY]) == 2
        err = capsys.readouterr().err
        assert "last.pt" in err and one_error_line(err), err


def test_resume_refuses_another_config_file_and_another_method(tmp_path, capsys) -> None:
    run = tmp_path / "ae"
    run_cli("pretrain", "ae", "--run-dir", str(run), *TINY, "train.epochs=1")
    assert main(["pretrain", "vae", "--resume", str(run)]) == 2
    assert "'ae' pre-training run" in capsys.readouterr().err
    cfg = tmp_path / "my.yaml"
    cfg.write_text("train:\n  lr: 0.1\n")
    assert main(["pretrain", "ae", "--resume", str(run), "--config", str(cfg)]) == 2
    assert "a resumed run keeps its own" in capsys.readouterr().err


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated zip", b"\x93NUMPY garbage"])
def test_a_corrupt_npz_is_one_line_naming_the_file_in_every_verb(
    tmp_path, dataset, capsys, content
) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(content)
    run = tmp_path / "r"
    run_cli("train", "--run-dir", str(run), *TINY, *data_args(dataset), "train.epochs=1")
    capsys.readouterr()
    lines = [
        ["train", "--run-dir", str(tmp_path / "t"), *TINY, f"data.train_path={bad}"],
        ["pretrain", "ae", "--run-dir", str(tmp_path / "p"), *TINY, f"data.unlabelled_path={bad}"],
        [
            "evaluate",
            "--checkpoint",
            str(run),
            "--data",
            str(bad),
            "--run-dir",
            str(tmp_path / "e"),
        ],
        ["detect", "--checkpoint", str(run), "--input", str(bad), "--run-dir", str(tmp_path / "d")],
    ]
    for argv in lines:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert f"{bad}: not a readable .npz file" in err and one_error_line(err), err
    assert not any((tmp_path / name).exists() for name in "tped")


def test_the_package_has_the_promised_layout() -> None:
    from sigzoo_shared.layout import layout_problems

    assert layout_problems("event_lstm") == []


def test_an_input_error_leaves_no_half_made_run(tmp_path, dataset, capsys) -> None:
    run = tmp_path / "t"
    bad = [f"data.train_path={dataset['train']}", f"data.val_path={tmp_path / 'missing.npz'}"]
    assert main(["train", "--run-dir", str(run), *TINY, *bad]) == 2
    assert "missing.npz" in capsys.readouterr().err
    assert not run.exists()


def test_generate_writes_every_split(tmp_path) -> None:
    run_cli(
        "generate", "--out", str(tmp_path / "g"), *[t for t in TINY if t.startswith("generator.")]
    )
    names = {p.name for p in (tmp_path / "g").iterdir()}
    assert {
        "train.npz",
        "val.npz",
        "test.npz",
        "unlabelled.npz",
        "stream.npz",
        "stream.csv",
    } <= names


def test_demo_runs_on_a_tiny_config(tmp_path) -> None:
    run_cli(
        "demo",
        "--run-dir",
        str(tmp_path / "demo"),
        *TINY,
        "train.epochs=1",
        "model.arch=event_specific",
    )
    report = (tmp_path / "demo" / "report.md").read_text()
    assert "f1_5ms" in report and "figures/templates.png" in report
    for name in ("detections.png", "templates.png", "confusion_5ms.png"):
        assert (tmp_path / "demo" / "figures" / name).is_file()
