"""A `resp-mhavae train` killed with SIGKILL mid-epoch resumes to the weights of an uninterrupted run."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from resp_mhavae.cli import main

TINY = [
    "data.l_win=24",
    "model.code_size=4",
    "model.vae_channels=[4]",
    "model.num_hidden_units_vae=8",
    "model.num_heads=2",
    "model.num_hidden_units_lstm=8",
    "model.num_layers_lstm=1",
    "train.batch_size=8",
    "train.epochs=4",
    "train.checkpoint_every_n_steps=2",  # last.pt every 2 steps: a kill lands mid-epoch
    "train.scheduler=none",
    "lstm.batch_size=16",
    "lstm.epochs=2",
    "detect.baselines=[]",
]


def _command() -> list[str]:
    script = Path(sys.executable).with_name("resp-mhavae")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "resp_mhavae.cli"]


def _state(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def _history(phase: Path) -> list[dict]:
    rows = [json.loads(line) for line in (phase / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "epoch_time_s"} for r in rows]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_train_killed_mid_epoch_resumes_to_the_uninterrupted_weights(
    tmp_path: Path, recording: Path
) -> None:
    common = [f"data.path={recording}", *TINY]
    killed = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [*_command(), "train", "--run-dir", str(killed), *common],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    last = killed / "mhavae" / "vae" / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 120
    try:
        # wait for a mid-epoch checkpoint after the first full epoch, then kill without warning
        while time.monotonic() < deadline and proc.poll() is None:
            if last.is_file():
                state = _state(last)  # atomic writes: a file that exists is complete
                if state["epoch"] >= 1 and state.get("batches_done"):
                    break
            time.sleep(0.01)
        assert proc.poll() is None, "training finished before it could be killed: " + (
            proc.stderr.read().decode() if proc.stderr else ""
        )
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    left = _state(last)
    assert not (
        killed / "mhavae" / "vae" / "done.json"
    ).exists()  # interrupted inside the VAE phase
    assert left["epoch"] < 3

    # resume in-process (same single thread) and train an uninterrupted twin with the same command
    assert main(["train", "--resume", str(killed)]) == 0
    assert main(["train", "--run-dir", str(tmp_path / "straight"), *common]) == 0
    for phase in ("mhavae/vae", "mhavae/lstm"):
        a = _state(tmp_path / "straight" / phase / "checkpoints" / "last.pt")["model_state"]
        b = _state(killed / phase / "checkpoints" / "last.pt")["model_state"]
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), phase
        # one metrics line per epoch, the interrupted epoch's running means restored
        assert _history(killed / phase) == _history(tmp_path / "straight" / phase), phase
    assert main(["detect", "--run-dir", str(killed)]) == 0
    assert (killed / "detection_metrics.json").is_file()


@pytest.fixture
def short_run(tmp_path: Path, recording: Path) -> Path:
    """A finished tiny run (VAE 4 epochs, LSTM 2) to resume."""
    run = tmp_path / "run"
    tiny = [a for a in TINY if not a.startswith("train.checkpoint_every")]
    assert main(["train", "--run-dir", str(run), f"data.path={recording}", *tiny]) == 0
    return run


def test_resume_refuses_a_key_that_changes_the_model_naming_it(short_run: Path, capsys) -> None:
    before = (short_run / "mhavae" / "vae" / "checkpoints" / "last.pt").read_bytes()
    assert main(["train", "--resume", str(short_run), "train.lr=0.5"]) == 2
    err = capsys.readouterr().err
    assert "train.lr" in err and "Traceback" not in err
    assert (short_run / "mhavae" / "vae" / "checkpoints" / "last.pt").read_bytes() == before


def test_resume_refuses_another_config_file(short_run: Path, tmp_path: Path, capsys) -> None:
    other = tmp_path / "other.yaml"
    other.write_text("train:\n  epochs: 9\n")
    assert main(["train", "--resume", str(short_run), "--config", str(other)]) == 2
    assert "--config" in capsys.readouterr().err


def test_resume_with_more_epochs_continues_the_stored_run(
    short_run: Path, recording: Path, tmp_path: Path, monkeypatch
) -> None:
    # the data file moved: its path is one of the keys that may change on resume
    moved = tmp_path / "moved"
    moved.mkdir()
    for f in recording.parent.iterdir():
        (moved / f.name).write_bytes(f.read_bytes())
    vae = short_run / "mhavae" / "vae"
    (vae / "done.json").unlink()  # as if stopped after epoch 4 of a longer run
    args = ["train", "--resume", str(short_run), "train.epochs=6"]
    assert main([*args, f"data.path={moved / recording.name}"]) == 0
    assert [r["epoch"] for r in _history(vae)] == list(range(6))
    assert _state(vae / "checkpoints" / "last.pt")["epoch"] == 5
    assert "epochs: 6" in (vae / "config.yaml").read_text()


def test_a_corrupt_last_pt_is_refused_before_any_data_is_read(
    short_run: Path, monkeypatch, capsys
) -> None:
    import resp_mhavae.train as train_module

    def no_data(*_a, **_k):
        raise AssertionError("data was read before the checkpoint was checked")

    monkeypatch.setattr(train_module, "validated_inputs", no_data)
    vae = short_run / "mhavae" / "vae"
    (vae / "done.json").unlink()
    (vae / "checkpoints" / "last.pt").write_bytes(b"not a checkpoint")
    assert main(["train", "--resume", str(short_run), "train.epochs=6"]) == 2
    err = capsys.readouterr().err
    assert "last.pt" in err and "Traceback" not in err
