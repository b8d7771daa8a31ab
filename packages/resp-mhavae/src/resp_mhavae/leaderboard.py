"""`resp-mhavae leaderboard`: every method on every series, point-wise scores, range-aware metrics.

Methods: the learned VAE-LSTM family (one model per seed) and the simple detectors of detectors.py,
all scored on the same sliding windows of the same z-scored series (pointwise.py) and measured on the
same test steps (range_metrics.py). Two protocols side by side: the chronological split (train on the
first `train_fraction` of rows, test on the rest) and NAB's (fit on the probationary period without any
label, score every later row). A series whose test part holds no labelled anomaly is reported as not
scorable, with a warning, and left out of the medians.

Series are files or folders: NAB `timestamp,value` CSVs (labels from `<nab>/labels/combined_windows.json`)
and the original system's nose-sensor CSVs (labels from `dataset_config.json` beside them). NAB windows
are one day of samples, at most rows / `leaderboard.nab_windows_per_series`, fixed before any result.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sigzoo_shared import RunDir, resolve_device, setup
from sigzoo_shared import metrics as M
from sigzoo_shared.errors import DataError

from resp_mhavae.config import Config
from resp_mhavae.data import (
    TEST,
    Prepared,
    Recording,
    load_recording,
    prepare,
    write_normalisation,
    zscore,
)
from resp_mhavae.detectors import DETECTOR_NAMES, detector_scores
from resp_mhavae.pointwise import (
    learned_window_scores,
    resolve_stride,
    sliding_windows,
    spread,
    window_starts,
)
from resp_mhavae.range_metrics import pointwise_metrics

log = logging.getLogger(__name__)
PACKAGE = "resp-mhavae"
LEARNED_NAMES = {"mhavae": "MHA-VAE-LSTM", "vae_lstm_no_attention": "VAE-LSTM (no attention)"}
METHOD_NAMES = {**LEARNED_NAMES, **DETECTOR_NAMES}


@dataclass
class Series:
    path: Path
    format: str  # "nab" | "collected"

    @property
    def name(self) -> str:
        return self.path.stem.removeprefix("sensor_data_").removesuffix("_with_anomalies")


def series_format(path: Path) -> str:
    """'nab' for a `timestamp,value` CSV, 'collected' for the nose-sensor CSV; DataError otherwise."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            header = [h.strip() for h in next(csv.reader(fh), [])]
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err})") from err
    if header[:2] == ["timestamp", "value"]:
        return "nab"
    if header[:2] == ["Timestamp", "Audio"]:
        return "collected"
    raise DataError(
        f"{path}: header {header[:4]} is neither NAB's 'timestamp,value' nor the nose-sensor "
        "'Timestamp,Audio,...'; leaderboard series must be one of those two formats"
    )


def find_series(entries: list[str]) -> list[Series]:
    """Files as given; folders contribute their *.csv files (sorted)."""
    out = []
    for entry in entries:
        path = Path(entry)
        if path.is_dir():
            files = sorted(path.glob("*.csv"))
            if not files:
                raise DataError(f"{path}: folder holds no .csv series")
        elif path.is_file():
            files = [path]
        else:
            raise DataError(f"{path}: no such file or folder (leaderboard.series)")
        out += [Series(f, series_format(f)) for f in files]
    if not out:
        raise DataError(
            "leaderboard: no series given (resp-mhavae leaderboard --series FILE|DIR ...)"
        )
    return out


def series_config(cfg: Config, series: Series, split: str) -> Config:
    """The run's config with this series' format, channels and (NAB) window length filled in."""
    data = dataclasses.replace(cfg.data, path=series.path, format=series.format, split=split)
    if series.format == "nab":
        data = dataclasses.replace(
            data, channels=["value"], timestamp_column="timestamp", timestamp_order="file"
        )
        rec = load_recording(data)
        per_day = int(round(86400 * rec.sample_rate_hz))
        cap = len(rec.values) // cfg.leaderboard.nab_windows_per_series
        data = dataclasses.replace(data, l_win=max(8, min(per_day, cap)))
    else:
        data = dataclasses.replace(data, timestamp_column="Timestamp", intervals=None)
    model = cfg.model
    if model.modality_weights is not None and len(model.modality_weights) != len(data.channels):
        model = dataclasses.replace(model, modality_weights=None)
    return dataclasses.replace(cfg, data=data, model=model)


@dataclass
class Scene:
    """One series under one protocol: what every method is fitted on and scored against."""

    rec: Recording
    prepared: Prepared
    starts: np.ndarray  # (W,) sliding window starts
    windows: np.ndarray  # (W, C, L) z-scored sliding windows
    train: np.ndarray  # (Wt, C, L) sliding windows inside the training part, no seen label
    test_start: int  # first scored row
    stride: int


def build_scene(cfg: Config, rec: Recording) -> Scene:
    prepared = prepare(rec, cfg.data)
    L = cfg.data.l_win
    test_start = int(np.flatnonzero(prepared.split == TEST)[0]) * L
    z = zscore(rec.values, prepared.mean, prepared.std)  # (N, C)
    stride = resolve_stride(L, cfg.score.stride)
    starts = window_starts(len(z), L, stride)
    windows = sliding_windows(z, starts, L)
    seen = np.zeros_like(rec.labels) if cfg.data.split == "nab" else rec.labels
    clean = np.concatenate([[0], np.cumsum(seen)])
    inside = (starts + L <= test_start) & (clean[starts + L] - clean[starts] == 0)
    return Scene(rec, prepared, starts, windows, windows[inside], test_start, stride)


def step_metrics(cfg: Config, scene: Scene, window_scores: np.ndarray) -> dict[str, Any]:
    """Spread window scores to steps, then every metric on the test steps (+ the window ROC-AUC)."""
    L = cfg.data.l_win
    steps = spread(window_scores, scene.starts, L, len(scene.rec.values), cfg.score.spread)
    return scored_part_metrics(cfg, scene, steps)


def scored_part_metrics(cfg: Config, scene: Scene, steps: np.ndarray) -> dict[str, Any]:
    """Every metric of point-wise scores (N,) on the scene's test steps (+ the window ROC-AUC)."""
    L = cfg.data.l_win
    y = scene.rec.labels[scene.test_start :]
    buffer = cfg.score.vus_window if cfg.score.vus_window is not None else min(L, 100)
    out = pointwise_metrics(y, steps[scene.test_start :], buffer, cfg.score.affiliation_thresholds)
    test = scene.prepared.split == TEST
    n_w = len(scene.prepared.split)
    win_scores = steps[: n_w * L].reshape(n_w, L).mean(1)[test]
    win_labels = scene.prepared.labels[test]
    both = win_labels.any() and not win_labels.all()
    out["window_roc_auc"] = M.roc_auc(win_labels, win_scores) if both else None
    out["n_test_windows"] = int(test.sum())
    return out


def learned_scores(
    cfg: Config, scene: Scene, name: str, run: RunDir, device: torch.device
) -> np.ndarray:
    """Train the VAE-LSTM (`name`) on the scene's training part, then score every sliding window."""
    from resp_mhavae.factory import load_model
    from resp_mhavae.train import load_vae, train_vae_lstm

    train_vae_lstm(
        cfg, scene.prepared, run, name, name == "mhavae" and cfg.model.use_attention, device
    )
    write_normalisation(run.path, scene.prepared)  # what `resp_mhavae.load_run` z-scores with
    vae = load_vae(run.path / name / "vae", device)
    lstm = load_model(run.path / name / "lstm", device)
    return learned_window_scores(vae, lstm, scene.windows, scene.stride, cfg, device)


def load_scene(cfg: Config, series: Series, split: str) -> tuple[Config, Scene]:
    """Read and check one series under one protocol (DataError names the file); nothing is written."""
    scfg = series_config(cfg, series, split)
    return scfg, build_scene(scfg, load_recording(scfg.data))


def score_series(
    scfg: Config, scene: Scene, series: Series, run: RunDir, device: torch.device
) -> list[dict[str, Any]]:
    """Rows (method x seed) for one series under one protocol."""
    rec, split = scene.rec, scfg.data.split
    base = {
        "series": series.name,
        "split": split,
        "l_win": scfg.data.l_win,
        "stride": scene.stride,
        "test_start": scene.test_start,
    }
    y = rec.labels[scene.test_start :]
    if not (y.any() and not y.all()):
        log.warning(
            "%s (%s split): the test part (rows %d..%d) holds no labelled anomaly; not scorable",
            series.path,
            split,
            scene.test_start,
            len(rec.labels) - 1,
        )
    rows = []
    seeds = scfg.leaderboard.seeds
    for name in scfg.score.detectors:
        for seed in seeds if name == "isolation_forest" else seeds[:1]:
            s = detector_scores(name, scene.train, scene.windows, seed)
            rows.append({**base, "method": name, "seed": seed, **step_metrics(scfg, scene, s)})
    for name in scfg.leaderboard.learned:
        for seed in seeds:
            seeded = dataclasses.replace(
                scfg,
                train=dataclasses.replace(scfg.train, seed=seed),
                lstm=dataclasses.replace(scfg.lstm, seed=seed),
            )
            sub = RunDir(run.path / "models" / f"{series.name}_{split}_s{seed}", tensorboard=False)
            s = learned_scores(seeded, scene, name, sub, device)
            rows.append({**base, "method": name, "seed": seed, **step_metrics(seeded, scene, s)})
            log.info(
                "%s %s %s seed %d: VUS-PR %s", series.name, split, name, seed, rows[-1]["vus_pr"]
            )
    return rows


# ------------------------------------------------------------------------------------------ summary


def summarise(rows: list[dict[str, Any]], metric: str = "vus_pr") -> dict[str, Any]:
    """Per (split, method): per-series mean/std over seeds; the median over scorable series per seed."""
    out: dict[str, Any] = {}
    for split in sorted({r["split"] for r in rows}):
        sr = [r for r in rows if r["split"] == split]
        series = list(dict.fromkeys(r["series"] for r in sr))
        scorable = [s for s in series if all(r["scorable"] for r in sr if r["series"] == s)]
        prevalence = {s: next(r["prevalence"] for r in sr if r["series"] == s) for s in series}
        methods = {}
        for method in dict.fromkeys(r["method"] for r in sr):
            mr = [r for r in sr if r["method"] == method]
            per = {}
            for s in series:
                vals = [r[metric] for r in mr if r["series"] == s and r[metric] is not None]
                per[s] = (float(np.mean(vals)), float(np.std(vals)), len(vals)) if vals else None
            medians = []
            for seed in sorted({r["seed"] for r in mr}):
                vals = [r[metric] for r in mr if r["seed"] == seed and r["series"] in scorable]
                if len(vals) == len(scorable) and vals:
                    medians.append(float(np.median(vals)))
            methods[method] = {
                "per_series": per,
                "median": float(np.mean(medians)) if medians else None,
                "median_std": float(np.std(medians)) if medians else None,
                "n_seeds": len(medians),
            }
        out[split] = {
            "series": series,
            "scorable": scorable,
            "prevalence": prevalence,
            "methods": methods,
        }
    return out


def _cell(v: tuple[float, float, int] | None) -> str:
    if v is None:
        return "not scorable"
    mean, std, n = v
    return f"{mean:.3f}" + (f" ± {std:.3f}" if n > 1 else "")


def leaderboard_markdown(summary: dict[str, Any], metric: str = "vus_pr") -> str:
    lines = []
    for split, part in summary.items():
        series, scorable = part["series"], part["scorable"]
        ranked = sorted(
            part["methods"].items(),
            key=lambda kv: -1.0 if kv[1]["median"] is None else -kv[1]["median"],
        )
        lines += [
            f"### {metric.upper().replace('_', '-')}, {split} split "
            f"(median over the {len(scorable)} scorable series)",
            "",
            "| rank | method | median | " + " | ".join(series) + " |",
            "|---|---|---|" + "---|" * len(series),
        ]
        for rank, (method, m) in enumerate(ranked, 1):
            med = "n/a" if m["median"] is None else f"{m['median']:.3f}"
            if m["median"] is not None and m["n_seeds"] > 1:
                med += f" ± {m['median_std']:.3f}"
            cells = [_cell(m["per_series"][s]) for s in series]
            lines.append(
                f"| {rank} | {METHOD_NAMES.get(method, method)} | {med} | "
                + " | ".join(cells)
                + " |"
            )
        prev = [f"{part['prevalence'][s]:.3f}" if s in scorable else "not scorable" for s in series]
        lines += ["| | prevalence (≈ chance) | | " + " | ".join(prev) + " |", ""]
    return "\n".join(lines)


SECONDARY = ["vus_roc", "range_auc_pr", "point_auc_pr", "affiliation_f1", "window_roc_auc"]


def secondary_markdown(rows: list[dict[str, Any]]) -> str:
    """Per split: each method's median over scorable series of the other metrics (mean ± std over seeds)."""
    from resp_mhavae.range_metrics import METRIC_NAMES

    names = {**METRIC_NAMES, "window_roc_auc": "window ROC-AUC (paper)"}
    by_metric = {m: summarise(rows, m) for m in SECONDARY}
    lines = []
    for split in by_metric[SECONDARY[0]]:
        part = by_metric[SECONDARY[0]][split]
        lines += [
            f"### Other metrics, {split} split (median over the {len(part['scorable'])} scorable "
            "series, mean ± std over seeds)",
            "",
            "| method | " + " | ".join(names[m] for m in SECONDARY) + " |",
            "|---|" + "---|" * len(SECONDARY),
        ]
        for method in part["methods"]:
            cells = []
            for m in SECONDARY:
                v = by_metric[m][split]["methods"][method]
                cell = "n/a" if v["median"] is None else f"{v['median']:.3f}"
                if v["median"] is not None and v["n_seeds"] > 1:
                    cell += f" ± {v['median_std']:.3f}"
                cells.append(cell)
            lines.append(f"| {METHOD_NAMES.get(method, method)} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def leaderboard_figure(summary: dict[str, Any], path: Path, metric: str = "vus_pr") -> Path:
    """One panel per split: each method's per-series mean (dots, seed spread as bars) and median (bar)."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    splits = list(summary)
    fig = Figure(figsize=(11, 3.8 * len(splits) + 0.8), layout="constrained")
    axes = fig.subplots(len(splits), 1, squeeze=False)[:, 0]
    colour = {s: f"C{i % 10}" for i, s in enumerate(summary[splits[0]]["series"])}
    for ax, split in zip(axes, splits):
        part = summary[split]
        series = part["scorable"]
        methods = list(part["methods"])
        for i, method in enumerate(methods):
            m = part["methods"][method]
            if m["median"] is not None:
                ax.bar(i, m["median"], color="0.85", width=0.7)
            for j, s in enumerate(series):
                v = m["per_series"][s]
                if v is not None:
                    x = i - 0.3 + 0.6 * j / max(len(series) - 1, 1)
                    ax.errorbar(x, v[0], yerr=v[1], fmt="o", ms=4, color=colour.get(s, "k"))
        ax.set_xticks(range(len(methods)), [METHOD_NAMES.get(m, m) for m in methods], rotation=15)
        ax.set_ylim(0, 1.02)
        ax.set_ylabel(metric.upper().replace("_", "-"))
        ax.set_title(
            f"{split} split: bars = median over scorable series, dots = per series (± seeds)"
        )
    handles = [Line2D([], [], marker="o", ls="", color=c, label=s) for s, c in colour.items()]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=8)
    fig.savefig(path, dpi=110)
    return path


def leaderboard(cfg: Config, run_dir: Path | None = None) -> Path:
    """Score every method on every series and protocol; write leaderboard.{json,csv,md} and a figure."""
    series = find_series(cfg.leaderboard.series)
    # every series is read and checked before the run directory exists: bad input leaves nothing
    scenes = [(s, *load_scene(cfg, s, split)) for s in series for split in cfg.leaderboard.splits]
    device = resolve_device(cfg.train.device)
    setup(cfg.train)
    with RunDir.created(PACKAGE, run_dir=run_dir, verb="leaderboard", tensorboard=False) as run:
        run.save_config(cfg)
        rows: list[dict[str, Any]] = []
        for s, scfg, scene in scenes:
            rows += score_series(scfg, scene, s, run, device)
            run.write_json("rows.json", rows)  # partial results survive an interrupted run
        summary = summarise(rows)
        run.write_json("leaderboard.json", {"rows": rows, "summary": summary})
        columns = list(rows[0])
        run.write_csv(
            "leaderboard.csv", [[r.get(c) for c in columns] for r in rows], header=columns
        )
        run.write_text(
            "leaderboard.md", leaderboard_markdown(summary) + "\n" + secondary_markdown(rows)
        )
        run.figures.mkdir(parents=True, exist_ok=True)
        leaderboard_figure(summary, run.figures / "leaderboard_vus_pr.png")
        run.close()
    return run.path / "leaderboard.md"
