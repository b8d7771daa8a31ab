"""The arguments every measurement script on one forecaster run and MIT-BIH takes (one definition)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def run_args(doc: str) -> argparse.Namespace:
    """--run-dir (a train-forecaster run: its model, split and data settings), --data-dir (the WFDB
    records), --stride-s (one forecast example every that many seconds, as `evaluate` cuts them)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, required=True, help="a train-forecaster run")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--stride-s", type=float, default=20)
    return parser.parse_args()


def load_run(args: argparse.Namespace) -> tuple[Any, Any, dict[str, list[str]]]:
    """The run's forecaster (eval mode; torch on one thread, as the figures were measured), its
    config and its record split."""
    import torch
    from ecg_vqvae.train import load_forecaster

    torch.set_num_threads(1)
    model, cfg = load_forecaster(args.run_dir)
    split = json.loads((args.run_dir / "split.json").read_text())
    return model.eval(), cfg, split
