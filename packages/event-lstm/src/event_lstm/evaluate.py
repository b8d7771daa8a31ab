"""Event metrics for windowed sets and continuous recordings, on the core's one-to-one event matching.

Per event type and overall: precision / recall / F1 at +-2, 5, 10, 20 ms (`match_events_by_type`), onset
error median and 95th percentile in ms (`onset_error_stats` of the pairs matched at 20 ms, so the
statistic covers nearly every detected event without crediting far-off guesses), refractory violations in
the output, and the type confusion of events matched by time alone (`event_confusion`). The original
measured none of this. Windowed sets are laid end to end with gaps wider than the largest tolerance and
the refractory period, so no event is matched across windows.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sigzoo_shared import DataError, RunDir
from sigzoo_shared.metrics import event_confusion, match_events_by_type
from torch import nn

from event_lstm.config import Config
from event_lstm.data import WindowSet, load_recording, load_windows, npz_names
from event_lstm.detect import (  # noqa: F401  (load_classifier, detect_file: their old home)
    count_refractory_violations,
    detect_file,
    detect_signal,
    load_classifier,
    predict_windows,
    write_events_csv,
)

log = logging.getLogger(__name__)


def event_metrics(
    true_samples: np.ndarray,
    true_types: np.ndarray,
    pred_samples: np.ndarray,
    pred_types: np.ndarray,
    fs_hz: int,
    n_events: int,
    tolerances_ms: list[float],
    refractory_samples: int,
) -> dict[str, Any]:
    """Matching at each tolerance, onset errors (ms), confusion at 5 ms, refractory violations."""
    to_ms = 1000.0 / fs_hz
    by_tol = {}
    for tol in tolerances_ms:
        m = match_events_by_type(
            true_samples,
            true_types,
            pred_samples,
            pred_types,
            tol / to_ms,
            types=list(range(n_events)),
        )
        overall = {k: v for k, v in m["overall"].items() if not k.startswith("onset")}
        by_tol[f"{tol:g}ms"] = {
            "overall": overall,
            "per_type": {
                int(k): {kk: v[kk] for kk in ("tp", "fp", "fn", "precision", "recall", "f1")}
                for k, v in m["per_type"].items()
            },
        }
    wide = match_events_by_type(
        true_samples,
        true_types,
        pred_samples,
        pred_types,
        max(tolerances_ms) / to_ms,
        types=list(range(n_events)),
    )["overall"]
    cm = event_confusion(true_samples, true_types, pred_samples, pred_types, 5.0 / to_ms, n_events)
    return {
        "by_tolerance": by_tol,
        "onset_error_ms": {
            "median": wide["onset_abs_median"] * to_ms,
            "p95": wide["onset_abs_p95"] * to_ms,
            "mean_signed": wide["onset_mean"] * to_ms,
            "n_matched": int(wide["tp"]),
            "matched_at_ms": max(tolerances_ms),
        },
        "refractory_violations": count_refractory_violations(
            pred_samples, pred_types, refractory_samples
        ),
        "n_true": int(len(true_samples)),
        "n_pred": int(len(pred_samples)),
        "confusion_5ms": cm.tolist(),
    }


def window_events(
    labels: np.ndarray, timings: np.ndarray, spacing: int
) -> tuple[np.ndarray, np.ndarray]:
    """Events of windowed labels as (global sample, type), window i starting at i * spacing."""
    n, e = np.nonzero(labels > 0.5)
    return n * spacing + timings[n, e], e


def window_metrics(
    model: nn.Module,
    ws: WindowSet,
    cfg: Config,
    device: torch.device | str = "cpu",
    tolerances_ms: list[float] | None = None,
) -> dict[str, Any]:
    pred = predict_windows(model, ws.signals, cfg.detect.threshold, cfg.detect.timing, device)
    spacing = ws.signals.shape[1] + 2 * cfg.model.refractory_period_samples
    ts, tt = window_events(ws.event_labels, ws.event_timings, spacing)
    present = pred["present"]
    ps, pt = window_events(present.astype(np.float32), np.nan_to_num(pred["onsets"]), spacing)
    res = event_metrics(
        ts,
        tt,
        ps,
        pt,
        cfg.data.fs_hz,
        cfg.data.n_events,
        tolerances_ms or cfg.detect.tolerances_ms,
        cfg.model.refractory_period_samples,
    )
    y = ws.event_labels > 0.5
    res["window_presence_accuracy"] = float((present == y).mean())
    res["chance_f1"] = chance_f1(ws, cfg, tolerances_ms or cfg.detect.tolerances_ms)
    return res


def chance_f1(
    ws: WindowSet, cfg: Config, tolerances_ms: list[float], seed: int = 0
) -> dict[str, float]:
    """F1 per tolerance of a detector that knows only the label rates: each type reported present
    with its rate in `ws`, at a uniformly random onset in the window, scored with the same matching.

    The floor any published F1 is read against (a result file carries its own chance level).
    """
    rng = np.random.default_rng(seed)
    labels = ws.event_labels  # (N, E)
    guess = (rng.random(labels.shape) < labels.mean(0)).astype(np.float32)  # (N, E)
    onsets = rng.integers(0, ws.signals.shape[1], labels.shape).astype(np.float32)  # (N, E)
    spacing = ws.signals.shape[1] + 2 * cfg.model.refractory_period_samples
    ts, tt = window_events(labels, ws.event_timings, spacing)
    ps, pt = window_events(guess, onsets, spacing)
    res = event_metrics(
        ts,
        tt,
        ps,
        pt,
        cfg.data.fs_hz,
        cfg.data.n_events,
        tolerances_ms,
        cfg.model.refractory_period_samples,
    )
    return {k: v["overall"]["f1"] for k, v in res["by_tolerance"].items()}


def evaluate(
    checkpoint: Path | str,
    data: Path | str,
    run_dir: Path | str | None = None,
    cfg_overrides: Config | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Metrics of a trained classifier on a windowed `.npz` set or a continuous recording (+ events CSV).

    Writes results.json, results.md, per_type.csv and a confusion figure into the run directory.
    """
    loaded = load_classifier(checkpoint, device)
    model, cfg = loaded.model, loaded.config
    if cfg_overrides is not None:
        cfg = Config(
            data=cfg.data,
            generator=cfg.generator,
            model=cfg.model,
            loss=cfg.loss,
            pretrain=cfg.pretrain,
            detect=cfg_overrides.detect,
            train=cfg.train,
        )
    # a missing or bad data file removes the run directory this call made
    with RunDir.created("event-lstm", run_dir=run_dir, verb="evaluate", tensorboard=False) as run:
        return _evaluate_into(run, model, cfg, checkpoint, Path(data), device)


def _evaluate_into(
    run: RunDir, model: nn.Module, cfg: Config, checkpoint: Path | str, data: Path, device: str
) -> dict[str, Any]:
    continuous = "signal" in npz_names(data)
    if continuous:
        rec = load_recording(data, n_channels=cfg.data.n_channels, fs_hz=cfg.data.fs_hz)
        if rec.events is None:
            raise DataError(
                f"{data}: no events CSV beside the recording ({data.with_suffix('.csv')}); "
                "evaluation needs true events"
            )
        dets, timing = detect_signal(
            model, rec.signal, cfg.generator.window_samples, cfg.detect, device
        )
        ps = np.array([d.sample for d in dets], dtype=float)
        pt = np.array([d.event for d in dets], dtype=int)
        res = event_metrics(
            rec.events[:, 0].astype(float),
            rec.events[:, 1],
            ps,
            pt,
            cfg.data.fs_hz,
            cfg.data.n_events,
            cfg.detect.tolerances_ms,
            cfg.model.refractory_period_samples,
        )
        res["real_time_factor"] = len(rec.signal) / cfg.data.fs_hz / max(timing["elapsed_s"], 1e-9)
        res["raw_window_candidates"] = timing["raw_candidates"]
        write_events_csv(run / "events.csv", dets, cfg.data.fs_hz)
    else:
        ws = load_windows(data, cfg.data.n_channels, cfg.data.n_events, cfg.model.template_length)
        res = window_metrics(model, ws, cfg, device)
    res["data"], res["checkpoint"], res["kind"] = (
        str(data),
        str(checkpoint),
        ("stream" if continuous else "windows"),
    )
    run.write_json("results.json", res)
    run.write_text("results.md", results_markdown(res))
    rows = (
        [
            [
                k,
                v["tp"],
                v["fp"],
                v["fn"],
                round(v["precision"], 4),
                round(v["recall"], 4),
                round(v["f1"], 4),
            ]
            for k, v in res["by_tolerance"]["5ms"]["per_type"].items()
        ]
        if "5ms" in res["by_tolerance"]
        else []
    )
    run.write_csv(
        "per_type.csv", rows, header=["event", "tp", "fp", "fn", "precision", "recall", "f1_5ms"]
    )
    from event_lstm.plots import confusion_figure

    run.save_figure(confusion_figure(np.array(res["confusion_5ms"])), "confusion_5ms")
    run.log_metrics({"evaluate": summary(res)})
    return res


def summary(res: dict[str, Any]) -> dict[str, float]:
    out = {f"f1_{k}": v["overall"]["f1"] for k, v in res["by_tolerance"].items()}
    out.update(
        {
            "onset_median_ms": res["onset_error_ms"]["median"],
            "onset_p95_ms": res["onset_error_ms"]["p95"],
            "refractory_violations": res["refractory_violations"],
        }
    )
    if "real_time_factor" in res:
        out["real_time_factor"] = res["real_time_factor"]
    return out


def results_markdown(res: dict[str, Any]) -> str:
    lines = [
        f"# event-lstm evaluation ({res.get('kind', '')})",
        "",
        f"data: `{res.get('data', '')}`",
        "",
        "| tolerance | precision | recall | F1 | tp | fp | fn |",
        "|---|---|---|---|---|---|---|",
    ]
    for k, v in res["by_tolerance"].items():
        o = v["overall"]
        lines.append(
            f"| +-{k} | {o['precision']:.4f} | {o['recall']:.4f} | {o['f1']:.4f} | {o['tp']} | "
            f"{o['fp']} | {o['fn']} |"
        )
    oe = res["onset_error_ms"]
    lines += [
        "",
        f"onset error: median {oe['median']:.3f} ms, p95 {oe['p95']:.3f} ms "
        f"({oe['n_matched']} events matched at +-{oe['matched_at_ms']:g} ms)",
        f"refractory violations: {res['refractory_violations']}",
    ]
    if "chance_f1" in res:
        lines.append(
            "chance level (label rates, random onsets): "
            + ", ".join(f"F1 +-{k} {v:.4f}" for k, v in res["chance_f1"].items())
        )
    if "real_time_factor" in res:
        lines.append(f"streaming real-time factor: {res['real_time_factor']:.1f}x")
    return "\n".join(lines) + "\n"


def write_templates(
    checkpoint: Path | str, out: Path | str | None = None, run_dir: Path | str | None = None
) -> Path:
    """The 4x4 template grid of an event-specific run (error for an LSTMEventClassifier run)."""
    from event_lstm.plots import visualize_learned_templates

    loaded = load_classifier(checkpoint)
    model, cfg = loaded.model, loaded.config
    if cfg.model.arch != "event_specific":
        from sigzoo_shared import ConfigError

        raise ConfigError(
            f"{checkpoint}: model.arch is {cfg.model.arch!r}; templates exist only for "
            "model.arch=event_specific"
        )
    if out is not None:
        return visualize_learned_templates(model, out)
    with RunDir.created("event-lstm", run_dir=run_dir, verb="templates", tensorboard=False) as run:
        return visualize_learned_templates(model, run.figures / "templates.png")


def validation_curves(
    runs: list[Path], every: int = 1, metric: str = "val_f1_5ms"
) -> dict[int, float]:
    """Mean over `runs` of `metric` after every `every`-th epoch (1-based), from each metrics.jsonl.

    An epoch missing in some runs is averaged over the runs that have it.
    """
    import json

    if every < 1:
        from sigzoo_shared import ConfigError

        raise ConfigError(f"--every must be >= 1, got {every}")
    per_run: list[dict[int, float]] = []
    for run in runs:
        path = Path(run) / "metrics.jsonl"
        if not path.is_file():
            raise DataError(f"{path}: not found (is {run} a training run?)")
        rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
        per_run.append(
            {r["epoch"] + 1: r[metric] for r in rows if "epoch" in r and r.get(metric) is not None}
        )
    last = max((max(r) for r in per_run if r), default=0)
    if last == 0:
        raise DataError(f"no epoch in {[str(r) for r in runs]} logged {metric}")
    out = {}
    for epoch in range(every, last + 1, every):
        values = [r[epoch] for r in per_run if epoch in r]
        out[epoch] = float(np.mean(values)) if values else float("nan")
    return out


def curves_markdown(curve: dict[int, float], label: str) -> str:
    head = "| runs | " + " | ".join(f"epoch {e}" for e in curve) + " |"
    rule = "|---" * (len(curve) + 1) + "|"
    row = f"| {label} | " + " | ".join(f"{v:.3f}" for v in curve.values()) + " |"
    return "\n".join([head, rule, row]) + "\n"
