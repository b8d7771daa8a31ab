"""The arguments every measurement script on one forecaster run and MIT-BIH takes (one definition)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


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


@dataclass
class RecordExamples:
    """One validation or test record's forecast examples, as `evaluate` cuts them, with the naive
    forecasts and the run's point forecast of their first `h` samples' futures."""

    part: str  # "val" or "test"
    name: str
    beats: np.ndarray  # the record's annotated beat samples
    starts: np.ndarray  # (n,) example starts; each context is [s, s + W), its future follows
    contexts: np.ndarray  # (n, L, W)
    truth: np.ndarray  # (n, L, h)
    naive: dict[str, np.ndarray]  # each (n, L, W)
    point: np.ndarray  # (n, L, W): the run's point forecast (repeat-last-beat prior)


def record_examples(
    args: argparse.Namespace, model: Any, cfg: Any, split: dict[str, list[str]], h: int
) -> Iterator[RecordExamples]:
    """Every validation then test record's examples, one every --stride-s seconds."""
    from ecg_vqvae.data import read_beats, record_segment
    from ecg_vqvae.evaluate import example_starts, forecast_examples
    from ecg_vqvae.forecasts import model_forecasts, naive_forecasts

    fs, w = cfg.data.samples_per_second, cfg.data.window_samples
    for part in ("val", "test"):
        for name in split[part]:
            seg = record_segment(args.data_dir, name, cfg.data)  # (L, n)
            starts = example_starts(seg.shape[1], w, w, int(round(args.stride_s * fs)), None)
            contexts, truth, _ = forecast_examples(seg, starts, w, h)
            naive = naive_forecasts(contexts, w, fs)
            point = model_forecasts(model, contexts, naive["repeat_last_beat"], 64)
            beats = read_beats(args.data_dir, name, fs)
            yield RecordExamples(
                part, name, beats, starts, contexts, truth, naive, point["vqvae_forecaster"]
            )
