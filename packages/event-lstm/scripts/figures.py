"""Regenerate the figures of docs/event-lstm.md from the comparison's runs (docs: "Commands behind
every number").

    python figures.py COMPARE_DIR OUT_DIR      # e.g. runs/event-lstm/compare docs/figures/event-lstm

Uses the event-specific run of seed 0 (es/seed-0): its learned templates, its type confusion on the seed-7
test windows (written by `event-lstm evaluate`), one validation window after its last epoch (logged
during training) and its streaming detections over 4 s of the seed-7
recording.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch
from event_lstm.data import load_recording
from event_lstm.detect import detect_array
from event_lstm.evaluate import load_classifier
from event_lstm.plots import stream_figure, template_grid


def main(compare: Path, out: Path) -> None:
    torch.set_num_threads(1)
    out.mkdir(parents=True, exist_ok=True)
    run = compare / "es" / "seed-0"
    loaded = load_classifier(run)
    model, cfg = loaded.model, loaded.config
    template_grid(model).savefig(out / "templates.png", dpi=110, bbox_inches="tight")
    shutil.copy(run / "eval-windows" / "figures" / "confusion_5ms.png", out / "confusion_5ms.png")
    last_window = sorted((run / "figures").glob("window_epoch*.png"))[-1]  # logged by EpochFigures
    shutil.copy(last_window, out / "window_detections.png")
    rec = load_recording(compare / "test-seed7" / "stream.npz")
    window = cfg.generator.window_samples
    dets, _ = detect_array(model, rec.signal, window, cfg.detect.hop(window), cfg.detect.threshold)
    fig = stream_figure(rec.signal, rec.fs_hz, rec.events, dets, 0.0, 4.0)
    fig.savefig(out / "stream_detections.png", dpi=110, bbox_inches="tight")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
