"""`vae-demo watch RUN`: follow a run (in progress or finished) from its files, no notebook needed.

Reads `RUN/metrics.jsonl` (one line per finished epoch) and prints a row per epoch: losses, the latent
clustering metrics and the newest latent figure. With `follow` it polls until the run's last checkpoint
says it has finished, the configured epochs are done, or nothing new appeared for `idle_timeout_s`.
TensorBoard shows the same run live: `tensorboard --logdir RUN` (scalars, images, projector).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from sigzoo_shared import DataError

COLUMNS = (
    "epoch",
    "train_loss",
    "val_loss",
    "val_recon",
    "val_kl",
    "val_ari",
    "val_nmi",
    "val_silhouette",
    "val_noise_auc",
    "epoch_time_s",
)


def read_metrics(run: Path) -> list[dict[str, Any]]:
    """Complete lines of metrics.jsonl (a line being written right now is skipped, not an error)."""
    path = run / "metrics.jsonl"
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return [r for r in records if "epoch" in r]


def planned_epochs(run: Path) -> int | None:
    try:
        cfg = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return None
    return (cfg.get("train") or {}).get("epochs")


def format_row(record: dict[str, Any]) -> str:
    cells = []
    for key in COLUMNS:
        value = record.get(key)
        if key == "epoch" and value is not None:
            value = int(value) + 1
        cells.append(
            f"{value:.4g}" if isinstance(value, float) else ("" if value is None else str(value))
        )
    return " | ".join(f"{c:>10}" for c in cells)


def header() -> str:
    names = [
        c.replace("val_", "") if c.startswith("val_") and c not in ("val_loss",) else c
        for c in COLUMNS
    ]
    return " | ".join(f"{n:>10}" for n in names)


def watch(
    run_dir: Path | str,
    follow: bool = True,
    interval_s: float = 5.0,
    idle_timeout_s: float = 600.0,
    emit: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Print the run's epochs (then new ones as they land, when `follow`); returns all records seen."""
    run = Path(run_dir)
    if not run.is_dir():
        raise DataError(
            f"{run}: run directory not found (pass the --run-dir of a train or demo run)"
        )
    emit(f"watching {run}  (TensorBoard: tensorboard --logdir {run})")
    emit(header())
    seen: list[dict[str, Any]] = []
    last_change = time.monotonic()
    while True:
        records = read_metrics(run)
        if len(records) < len(seen):  # a resumed run truncated its history
            seen = records[:0]
        for record in records[len(seen) :]:
            emit(format_row(record))
            last_change = time.monotonic()
        if len(records) > len(seen):
            frames = sorted((run / "figures").glob("latent_epoch*.png"))
            if frames:
                emit(f"latest latent figure: {frames[-1]}")
        seen = records
        planned = planned_epochs(run)
        done = planned is not None and seen and int(seen[-1]["epoch"]) + 1 >= planned
        gif = run / "figures" / "latent.gif"
        if not follow or done or gif.exists() or time.monotonic() - last_change > idle_timeout_s:
            if gif.exists():
                emit(f"latent animation: {gif}")
            return seen
        time.sleep(interval_s)
