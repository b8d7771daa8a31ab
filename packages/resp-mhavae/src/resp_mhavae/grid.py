"""The seed's grid search over l_win x look_back_num x threshold_percent (x dataset).

One run directory (with its own config.yaml) per (dataset, l_win, look_back_num); models are trained once
and every threshold reuses their scores. Rows go to `grid_results.csv`; a restarted search skips the
combinations already in it (the seed resumes after the last completed run).
"""

from __future__ import annotations

import csv
import dataclasses
import logging
from pathlib import Path

from sigzoo_shared import RunDir
from sigzoo_shared.errors import DataError

from resp_mhavae.config import Config

log = logging.getLogger(__name__)

COLUMNS = [
    "dataset",
    "l_win",
    "look_back_num",
    "threshold_percent",
    "method",
    "protocol",
    "threshold_rule",
    "window_f2",
    "event_detection_rate",
    "point_f2",
    "window_auc_pr",
    "window_roc_auc",
    "run_dir",
]


def grid_search(cfg: Config, run_dir: Path | None = None) -> Path:
    from resp_mhavae.data import load_recording
    from resp_mhavae.train import new_run

    datasets = [Path(p) for p in cfg.grid.datasets] or [cfg.data.path]
    for dataset in datasets:  # unreadable recordings stop the search before anything is written
        load_recording(dataclasses.replace(cfg.data, path=dataset))
    with new_run(run_dir, "grid-search", tensorboard=False) as root:
        return _search(cfg, root, datasets)


def _search(cfg: Config, root: RunDir, datasets: list[Path]) -> Path:
    from sigzoo_shared import resolve_device

    from resp_mhavae.data import load_prepared
    from resp_mhavae.evaluate import compute_scores, evaluate_scores
    from resp_mhavae.train import train

    root.save_config(cfg)
    out = root.path / "grid_results.csv"
    done: set[tuple[str, int, int, float]] = set()
    if out.is_file():
        with out.open(newline="") as fh:
            for row in csv.DictReader(fh):
                done.add(
                    (
                        row["dataset"],
                        int(row["l_win"]),
                        int(row["look_back_num"]),
                        float(row["threshold_percent"]),
                    )
                )
    device = resolve_device(cfg.train.device)
    for dataset in datasets:
        for l_win in cfg.grid.l_win:
            for k in cfg.grid.look_back_num:
                todo = [
                    p
                    for p in cfg.grid.threshold_percent
                    if (str(dataset), l_win, k, float(p)) not in done
                ]
                if not todo:
                    continue
                data = dataclasses.replace(cfg.data, path=dataset, l_win=l_win, look_back_num=k)
                run_cfg = dataclasses.replace(cfg, data=data)
                name = f"{Path(str(dataset)).stem}_lwin{l_win}_lb{k}"
                try:
                    path = train(run_cfg, root.path / name)
                except DataError as err:  # e.g. too few windows at this l_win: record and go on
                    log.warning("grid %s skipped: %s", name, err)
                    continue
                prepared = load_prepared(data, path / "data")
                scores = compute_scores(run_cfg, path, prepared, device)
                rows = []
                for pct in todo:
                    for r in evaluate_scores(run_cfg, scores, prepared, pct):
                        if r["primary"]:
                            rows.append(
                                {
                                    "dataset": str(dataset),
                                    "l_win": l_win,
                                    "look_back_num": k,
                                    "run_dir": str(path),
                                    **r,
                                }
                            )
                previous = list(csv.DictReader(out.open(newline=""))) if out.is_file() else []
                # rewritten atomically after each model: a restart resumes after the last finished one
                root.write_csv(
                    out.name, [[r.get(c) for c in COLUMNS] for r in previous + rows], header=COLUMNS
                )
    return out
