"""Compare leaderboard runs that differ in one training-side setting (one table row per run).

    python packages/resp-mhavae/scripts/training_ablation.py LABEL=RUN [LABEL=RUN ...]
        [--split chronological] [--method mhavae]

Each RUN is a `resp-mhavae leaderboard` folder made with the same series, protocol and seeds but other
overrides (the commands are in docs/lab/resp-mhavae-training.md), e.g. `data.train_overlap=4` or
`train.epochs=60`. For `--method` under `--split`, prints one markdown row per run: the median VUS-PR over
the scorable series (mean ± std over the run's seeds, as the leaderboard computes it) and each series'
mean ± std over seeds, then the prevalence row (about the chance level of VUS-PR).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from resp_mhavae.leaderboard import summarise


def cell(mean: float, std: float, n: int) -> str:
    return f"{mean:.3f}" + (f" ± {std:.3f}" if n > 1 else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "runs", nargs="+", help="LABEL=RUN: a row label (may hold =) and a leaderboard folder"
    )
    parser.add_argument("--split", default="chronological")
    parser.add_argument("--method", default="mhavae")
    args = parser.parse_args(argv)
    parts = {}
    for entry in args.runs:
        label, sep, folder = entry.rpartition("=")
        if not sep:
            parser.error(f"{entry!r}: expected LABEL=RUN")
        path = Path(folder) / "rows.json"
        if not path.is_file():
            parser.error(f"{path}: no leaderboard rows (is {folder} a leaderboard run?)")
        rows = [r for r in json.loads(path.read_text()) if r["method"] == args.method]
        summary = summarise(rows).get(args.split)
        if summary is None:
            parser.error(f"{folder}: no {args.method} rows under the {args.split} split")
        parts[label] = summary
    series = list(dict.fromkeys(s for p in parts.values() for s in p["scorable"]))
    print(f"| {args.method}, {args.split} split | median VUS-PR | " + " | ".join(series) + " |")
    print("|---|---|" + "---|" * len(series))
    for label, part in parts.items():
        m = part["methods"][args.method]
        median = "n/a" if m["median"] is None else cell(m["median"], m["median_std"], m["n_seeds"])
        per = [cell(*m["per_series"][s]) if m["per_series"].get(s) else "" for s in series]
        print(f"| {label} | {median} | " + " | ".join(per) + " |")
    prevalence = {s: p["prevalence"][s] for p in parts.values() for s in p["scorable"]}
    print(
        "| prevalence (≈ chance) | | " + " | ".join(f"{prevalence[s]:.3f}" for s in series) + " |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
