"""A run killed mid-epoch and resumed ends with exactly the weights of an uninterrupted run (CPU)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch
from sigzoo_shared.checkpoint import load_checkpoint

SCRIPT = Path(__file__).with_name("_train_script.py")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300
    )


def test_killed_run_resumes_to_identical_weights(tmp_path: Path) -> None:
    full, broken = tmp_path / "full", tmp_path / "broken"
    assert run(str(full)).returncode == 0
    # 12 steps per epoch: step 30 is in the middle of the third epoch.
    killed = run(str(broken), "--kill-at-step", "30")
    assert killed.returncode != 0, "the run was supposed to die"
    assert load_checkpoint(broken / "checkpoints" / "last.pt")["epoch"] == 1  # 2 epochs were saved
    assert not list((broken / "checkpoints").glob("*.tmp")), "no temp files left behind"
    resumed = run(str(broken), "--resume")
    assert resumed.returncode == 0, resumed.stderr

    a = load_checkpoint(full / "checkpoints" / "last.pt")
    b = load_checkpoint(broken / "checkpoints" / "last.pt")
    assert a["epoch"] == b["epoch"] == 3 and a["global_step"] == b["global_step"] == 48
    for key in a["model_state"]:
        assert torch.equal(a["model_state"][key], b["model_state"][key]), key
    assert a["optimizer_state"]["state"][0]["exp_avg"].equal(
        b["optimizer_state"]["state"][0]["exp_avg"]
    )
    # metrics.jsonl holds each epoch exactly once, with identical values.
    lines_a = [json.loads(x) for x in (full / "metrics.jsonl").read_text().splitlines()]
    lines_b = [json.loads(x) for x in (broken / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines_b] == [0, 1, 2, 3]
    assert [r["val_loss"] for r in lines_a] == [r["val_loss"] for r in lines_b]


def test_mid_epoch_checkpoint_resumes_inside_the_epoch(tmp_path: Path) -> None:
    full, broken = tmp_path / "full", tmp_path / "broken"
    assert run(str(full)).returncode == 0
    assert run(str(broken), "--every-n-steps", "4", "--kill-at-step", "30").returncode != 0
    saved = load_checkpoint(broken / "checkpoints" / "last.pt")
    assert (saved["epoch"], saved["batches_done"], saved["global_step"]) == (2, 4, 28)
    assert run(str(broken), "--every-n-steps", "4", "--resume").returncode == 0
    a = load_checkpoint(full / "checkpoints" / "last.pt")["model_state"]
    b = load_checkpoint(broken / "checkpoints" / "last.pt")["model_state"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    lines_a = [json.loads(x) for x in (full / "metrics.jsonl").read_text().splitlines()]
    lines_b = [json.loads(x) for x in (broken / "metrics.jsonl").read_text().splitlines()]
    assert [r["train_loss"] for r in lines_a] == [r["train_loss"] for r in lines_b]


def test_resuming_a_finished_run_changes_nothing(tmp_path: Path) -> None:
    assert run(str(tmp_path), "--epochs", "2").returncode == 0
    before = (tmp_path / "checkpoints" / "last.pt").read_bytes()
    assert run(str(tmp_path), "--epochs", "2", "--resume").returncode == 0
    assert (tmp_path / "checkpoints" / "last.pt").read_bytes() == before


def test_top_k_best_and_last_kept(tmp_path: Path) -> None:
    assert run(str(tmp_path)).returncode == 0
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert "last.pt" in names and "best.pt" in names
    top = [n for n in names if n.startswith("epoch=")]
    assert len(top) == 2
    best = load_checkpoint(tmp_path / "checkpoints" / "best.pt")
    values = [
        json.loads(x)["val_loss"] for x in (tmp_path / "metrics.jsonl").read_text().splitlines()
    ]
    assert best["best_metric"] == min(values)
    assert best["epoch"] == values.index(min(values))


def test_training_again_into_a_finished_run_is_refused_and_keeps_it(tmp_path: Path) -> None:
    done = tmp_path / "done"
    assert run(str(done)).returncode == 0
    before = (done / "checkpoints" / "last.pt").read_bytes(), (done / "metrics.jsonl").read_text()
    again = run(str(done))  # no --resume
    assert again.returncode != 0
    assert "already holds a training run" in again.stderr and "--resume" in again.stderr
    after = (done / "checkpoints" / "last.pt").read_bytes(), (done / "metrics.jsonl").read_text()
    assert before == after
