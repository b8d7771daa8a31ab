"""`dcase-cae report`: put tested runs side by side, and aggregate repeated runs (seeds).

Runs are grouped by data set (the tested folder), machine type, method (model and score) and configuration
(every setting except the seed, paths and device); each group's rows (per machine ID or section) give two
separate uncertainties:

- seed spread: mean ± standard deviation over the group's runs (population std, n = runs);
- clip uncertainty: the mean over runs of each run's bootstrap 95 % interval over test clips (with 50
  test clips per domain one AUC moves by about ±0.07 from the choice of clips alone).

Chance level is 0.5 for every AUC and pAUC.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sigzoo_shared import DataError, RunDir

from dcase_cae.official import RESULT_KEYS
from dcase_cae.train import PACKAGE

SHOWN = ("official_score", "AUC_source", "AUC_target", "pAUC", "AUC_source_in", "AUC_target_in")


def load_results(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / "results.json"
    if not path.is_file():
        raise DataError(
            f"{path}: not found; test the run first (dcase-cae test --run-dir {run_dir})"
        )
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
        loaded["results"]  # noqa: B018 - the one key every results file has
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise DataError(f"{path}: not a dcase-cae results file ({err})") from err
    return loaded


def _group_key(loaded: dict[str, Any], res: dict[str, Any]) -> tuple[str, str, str, str]:
    data = Path(loaded.get("data_dir") or "?").name
    return data, res["machine_type"], res.get("method", res["model"]), res.get("config_id", "")


def _rows(res: dict[str, Any]) -> list[dict[str, Any]]:
    """The run's per-group rows, plus its average when the machine type has more than one group."""
    rows = list(res["ids"])
    if len(rows) > 1:
        rows.append({"machine_id": "average", **res["average"]})
    return rows


def aggregate(runs: Sequence[Path]) -> list[dict[str, Any]]:
    """One row per (data set, machine type, method, configuration, ID or section): for every metric the
    mean and std over runs and the mean of the runs' 95 % clip intervals."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        loaded = load_results(run)
        for res in loaded["results"]:
            for row in _rows(res):
                groups[(*_group_key(loaded, res), row["machine_id"])].append(row)
    out = []
    for (data, mtype, method, config_id, mid), rows in sorted(groups.items()):
        agg: dict[str, Any] = {
            "data": data,
            "machine_type": mtype,
            "method": method,
            "config_id": config_id,
            "machine_id": mid,
            "n_runs": len(rows),
        }
        for key in RESULT_KEYS:
            vals = np.array([r[key] for r in rows if r.get(key) is not None], dtype=float)
            if vals.size:
                agg[f"{key}_mean"], agg[f"{key}_std"] = float(vals.mean()), float(vals.std())
            cis = np.array([r["ci95"][key] for r in rows if key in (r.get("ci95") or {})])
            if cis.size:
                agg[f"{key}_ci95"] = [float(cis[:, 0].mean()), float(cis[:, 1].mean())]
        out.append(agg)
    return out


def _cell(row: dict[str, Any], key: str) -> str:
    if f"{key}_mean" not in row:
        return ""
    text = f"{row[f'{key}_mean']:.3f} ± {row[f'{key}_std']:.3f}"
    if f"{key}_ci95" in row:
        lo, hi = row[f"{key}_ci95"]
        text += f" [{lo:.2f}, {hi:.2f}]"
    return text


def report_markdown(agg: Sequence[dict[str, Any]], n_runs: int) -> str:
    keys = [k for k in (*SHOWN, "AUC", "F1") if any(f"{k}_mean" in r for r in agg)]
    lines = [
        "# dcase-cae comparison",
        "",
        f"{n_runs} tested runs, grouped by data set, machine type, method and configuration. Each "
        "cell: mean ± std over the group's runs (seeds) [mean of the runs' bootstrap 95 % intervals "
        "over test clips]. Chance level 0.5 for every AUC and pAUC.",
        "",
        "| data | machine type | method | config | group | runs | " + " | ".join(keys) + " |",
        "|---|---|---|---|---|---|" + "---|" * len(keys),
    ]
    for r in agg:
        cells = [r["data"], r["machine_type"], r["method"], r["config_id"], r["machine_id"]]
        cells += [str(r["n_runs"]), *(_cell(r, k) for k in keys)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def compare_runs(runs: Sequence[Path | str], run_dir: Path | str | None = None) -> Path:
    """Write report.md, compare.csv and compare.json for `runs`; returns the report path."""
    runs = [Path(r) for r in runs]
    loaded = {run: load_results(run) for run in runs}  # every input checked before writing
    per_run = []
    for run, data in loaded.items():
        for res in data["results"]:
            dataset, mtype, method, config_id = _group_key(data, res)
            for row in _rows(res):
                per_run.append(
                    {
                        "run": str(run),
                        "data": dataset,
                        "machine_type": mtype,
                        "method": method,
                        "config_id": config_id,
                        "machine_id": row["machine_id"],
                        **{k: row.get(k) for k in RESULT_KEYS},
                    }
                )
    agg = aggregate(runs)
    with RunDir.created(PACKAGE, run_dir=run_dir, verb="report", tensorboard=False) as out:
        out.write_csv("compare.csv", per_run)
        out.write_json(
            "compare.json", {"runs": [str(r) for r in runs], "aggregate": agg, "per_run": per_run}
        )
        return out.write_text("report.md", report_markdown(agg, len(runs)))
