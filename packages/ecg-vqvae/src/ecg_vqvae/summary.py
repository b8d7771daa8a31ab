"""Mean and spread over seeds of several evaluated runs: `ecg-vqvae seed-tables RUN [RUN ...]`.

Reads each run's `results.json` (written by `ecg-vqvae evaluate`) and prints markdown tables: test
reconstruction and codebook figures, pooled forecast errors per method and horizon, and per-record
reconstruction PRD and forecast MAE, as mean +- std (sample std over runs) with the per-run values' count.
The core's `ecg-vqvae summarize` lists every number of results.json flat; these tables put methods side
by side per horizon and per record, as the docs publish them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sigzoo_shared import DataError


def _ms(values: Sequence[float], digits: int = 3) -> str:
    v = np.asarray(values, dtype=float)
    sd = v.std(ddof=1) if len(v) > 1 else 0.0
    return f"{v.mean():.{digits}f} ± {sd:.{digits}f}"


def read_results(run_dir: Path | str) -> dict:
    """A run's results.json, or a DataError naming it."""
    path = Path(run_dir) / "results.json"
    if not path.is_file():
        raise DataError(f"{path}: not found; run `ecg-vqvae evaluate --out {run_dir}` first")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: not JSON ({err})") from err


def summarize(run_dirs: Sequence[Path | str]) -> str:
    results = [read_results(r) for r in run_dirs]
    rec = [r["reconstruction"]["pooled"] for r in results]
    ref = [
        r["reconstruction"]["window_mean_reference"]
        for r in results
        if "window_mean_reference" in r["reconstruction"]
    ]
    lines = [
        f"Runs: {', '.join(str(r) for r in run_dirs)} (n = {len(results)}); test records: "
        f"{', '.join(results[0]['test_records'])}",
        "",
        "| test reconstruction | VQ-VAE (mean ± std) | reference: window mean |",
        "|---|---|---|",
    ]
    for key, name in (
        ("prd_pct", "PRD [%]"),
        ("prdn_pct", "PRDN [%]"),
        ("snr_db", "SNR [dB]"),
        ("mse_mv2", "MSE [mV²]"),
    ):
        reference = _ms([x[key] for x in ref], 4 if key == "mse_mv2" else 2) if ref else ""
        lines.append(
            f"| {name} | {_ms([x[key] for x in rec], 4 if key == 'mse_mv2' else 2)} | {reference} |"
        )
    cb = [r["codebook"] for r in results]
    lines.append(
        f"| codes used (of {cb[0]['n_embed']}) | {_ms([c['codes_used'] for c in cb], 1)} | |"
    )
    lines.append(f"| perplexity | {_ms([c['perplexity'] for c in cb], 1)} | |")
    columns = (
        ("mae_mv", "MAE [mV]", 4),
        ("rmse_mv", "RMSE [mV]", 4),
        ("crps_mv", "CRPS [mV]", 4),
        ("timing_error_s", "R-peak timing [s]", 3),
        ("sample_timing_error_s", "timing of samples [s]", 3),
        ("beat_aligned_mae_mv", "beat-aligned MAE [mV]", 4),
    )
    lines += [
        "",
        "| method | horizon [s] | " + " | ".join(c[1] for c in columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    keys = list(
        dict.fromkeys((p["method"], p["horizon_s"]) for p in results[0]["forecast"]["pooled"])
    )
    for method, h in sorted(keys, key=lambda k: k[1]):
        rows = [
            p
            for r in results
            for p in r["forecast"]["pooled"]
            if p["method"] == method and p["horizon_s"] == h
        ]
        cells = [
            _ms([p[key] for p in rows], digits) if rows[0].get(key) is not None else "n/a"
            for key, _, digits in columns
        ]
        lines.append(f"| {method} | {h:g} | " + " | ".join(cells) + " |")
    lines += ["", *ratio_lines(results)]
    gains = [r["forecast"].get("mae_gain_vs_repeat_last_beat") for r in results]
    if all(gains):
        lines.append("")
        for h in gains[0]:
            lines.append(
                f"MAE gain over repeat-last-beat at {float(h):g} s: "
                f"{_ms([100 * g[h] for g in gains], 1)} % (per run: "
                f"{', '.join(f'{100 * g[h]:.1f}' for g in gains)})"
            )
    lines += ["", *per_record_tables(results)]
    return "\n".join(lines) + "\n"


def ratio_lines(results: Sequence[dict]) -> list[str]:
    """Forecaster / best naive method (and / the analogue forecast, which reads the record's past) per
    metric and horizon, mean ± std over runs (best chosen per run; the method named is run 0's)."""
    lines = []
    for table, against in (("best_naive", "best naive"), ("vs_analogue", "analogue")):
        if any(table not in r["forecast"] for r in results):
            continue  # results written before the table existed: no ratio over all runs
        first = results[0]["forecast"][table]
        for h, entries in first.items():
            for key, entry in entries.items():
                for field, label in (("ratio", "forecaster"), ("beats_ratio", "beat forecast")):
                    ratios = [r["forecast"][table][h][key].get(field) for r in results]
                    if any(x is None for x in ratios):
                        continue
                    lines.append(
                        f"- {key} at {float(h):g} s: {label} / {against} ({entry['method']}, "
                        f"{entry['value']:.4f}) = {_ms(ratios, 3)} (per run: "
                        f"{', '.join(f'{x:.3f}' for x in ratios)})"
                    )
    return lines


def per_record_tables(results: Sequence[dict]) -> list[str]:
    """Per test record, mean ± std over runs: reconstruction PRD, and forecast MAE per method at each
    horizon (the per-record rows of each run's `results.json`)."""
    records = results[0]["test_records"]
    lines = [
        "| record | reconstruction PRD [%] |",
        "|---|---|",
    ]
    for name in records:
        vals = [r["reconstruction"]["per_record"][name]["prd_pct"] for r in results]
        lines.append(f"| {name} | {_ms(vals, 2)} |")
    rows = [p for r in results for p in r["forecast"]["per_record"]]
    methods = list(dict.fromkeys(p["method"] for p in rows))
    for h in results[0]["forecast"]["horizons_s"]:
        lines += [
            "",
            f"Forecast MAE [mV] per record at {float(h):g} s:",
            "",
            "| record | examples | " + " | ".join(methods) + " |",
            "|---|---|" + "---|" * len(methods),
        ]
        for name in records:
            here = [p for p in rows if p["record"] == name and p["horizon_s"] == h]
            if not here:
                continue
            cells = [_ms([p["mae_mv"] for p in here if p["method"] == m], 4) for m in methods]
            lines.append(f"| {name} | {here[0]['n_examples']} | " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    print(summarize(sys.argv[1:]))
