"""The unchanged Trainer under torchrun with 2 CPU processes (gloo): ranks end with identical weights."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import torch

SCRIPT = Path(__file__).with_name("_train_script.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_two_cpu_processes(tmp_path: Path) -> None:
    run_dir, dump = tmp_path / "ddp", tmp_path / "weights"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes=1",
        "--nproc_per_node=2",
        "--master_addr=127.0.0.1",
        f"--master_port={free_port()}",
        str(SCRIPT),
        str(run_dir),
        "--epochs",
        "2",
        "--dump",
        str(dump),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    w0 = torch.load(f"{dump}.rank0", weights_only=True)
    w1 = torch.load(f"{dump}.rank1", weights_only=True)
    for key in w0:
        assert torch.equal(w0[key], w1[key]), f"ranks disagree on {key}"
    # The model trained (weights moved away from a fresh init) and only rank 0 wrote the run dir.
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [0, 1]
    # 96 samples, 2 ranks, batch 8: 6 steps per epoch per rank.
    assert json.loads(lines[-1])["step"] == 12
    assert (run_dir / "checkpoints" / "last.pt").is_file()
