"""`ecg-vqvae evaluate --data-dir D --records ... --out O`: any WFDB records, training records refused or
flagged, whole records, the stored config winning, and one clear line for each bad input."""

import json
import shutil
from pathlib import Path

import pytest
from ecg_vqvae.cli import main
from ecg_vqvae.config import Config
from ecg_vqvae.generator import write_records
from sigzoo_shared.cli import packaged_config
from sigzoo_shared.config import load_config


@pytest.fixture(scope="module")
def run(ecg_dir: Path, tiny_settings: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny forecaster trained on s001-s003 (s004 validates), first 6 windows per record."""
    root = tmp_path_factory.mktemp("run")
    args = [f"data.data_dir={ecg_dir}", *tiny_settings, "train.epochs=1"]
    assert main(["train", "--run-dir", str(root / "vq"), *args]) == 0
    assert (
        main(
            ["train-forecaster", "--vqvae", str(root / "vq"), "--run-dir", str(root / "fc"), *args]
        )
        == 0
    )
    return root / "fc"


@pytest.fixture(scope="module")
def other(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two new patients at 250 Hz (20 s each), named like none of the training records."""
    out = tmp_path_factory.mktemp("other")
    write_records(out, n_records=2, duration_s=20.0, fs=250, seed=7, prefix="p")
    return out


FAST = ["evaluate.n_samples=3", "data.forecast_stride_s=3"]


def test_scores_other_records_into_out_with_a_resampling_note(
    run: Path, other: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    argv = ["evaluate", "--run-dir", str(run), "--data-dir", str(other), "--out", str(out), *FAST]
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["test_records"] == ["p001", "p002"] and results["seen_in_training"] == []
    assert any("p001: 250 Hz, resampled to 360 Hz" in n for n in results["notes"])
    # whole records by default (the stored 6-window slice is the run's; evaluate reads all 20 s)
    assert results["whole_records"] is False  # the tiny run stored signals_per_patient=6
    assert results["reconstruction"]["per_record"]["p001"]["n_windows"] == 6
    assert "resampled to 360 Hz" in (out / "results.md").read_text()
    assert (out / "figures" / "test_forecast_spread.png").is_file()
    assert not (run / "results.json").exists()  # nothing lands in the training run


def test_whole_records_are_scored_when_asked(run: Path, other: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = ["evaluate", "--run-dir", str(run), "--data-dir", str(other), "--out", str(out), *FAST]
    assert main([*argv, "data.signals_per_patient=null"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["whole_records"] is True
    assert results["reconstruction"]["per_record"]["p002"]["n_windows"] == 6  # 20 s // 3 s
    one = [r for r in results["forecast"]["per_record"] if r["record"] == "p001"][0]
    assert one["n_examples"] == len(range(0, int(20 * 360) - 2 * 1080 + 1, 3 * 360))


def test_training_records_are_refused_or_flagged(
    run: Path, ecg_dir: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out"
    base = ["evaluate", "--run-dir", str(run), "--data-dir", str(ecg_dir), "--out", str(out), *FAST]
    assert main([*base, "--records", "s001", "s005"]) == 2
    err = capsys.readouterr().err
    assert (
        "s001" in err
        and "--allow-training-records" in err
        and "s005" not in err.split("records")[1][:8]
    )
    assert not out.exists()
    assert main(base) == 0  # no --records: every record not used in training
    results = json.loads((out / "results.json").read_text())
    assert results["test_records"] == ["s005", "s006"]
    assert results["excluded_training_records"] == ["s001", "s002", "s003", "s004"]
    flagged = tmp_path / "flagged"
    argv = [*base[: -len(FAST) - 2], "--out", str(flagged), *FAST, "--records", "s001", "s006"]
    assert main([*argv, "--allow-training-records"]) == 0
    results = json.loads((flagged / "results.json").read_text())
    assert results["seen_in_training"] == ["s001"]
    rows = [r for r in results["forecast"]["per_record"] if r["record"] == "s001"]
    assert rows and all(r["seen_in_training"] for r in rows)
    assert "s001 (seen in training)" in (flagged / "results.md").read_text()


def test_an_override_that_would_change_the_model_is_refused(
    run: Path, other: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out"
    argv = ["evaluate", "--run-dir", str(run), "--data-dir", str(other), "--out", str(out)]
    assert main([*argv, "model.n_embed=64", "evaluate.n_samples=4"]) == 2
    err = capsys.readouterr().err
    assert "model.n_embed (stored 32, given 64)" in err and "evaluate.*" in err
    assert "evaluate.n_samples" not in err.split("keys that may change")[0]  # allowed: not named
    assert not out.exists()


def _copy(src: Path, dst: Path, name: str) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.glob(f"{name}.*"):
        shutil.copy(f, dst / f.name)
    return dst


@pytest.mark.parametrize("case", ["lead", "rate", "atr", "truncated"])
def test_bad_input_is_one_line_naming_the_record_and_writes_nothing(
    run: Path, other: Path, tmp_path: Path, capsys, case: str
) -> None:
    data = _copy(other, tmp_path / "data", "p001")
    extra: list[str] = []
    if case == "lead":
        extra = ["data.leads=[MLII,V5]"]
        expected = "no lead 'V5'"
    elif case == "rate":
        write_records(data, n_records=1, duration_s=20.0, fs=50, seed=3, prefix="p")
        expected = "50 Hz, below the 100 Hz"
    elif case == "atr":
        (data / "p001.atr").unlink()
        expected = "p001.atr: beat annotations not found"
    else:
        dat = data / "p001.dat"
        dat.write_bytes(dat.read_bytes()[: dat.stat().st_size // 2])
        expected = "truncated"
    out = tmp_path / "out"
    argv = ["evaluate", "--run-dir", str(run), "--data-dir", str(data), "--out", str(out), *FAST]
    assert main([*argv, *extra]) == 2
    errors = [
        ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("ecg-vqvae: error")
    ]
    assert len(errors) == 1 and "p001" in errors[0] and expected in errors[0]
    assert not out.exists()


def test_config_defaults_equal_the_cli_defaults() -> None:
    """One source of defaults: Config() is what `ecg-vqvae train` builds with no arguments."""
    cli = load_config(Config, None, [], base=packaged_config("ecg_vqvae"))
    assert cli == Config()
    assert Config().data.signals_per_patient is None  # whole records by default


def test_the_evaluate_help_names_every_option(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    out = capsys.readouterr().out
    for option in ("--data-dir", "--records", "--out", "--allow-training-records", "--config"):
        assert option in out
