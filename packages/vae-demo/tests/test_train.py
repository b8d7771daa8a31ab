"""Training through the CLI: loss falls, every epoch writes metrics and figures, resume == uninterrupted,
watch/encode/demo/bench run on the tiny configuration."""

import json
from pathlib import Path

import pytest
import torch
import yaml
from sigzoo_shared import load_checkpoint
from vae_demo.cli import main
from vae_demo.config import HISTORY_COMMIT
from vae_demo.watch import read_metrics, watch


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny: list[str]) -> Path:
    run = tmp_path_factory.mktemp("run") / "train"
    assert main(["train", "--run-dir", str(run), *tiny, "train.epochs=3", "train.lr=3e-3"]) == 0
    return run


def test_loss_falls_and_metrics_are_logged_per_epoch(trained: Path) -> None:
    history = read_metrics(trained)
    assert [h["epoch"] for h in history] == [0, 1, 2]
    # the whole loss: in 18 steps of the tiny default the spectral part falls fastest
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    # with the default encoder (the half-window minimum spectrum)
    assert (
        yaml.safe_load((trained / "config.yaml").read_text())["model"]["encoder"] == "min-spectrum"
    )
    for key in (
        "val_loss",
        "val_recon",
        "val_kl",
        "val_ari",
        "val_nmi",
        "val_silhouette",
        "val_noise_auc",
    ):
        assert key in history[-1]
    assert -1 <= history[-1]["val_ari"] <= 1 and 0 <= history[-1]["val_noise_auc"] <= 1


def test_every_epoch_writes_figures_tensorboard_and_the_gif(trained: Path) -> None:
    figures = trained / "figures"
    for epoch in range(3):
        for name in ("latent", "reconstruction", "history"):
            assert (figures / f"{name}_epoch{epoch:04d}.png").is_file()
    from PIL import Image

    with Image.open(figures / "latent.gif") as gif:
        assert gif.n_frames == 3
    assert list(trained.glob("events.out.tfevents.*"))
    assert (
        "latent" in (trained / "projector_config.pbtxt").read_text()
    )  # the 2-D latent as an embedding
    assert (trained / "checkpoints" / "best.pt").is_file()


def test_watch_prints_one_row_per_epoch(trained: Path) -> None:
    lines: list[str] = []
    records = watch(
        trained, follow=True, interval_s=0.01, emit=lines.append
    )  # a finished run: returns
    assert len(records) == 3
    assert any("latent.gif" in line for line in lines)
    assert sum(line.strip().startswith(("1 |", "2 |", "3 |")) for line in lines) == 3


def test_watch_cli_once(trained: Path, capsys) -> None:
    assert main(["watch", str(trained), "--once"]) == 0
    assert "ari" in capsys.readouterr().out
    assert main(["watch", str(trained / "nope"), "--once"]) == 2


def test_encode_scores_the_three_test_sets_and_an_input_file(
    trained: Path, tmp_path: Path, tiny: list[str]
) -> None:
    series_dir = tmp_path / "data"
    assert main(["generate", "--run-dir", str(series_dir), *tiny]) == 0
    out = tmp_path / "enc"
    assert (
        main(
            [
                "encode",
                "--run-dir",
                str(trained),
                "--input",
                str(series_dir / "series.csv"),
                "--out-dir",
                str(out),
            ]
        )
        == 0
    )
    result = json.loads((out / "encode.json").read_text())
    names = [r["set"] for r in result["sets"]]
    assert names[:2] == ["in-distribution", "time-shifted"] and names[2].startswith("out-of-range")
    assert (out / "figures" / "encode_test.png").is_file()
    assert (out / "latent.csv").read_text().startswith("start,label,z0,z1")


def test_resume_equals_uninterrupted(tmp_path: Path, tiny: list[str], capsys) -> None:
    full, part = tmp_path / "full", tmp_path / "part"
    assert main(["train", "--run-dir", str(full), *tiny, "train.epochs=2"]) == 0
    assert main(["train", "--run-dir", str(part), *tiny, "train.epochs=1"]) == 0
    # the stored config wins: what would change the trained model is refused, naming the key
    assert main(["train", "--resume", str(part), "train.epochs=2", "train.lr=0.1"]) == 2
    err = capsys.readouterr().err
    assert "cannot change train.lr" in err and "Traceback" not in err
    spare = tmp_path / "other.yaml"
    spare.write_text("train:\n  epochs: 2\n")
    assert main(["train", "--resume", str(part), "--config", str(spare)]) == 2
    assert "a resumed run keeps its own" in capsys.readouterr().err
    assert main(["train", "--resume", str(part), "train.epochs=2"]) == 0  # more epochs: allowed
    a = load_checkpoint(full / "checkpoints" / "last.pt")["model_state"]
    b = load_checkpoint(part / "checkpoints" / "last.pt")["model_state"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], msg=key)
    assert [r["epoch"] for r in read_metrics(part)] == [0, 1]


def test_resume_refuses_what_it_cannot_rebuild_before_making_data(
    tmp_path: Path, tiny: list[str], capsys, monkeypatch
) -> None:
    run = tmp_path / "run"
    assert main(["train", "--run-dir", str(run), *tiny, "train.epochs=1"]) == 0
    capsys.readouterr()

    def no_data(*args: object) -> None:
        raise AssertionError("data was made before the run was checked")

    monkeypatch.setattr("vae_demo.train.load_splits", no_data)
    config = run / "config.yaml"
    good = config.read_text()
    stored = yaml.safe_load(good)
    stored["model"]["encoder_taper"] = 0.25  # an option measured and removed since
    config.write_text(yaml.safe_dump(stored))
    assert main(["train", "--resume", str(run), "train.epochs=2"]) == 2
    err = capsys.readouterr().err
    assert "model.encoder_taper=0.25" in err and f"commit {HISTORY_COMMIT}" in err
    del stored["model"]["encoder_taper"], stored["model"]["center_input"]  # predates the field
    config.write_text(yaml.safe_dump(stored))
    assert main(["train", "--resume", str(run), "train.epochs=2"]) == 2
    assert "no model.center_input: the run predates" in capsys.readouterr().err
    config.write_text(good)
    (run / "checkpoints" / "last.pt").write_bytes(b"not a checkpoint")
    assert main(["train", "--resume", str(run), "train.epochs=2"]) == 2
    err = capsys.readouterr().err
    assert "last.pt" in err and "Traceback" not in err
    assert main(["train", "--resume", str(tmp_path / "nothing")]) == 2
    assert "nothing: run directory not found" in capsys.readouterr().err
    assert not (tmp_path / "nothing").exists()


def test_a_run_older_than_the_layer_choice_is_scored_with_its_layers_and_not_resumed(
    tmp_path: Path, tiny: list[str], capsys
) -> None:
    """Runs made before model.encoder/model.decoder existed had the original's layers, which are no
    longer the defaults: loading reads them back; resuming (which rebuilds from the defaults) is
    refused with the commit that resumes them."""
    from sigzoo_shared.checkpoint import save_checkpoint
    from vae_demo.config import LAYER_KEYS, PRE_CHOICE_COMMIT
    from vae_demo.evaluate import load_trained

    run = tmp_path / "old"
    layers = ["model.encoder=attention", "model.decoder=gru"]
    assert main(["train", "--run-dir", str(run), *tiny, *layers, "train.epochs=1"]) == 0
    config = run / "config.yaml"
    stored = yaml.safe_load(config.read_text())
    for key in LAYER_KEYS:  # what such a run stored
        del stored["model"][key]
    config.write_text(yaml.safe_dump(stored))
    for path in (run / "checkpoints").glob("*.pt"):
        state = load_checkpoint(path)
        state["config"] = stored
        save_checkpoint(path, state)
    loaded = load_trained(run, which="last")
    assert (loaded.config.model.encoder, loaded.config.model.decoder) == ("attention", "gru")
    assert main(["score", "--run-dir", str(run)]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "train.epochs=2"]) == 2
    err = capsys.readouterr().err
    assert "no model.encoder" in err and f"commit {PRE_CHOICE_COMMIT}" in err


def test_a_run_of_the_previous_default_encoder_is_scored_with_it(
    tmp_path: Path, tiny: list[str], capsys
) -> None:
    """A run trained with `model.encoder=spectrum` (the default before min-spectrum) has weights of
    the same shapes as the default's: only its stored config keeps it from being rebuilt with the
    half-window minimum. Loading, scoring and resuming use the stored encoder."""
    import vae_demo
    from vae_demo.evaluate import load_trained

    run = tmp_path / "spectrum"
    assert (
        main(["train", "--run-dir", str(run), *tiny, "model.encoder=spectrum", "train.epochs=1"])
        == 0
    )
    loaded = load_trained(run, which="last")
    assert loaded.config.model.encoder == "spectrum"
    assert not loaded.model.encoder.half_window_min
    assert not vae_demo.load_run(run).model.encoder.half_window_min
    assert main(["score", "--run-dir", str(run)]) == 0
    assert main(["train", "--resume", str(run), "train.epochs=2"]) == 0
    assert yaml.safe_load((run / "config.yaml").read_text())["model"]["encoder"] == "spectrum"
    assert [h["epoch"] for h in read_metrics(run)] == [0, 1]


def test_missing_checkpoint_is_a_clear_error(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["encode", "--run-dir", str(tmp_path), "--out-dir", str(out)]) == 2
    assert "no checkpoint found" in capsys.readouterr().err
    assert not out.exists()  # nothing half-made


def test_demo_writes_a_report(tmp_path: Path, tiny: list[str]) -> None:
    run = tmp_path / "demo"
    assert main(["demo", "--run-dir", str(run), *tiny]) == 0
    report = (run / "report.md").read_text()
    assert "| ari |" in report and "latent.gif" in report
    for link in ("figures/latent.gif", "figures/encode_test.png"):
        assert (run / link).is_file()


def test_bench_writes_the_table(tmp_path: Path, tiny: list[str]) -> None:
    assert main(["bench", "--run-dir", str(tmp_path), *tiny, "--repeat", "1"]) == 0
    rows = json.loads((tmp_path / "bench.json").read_text())["rows"]
    assert [r["case"] for r in rows[1:4]] == [
        "train epoch, time_bypass=False",
        "train epoch, time_bypass=True",
        "train epoch, the original layers (encoder=attention, decoder=gru)",
    ]
    assert all(r["peak_rss_mb"] > 0 for r in rows[:4])
    # the third case is another model: configs/attention-gru.yaml's encoder and decoder
    assert rows[1]["params"] != rows[3]["params"]
    # inference: PyTorch against the exported ONNX encoder, one thread each
    assert [r["case"] for r in rows[4:]] == [
        "encode 16 windows, PyTorch (1 thread)",
        "encode 16 windows, ONNX Runtime (1 thread)",
    ]
    assert all(r["median_s"] > 0 for r in rows[4:])
    assert (tmp_path / "bench.md").read_text().startswith("# vae-demo")


def test_score_writes_the_seed_table_numbers_and_summarize_reads_them(
    trained: Path, tmp_path: Path, capsys
) -> None:
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score
    from vae_demo.data import load_splits
    from vae_demo.evaluate import encode_windows, load_trained

    assert main(["score", "--run-dir", str(trained)]) == 0
    result = json.loads((trained / "results.json").read_text())
    loaded = load_trained(trained / "checkpoints" / "last.pt")
    val = load_splits(loaded.config.data).val
    mu = encode_windows(loaded.model, val.x).astype("float64")
    k = loaded.config.data.n_patterns + 1
    pred = KMeans(n_clusters=k, n_init=16, random_state=loaded.config.train.seed).fit_predict(mu)
    assert result["ari"] == pytest.approx(adjusted_rand_score(val.y, pred))
    assert result["epoch"] == 3 and result["n_val"] == len(val.y)
    assert 0 < result["nmi_chance"] < 0.2  # a random partition shares little information
    capsys.readouterr()
    assert main(["summarize", str(trained), "--keys", "ari", "explained"]) == 0
    table = capsys.readouterr().out
    assert "| all runs | ari | 1 |" in table and "explained" in table


def test_sweep_trains_and_scores_each_seed_then_summarizes(
    tmp_path: Path, tiny: list[str], monkeypatch
) -> None:
    """The sweep verb's lines, run in this process (the core's tests cover the fresh processes)."""

    def in_process(module: str, argv: list[str]) -> None:
        assert module == "vae_demo" and main(argv) == 0

    monkeypatch.setattr("sigzoo_shared.sweep._run_cli", in_process)
    root = tmp_path / "sweep"
    argv = ["sweep", "--root", str(root), "--seeds", "1", "2", "--keys", "ari", "nmi"]
    argv += ["--then", "score --run-dir {run_dir}", "--", "train", *tiny, "train.epochs=1"]
    assert main([*argv, "train.limit_train_batches=2", "plot.gif=false"]) == 0
    rows = json.loads((root / "summary.json").read_text())["rows"]
    ari = next(r for r in rows if r["metric"] == "ari")
    per_seed = [
        json.loads((root / f"seed-{s}" / "results.json").read_text())["ari"] for s in (1, 2)
    ]
    assert ari["n"] == 2 and ari["mean"] == pytest.approx(sum(per_seed) / 2)
    assert yaml.safe_load((root / "seed-2" / "config.yaml").read_text())["train"]["seed"] == 2
