"""Mean +- std over seeds of the primary (protocol) rows in OUT/*/detection_metrics.json, as markdown.

python summarize.py OUT            one table per recording/series and protocol (every metric)
python summarize.py OUT --pivot    one table per metric, a row per series and protocol, a column per method
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

NAMES = {
    "mhavae": "MHA-VAE-LSTM",
    "vae_lstm_no_attention": "VAE-LSTM (no attn.)",
    "lstm_only": "LSTM only",
    "isolation_forest": "IsolationForest",
}
COLS = [
    ("window_f2", "window F2"),
    ("event_detection_rate", "event det. rate"),
    ("point_f2", "point F2"),
    ("event_f2", "event F2"),
    ("window_auc_pr", "window AUC-PR"),
    ("window_roc_auc", "window ROC-AUC"),
    ("point_adjusted_f2", "point-adj. F2 (inflated)"),
]


def cell(values: list) -> str:
    v = [x for x in values if x is not None]
    if not v:
        return "n/a"
    return f"{np.mean(v):.3f} ± {np.std(v):.3f}" if len(v) > 1 else f"{v[0]:.3f}"


def collect(out: Path) -> tuple[dict, dict]:
    groups: dict[tuple, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    meta: dict[tuple, dict] = {}
    for path in sorted(out.glob("*/detection_metrics.json")):
        summary = json.loads(path.read_text())
        for r in summary["results"]:
            if not r["primary"]:
                continue
            key = (summary["recording"], summary["protocol"], r["method"])
            for c, _ in COLS:
                groups[key][c].append(r[c])
            groups[key]["seeds"].append(summary["seed"])
            meta[(summary["recording"], summary["protocol"])] = {
                "l_win": summary["l_win"],
                "prev": r["window_prevalence"],
                "n": r["n_test_windows"],
                "events": r["n_events"],
                "flagged": r["flagged_fraction"],
            }
    return groups, meta


def pivot(out: Path) -> str:
    groups, meta = collect(out)
    keys = sorted({(k[0], k[1]) for k in groups})
    lines = []
    for c, title in COLS[:2] + COLS[4:6]:
        chance = c == "window_auc_pr"
        lines += [
            f"**{title}** ("
            + (
                "threshold-free"
                if c.endswith("auc_pr") or c.endswith("roc_auc")
                else "each protocol's own threshold rule"
            )
            + "; mean ± std over seeds)",
            "",
            "| series | protocol | l_win | test windows (anomalous) | events | seeds"
            + (" | chance" if chance else "")
            + " | "
            + " | ".join(NAMES.values())
            + " |",
            "|---|---|---|---|---|---" + ("|---" if chance else "") + "|---" * len(NAMES) + "|",
        ]
        for rec, protocol in keys:
            m = meta[(rec, protocol)]
            seeds = len(groups[(rec, protocol, "mhavae")]["seeds"])
            n_anom = round(m["prev"] * m["n"]) if m["prev"] is not None else "n/a"
            row = f"| {rec} | {protocol} | {m['l_win']} | {m['n']} ({n_anom}) | {m['events']} | {seeds}"
            if chance:
                row += f" | {m['prev']:.3f}" if m["prev"] is not None else " | n/a"
            for method in NAMES:
                g = groups.get((rec, protocol, method))
                row += f" | {cell(g[c]) if g else '-'}"
            lines.append(row + " |")
        lines.append("")
    return "\n".join(lines)


def main(out: Path) -> str:
    groups, meta = collect(out)
    lines = []
    for rec, protocol in sorted({(k[0], k[1]) for k in groups}):
        m = meta[(rec, protocol)]
        lines += [
            f"**{rec}**, protocol `{protocol}` (l_win {m['l_win']}, {m['n']} test windows, {m['events']} "
            f"labelled events in the test part, chance window AUC-PR = {m['prev']:.3f}, ROC-AUC 0.5)",
            "",
            "| method | seeds | " + " | ".join(n for _, n in COLS) + " |",
            "|---|---|" + "---|" * len(COLS),
        ]
        for method in NAMES:
            g = groups.get((rec, protocol, method))
            if g:
                lines.append(
                    f"| {NAMES[method]} | {len(g['seeds'])} | "
                    + " | ".join(cell(g[c]) for c, _ in COLS)
                    + " |"
                )
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--pivot"]
    out = Path(args[0] if args else "runs/resp-mhavae/real")
    print(pivot(out) if "--pivot" in sys.argv else main(out))
