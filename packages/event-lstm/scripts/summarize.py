"""Summarise compare.sh / scarce.sh runs as markdown tables (means +- std over training seeds).

    python summarize.py OUT_DIR

Prints the equal-budget table (test seed 7 windows + 60 s stream, test seed 8 windows + 300 s stream),
a chance level (each type predicted present with its training prior and a uniform random onset in the
window, scored with the same matching on the same test set), validation curves, and one table per
OUT_DIR/scarce-n<N> directory written by scarce.sh.
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
    "es": "EventSpecificClassifier",
    "lstm": "LSTMEventClassifier",
    "ft-ae": "AE pre-train + fine-tune",
    "ft-vae": "VAE pre-train + fine-tune",
    "ft-contrastive": "contrastive pre-train + fine-tune",
}
RUN_RE = re.compile(r"(lstm|es|ft-ae|ft-vae|ft-contrastive)-s(\d+)")
TOL = ("2ms", "5ms", "10ms", "20ms")
INT_COLS = {"steps", "str_viol", "str8_viol"}


def load(run: Path, kind: str) -> dict | None:
    path = run / f"eval-{kind}" / "results.json"
    return json.loads(path.read_text()) if path.is_file() else None


def history(run: Path) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [json.loads(x) for x in lines if '"epoch"' in x]


def row_values(run: Path) -> dict[str, float] | None:
    w = load(run, "windows")
    if w is None:
        return None
    out = {f"win_f1_{t}": w["by_tolerance"][t]["overall"]["f1"] for t in TOL}
    out.update(win_med=w["onset_error_ms"]["median"], win_p95=w["onset_error_ms"]["p95"])
    for kind, key in (("stream", "str"), ("stream8", "str8")):
        if (s := load(run, kind)) is not None:
            out[f"{key}_f1_5"] = s["by_tolerance"]["5ms"]["overall"]["f1"]
            out[f"{key}_p_5"] = s["by_tolerance"]["5ms"]["overall"]["precision"]
            out[f"{key}_r_5"] = s["by_tolerance"]["5ms"]["overall"]["recall"]
            out[f"{key}_med"] = s["onset_error_ms"]["median"]
            out[f"{key}_viol"] = s["refractory_violations"]
    if (w8 := load(run, "windows8")) is not None:
        out["win8_f1_5"] = w8["by_tolerance"]["5ms"]["overall"]["f1"]
        out["win8_med"] = w8["onset_error_ms"]["median"]
    hist = history(run)
    out["steps"] = max(h["step"] for h in hist)
    out["train_s"] = sum(h["epoch_time_s"] for h in hist)
    best = max(hist, key=lambda h: h.get("val_f1_5ms", -1.0))
    out["best_epoch"] = best["epoch"] + 1
    return out


def groups_of(out: Path) -> dict[str, list[dict[str, float]]]:
    groups: dict[str, list[dict[str, float]]] = defaultdict(list)
    for run in sorted(out.iterdir()):
        m = RUN_RE.fullmatch(run.name)
        if m and (run / "metrics.jsonl").is_file() and (v := row_values(run)) is not None:
            groups[m.group(1)].append(v)
    return groups


def cell(vals: np.ndarray, col: str) -> str:
    if np.all(np.isnan(vals)):
        return ""
    fmt = "{:.0f}" if col in INT_COLS or col == "train_s" else "{:.3f}"
    if len(vals) == 1:
        return fmt.format(vals[0])
    if col in INT_COLS:  # counts: the total over seeds, or the constant step budget
        return fmt.format(np.nanmax(vals)) if col == "steps" else f"{np.nansum(vals):.0f} total"
    return f"{fmt.format(np.nanmean(vals))} +- {fmt.format(np.nanstd(vals))}"


def table(groups: dict[str, list[dict[str, float]]], cols: list[tuple[str, str]]) -> None:
    print("| route | seeds | " + " | ".join(c[1] for c in cols) + " |")
    print("|---" * (len(cols) + 2) + "|")
    for key, name in ROUTES.items():
        if rows := groups.get(key):
            cells = [
                cell(np.array([r.get(c, np.nan) for r in rows], dtype=float), c) for c, _ in cols
            ]
            print(f"| {name} | {len(rows)} | " + " | ".join(cells) + " |")


def chance(test_npz: Path, seed: int = 0) -> dict[str, float]:
    ws = load_windows(test_npz)
    rng = np.random.default_rng(seed)
    prior = ws.event_labels.mean(0)
    pred = (rng.random(ws.event_labels.shape) < prior).astype(np.float32)
    onsets = rng.integers(0, ws.signals.shape[1], ws.event_labels.shape).astype(np.float32)
    spacing = ws.signals.shape[1] + 8000
    ts, tt = window_events(ws.event_labels, ws.event_timings, spacing)
    ps, pt = window_events(pred, onsets, spacing)
    res = event_metrics(ts, tt, ps, pt, 2000, 16, [2.0, 5.0, 10.0, 20.0], 4000)
    return {t: res["by_tolerance"][t]["overall"]["f1"] for t in TOL}


def curves(out: Path, every: int = 1) -> None:
    """Validation F1 at +-5 ms after every `every`-th supervised epoch, mean over seeds per route."""
    per: dict[str, list[dict[int, float]]] = defaultdict(list)
    for run in sorted(out.iterdir()):
        m = RUN_RE.fullmatch(run.name)
        if m and (run / "metrics.jsonl").is_file():
            per[m.group(1)].append(
                {h["epoch"] + 1: h.get("val_f1_5ms", np.nan) for h in history(run)}
            )
    n = max((max(r) for rs in per.values() for r in rs if r), default=0)
    epochs = list(range(every, n + 1, every))
    print("\n| route (mean over seeds) | " + " | ".join(f"epoch {e}" for e in epochs) + " |")
    print("|---" * (len(epochs) + 1) + "|")
    for key, name in ROUTES.items():
        if rs := per.get(key):
            vals = [np.nanmean([r.get(e, np.nan) for r in rs]) for e in epochs]
            print(f"| {name} ({len(rs)}) | " + " | ".join(f"{v:.3f}" for v in vals) + " |")


def main(out: Path) -> None:
    print("## equal budget\n")
    table(
        groups_of(out),
        [
            ("win_f1_2ms", "F1 +-2 ms"),
            ("win_f1_5ms", "F1 +-5 ms"),
            ("win_f1_10ms", "F1 +-10 ms"),
            ("win_f1_20ms", "F1 +-20 ms"),
            ("win_med", "onset median ms"),
            ("win_p95", "onset p95 ms"),
            ("str_f1_5", "stream F1 +-5 ms"),
            ("str_med", "stream onset median ms"),
            ("win8_f1_5", "seed-8 windows F1 +-5 ms"),
            ("str8_f1_5", "seed-8 300 s stream F1 +-5 ms"),
            ("str8_med", "seed-8 stream onset median ms"),
            ("str_viol", "refractory violations (60 s)"),
            ("str8_viol", "refractory violations (300 s)"),
            ("steps", "supervised steps"),
            ("train_s", "supervised train s"),
        ],
    )
    for seed in (7, 8):
        if (p := out / f"test-seed{seed}" / "test.npz").is_file():
            ch = chance(p)
            print(
                f"\nchance, seed-{seed} windows (prior-rate presence, uniform onset): "
                + ", ".join(f"F1 +-{k} {v:.4f}" for k, v in ch.items())
            )
    curves(out)
    for sdir in sorted(out.glob("scarce-n*")):
        print(f"\n## {sdir.name}\n")
        table(
            groups_of(sdir),
            [
                ("win_f1_5ms", "F1 +-5 ms (seed-7 windows)"),
                ("win_f1_20ms", "F1 +-20 ms (seed-7 windows)"),
                ("win_med", "onset median ms"),
                ("str8_f1_5", "F1 +-5 ms (seed-8 300 s stream)"),
                ("str8_p_5", "precision"),
                ("str8_r_5", "recall"),
                ("str8_viol", "refractory violations"),
                ("best_epoch", "best epoch"),
                ("steps", "supervised steps"),
            ],
        )
        curves(sdir, every=10)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
