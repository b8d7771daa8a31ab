"""`dcase-cae report`: put tested runs side by side, and aggregate repeated runs (seeds).

Rows of the same model, machine type and ID across runs are summarised as mean +- standard deviation
(population std over runs) with the number of runs, next to chance level (0.5 for AUC and pAUC).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sigzoo_shared import DataError, RunDir

from dcase_cae.train import PACKAGE

METRICS = ("AUC", "pAUC", "precision", "recall", "F1")


def load_results(run_dir: Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / "results.json"
    if not path.is_file():
        raise DataError(
            f"{path}: not found; test the run first (dcase-cae test --run-dir {run_dir})"
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))["results"]
    except (json.JSONDecodeError, KeyError) as err:
        raise DataError(f"{path}: not a dcase-cae results file ({err})") from err


def aggregate(runs: Sequence[Path]) -> list[dict[str, Any]]:
    """One row per (model, machine type, ID or 'average'): mean/std/n of each metric over runs."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        for res in load_results(run):
            for row in res["ids"]:
                groups[(res["model"], res["machine_type"], row["machine_id"])].append(row)
            groups[(res["model"], res["machine_type"], "average")].append(res["average"])
    out = []
    for (model, mtype, mid), rows in sorted(groups.items()):
        agg: dict[str, Any] = {
            "model": model,
            "machine_type": mtype,
            "machine_id": mid,
            "n_runs": len(rows),
        }
        for key in METRICS:
            vals = np.array([r[key] for r in rows if r.get(key) is not None], dtype=float)
            if vals.size:
                agg[f"{key}_mean"], agg[f"{key}_std"] = float(vals.mean()), float(vals.std())
        out.append(agg)
    return out


def compare_runs(runs: Sequence[Path | str], run_dir: Path | str | None = None) -> Path:
    """Write report.md, compare.csv and compare.json for `runs`; returns the report path."""
    runs = [Path(r) for r in runs]
    out = RunDir.create(PACKAGE, run_dir=run_dir, verb="report", tensorboard=False)
    per_run = []
    for run in runs:
        for res in load_results(run):
            for row in [*res["ids"], {"machine_id": "average", **res["average"]}]:
                per_run.append(
                    {
                        "run": str(run),
                        "model": res["model"],
                        "machine_type": res["machine_type"],
                        "machine_id": row["machine_id"],
                        **{k: row.get(k) for k in METRICS},
                    }
                )
    agg = aggregate(runs)

    def pm(row: dict[str, Any], key: str) -> str:
        if f"{key}_mean" not in row:
            return ""
        return f"{row[f'{key}_mean']:.3f} ± {row[f'{key}_std']:.3f}"

    lines = [
        "# dcase-cae comparison",
        "",
        f"{len(runs)} tested runs; mean ± std over runs, chance 0.5 for AUC and pAUC.",
        "",
        "| model | machine type | id | runs | AUC | pAUC | precision | recall | F1 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in agg:
        lines.append(
            f"| {r['model']} | {r['machine_type']} | {r['machine_id']} | {r['n_runs']} | "
            + " | ".join(pm(r, k) for k in METRICS)
            + " |"
        )
    lines += [
        "",
        "## Runs",
        "",
        "| run | model | machine type | id | AUC | pAUC | F1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in per_run:
        lines.append(
            " | ".join(
                ["", r["run"], r["model"], r["machine_type"], r["machine_id"]]
                + [f"{r[k]:.3f}" if r[k] is not None else "" for k in ("AUC", "pAUC", "F1")]
            ).strip()
            + " |"
        )
    out.write_csv("compare.csv", per_run)
    out.write_json(
        "compare.json", {"runs": [str(r) for r in runs], "aggregate": agg, "per_run": per_run}
    )
    return out.write_text("report.md", "\n".join(lines) + "\n")
