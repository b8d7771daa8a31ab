"""Summarise compare.sh runs: python summarize.py OUT_DIR -> markdown table (means +- std over seeds).

Also prints a chance level: each type predicted present with its training prior and a uniform random
onset in the window, scored with the same matching on the same test set.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from event_lstm.data import load_windows
from event_lstm.evaluate import event_metrics, window_events

ROUTES = {
    "lstm": "LSTMEventClassifier",
    "es": "EventSpecificClassifier",
    "ft-ae": "AE pre-train + fine-tune",
    "ft-vae": "VAE pre-train + fine-tune",
    "ft-contrastive": "contrastive pre-train + fine-tune",
}


def load(run: Path, kind: str) -> dict | None:
    path = run / f"eval-{kind}" / "results.json"
    return json.loads(path.read_text()) if path.is_file() else None


def row_values(run: Path) -> dict[str, float] | None:
    w, s = load(run, "windows"), load(run, "stream")
    if w is None:
        return None
    out = {
        f"win_f1_{t}": w["by_tolerance"][t]["overall"]["f1"] for t in ("2ms", "5ms", "10ms", "20ms")
    }
    out.update(win_med=w["onset_error_ms"]["median"], win_p95=w["onset_error_ms"]["p95"])
    if s is not None:
        out.update(
            str_f1_5=s["by_tolerance"]["5ms"]["overall"]["f1"],
            str_med=s["onset_error_ms"]["median"],
            str_viol=s["refractory_violations"],
            rtf=s.get("real_time_factor", float("nan")),
        )
    hist = [
        json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if '"epoch"' in x
    ]
    out["steps"] = max(h["step"] for h in hist)
    out["train_s"] = sum(h["epoch_time_s"] for h in hist)
    return out


def chance(out: Path, seed: int = 0) -> dict[str, float]:
    ws = load_windows(out / "test-seed7" / "test.npz")
    rng = np.random.default_rng(seed)
    prior = ws.event_labels.mean(0)
    pred = (rng.random(ws.event_labels.shape) < prior).astype(np.float32)
    onsets = rng.integers(0, ws.signals.shape[1], ws.event_labels.shape).astype(np.float32)
    spacing = ws.signals.shape[1] + 8000
    ts, tt = window_events(ws.event_labels, ws.event_timings, spacing)
    ps, pt = window_events(pred, onsets, spacing)
    res = event_metrics(ts, tt, ps, pt, 2000, 16, [2.0, 5.0, 10.0, 20.0], 4000)
    return {t: res["by_tolerance"][t]["overall"]["f1"] for t in ("2ms", "5ms", "10ms", "20ms")}


def curves(out: Path) -> None:
    """Validation F1 at +-5 ms after each supervised epoch (same 256 seed-0 validation windows)."""
    rows = {}
    for run in sorted(out.iterdir()):
        m = re.fullmatch(r"(lstm|es|ft-ae|ft-vae|ft-contrastive)-s(\d+)", run.name)
        if not m or not (run / "metrics.jsonl").is_file():
            continue
        hist = [
            json.loads(x)
            for x in (run / "metrics.jsonl").read_text().splitlines()
            if '"epoch"' in x
        ]
        rows[run.name] = {h["epoch"] + 1: h.get("val_f1_5ms", float("nan")) for h in hist}
    n = max((max(r) for r in rows.values() if r), default=0)
    print("\n| run | " + " | ".join(f"epoch {e}" for e in range(1, n + 1)) + " |")
    print("|---" * (n + 1) + "|")
    for name, r in rows.items():
        print(
            f"| {name} | "
            + " | ".join(f"{r[e]:.3f}" if e in r else "" for e in range(1, n + 1))
            + " |"
        )


def main(out: Path) -> None:
    groups: dict[str, list[dict[str, float]]] = defaultdict(list)
    for run in sorted(out.iterdir()):
        m = re.fullmatch(r"(lstm|es|ft-ae|ft-vae|ft-contrastive)-s(\d+)", run.name)
        if m and (v := row_values(run)) is not None:
            groups[m.group(1)].append(v)
    cols = [
        ("win_f1_2ms", "F1 +-2 ms"),
        ("win_f1_5ms", "F1 +-5 ms"),
        ("win_f1_10ms", "F1 +-10 ms"),
        ("win_f1_20ms", "F1 +-20 ms"),
        ("win_med", "onset median ms"),
        ("win_p95", "onset p95 ms"),
        ("str_f1_5", "stream F1 +-5 ms"),
        ("str_med", "stream onset median ms"),
        ("str_viol", "stream refractory violations"),
        ("steps", "supervised steps"),
        ("train_s", "supervised train s"),
    ]
    print("| route | seeds | " + " | ".join(c[1] for c in cols) + " |")
    print("|---" * (len(cols) + 2) + "|")
    for key, name in ROUTES.items():
        rows = groups.get(key)
        if not rows:
            continue
        cells = []
        for c, _ in cols:
            vals = np.array([r.get(c, np.nan) for r in rows], dtype=float)
            if len(vals) > 1:
                cells.append(f"{np.nanmean(vals):.3f} +- {np.nanstd(vals):.3f}")
            else:
                cells.append(
                    f"{vals[0]:.3f}" if c not in ("steps", "str_viol") else f"{vals[0]:.0f}"
                )
        print(f"| {name} | {len(rows)} | " + " | ".join(cells) + " |")
    ch = chance(out)
    print(
        "\nchance (prior-rate presence, uniform onset): "
        + ", ".join(f"F1 +-{k} {v:.4f}" for k, v in ch.items())
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
    curves(Path(sys.argv[1]))
