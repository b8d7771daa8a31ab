"""Seed sweeps and their summary tables, as verbs every package has: `<pkg> sweep` and `<pkg> summarize`.

A published figure is a mean over seeds with its spread; the table behind it must be reproducible from
an installed package, not from a shell script in the source tree. `sweep` runs one of the package's own
commands once per seed (`<root>/seed-<s>/`), each in a fresh process so no state leaks between seeds,
and skips seeds already finished, so an interrupted sweep is re-run with the same line. `summarize`
reads each run's results file, groups runs whose configs are equal except for their seeds (and paths),
and writes `summary.md` + `summary.json`: mean, sample standard deviation, min and max per metric.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import logging
import math
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sigzoo_shared.errors import ConfigError, DataError
from sigzoo_shared.io import atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)

DONE = "sweep-done"
SEED_KEYS = ("*.seed", "*_seed")
# settings that name where things are, not what was computed: never a reason to split a group
PATH_KEYS = ("*_dir", "*_path", "*.path", "*.device", "*.num_workers", "*.progress")


# ------------------------------------------------------------------------------------------------ run


def seed_command(
    command: Sequence[str], seed: int, run_dir: Path, seed_keys: Sequence[str]
) -> list[str]:
    """`command` with `{seed}`/`{run_dir}` filled in; without them, `--run-dir` and seed overrides added."""
    text = " ".join(command)
    out = [part.format(seed=seed, run_dir=run_dir) for part in command]
    if "{run_dir}" not in text:
        out += ["--run-dir", str(run_dir)]
    if "{seed}" not in text:
        out += [f"{key}={seed}" for key in seed_keys]
    return out


def run_sweep(
    module: str,
    command: Sequence[str],
    seeds: Sequence[int],
    root: Path,
    *,
    seed_keys: Sequence[str] = ("train.seed",),
    then: Sequence[str] = (),
) -> list[Path]:
    """Run `<module>.cli` with `command` (then each `then` line) once per seed under `root/seed-<s>`.

    A seed whose folder holds the `sweep-done` marker is skipped; a folder left by an interrupted
    seed is an error naming it (resume or remove it: nothing of it is deleted here).
    """
    if not command:
        raise ConfigError("sweep: give the command to repeat after --, e.g. -- train data.x=1")
    runs = []
    for seed in seeds:
        run_dir = root / f"seed-{seed}"
        runs.append(run_dir)
        if (run_dir / DONE).is_file():
            log.info("sweep: %s already finished, skipped", run_dir)
            continue
        if run_dir.exists():
            raise ConfigError(
                f"{run_dir}: an earlier sweep stopped in this seed; resume it with the package's "
                "--resume, or remove the folder, then run the sweep again"
            )
        lines = [seed_command(command, seed, run_dir, seed_keys)]
        lines += [
            [part.format(seed=seed, run_dir=run_dir) for part in shlex.split(extra)]
            for extra in then
        ]
        for argv in lines:
            _run_cli(module, argv)
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_dir / DONE, " ".join(map(shlex.quote, lines[0])) + "\n")
    return runs


def _run_cli(module: str, argv: list[str]) -> None:
    log.info("sweep: %s %s", module, " ".join(map(shlex.quote, argv)))
    code = f"import sys; from {module}.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run([sys.executable, "-c", code, *argv], check=False)
    if done.returncode != 0:
        raise DataError(
            f"sweep: `{' '.join(map(shlex.quote, argv))}` failed with exit code {done.returncode}"
        )


# ------------------------------------------------------------------------------------------ summary


# a list item that says what it is (a method, a record, a machine ID) is named by that, not by position
LABEL_KEYS = ("name", "method", "id", "record", "series", "machine_type", "section")


def _label(item: Any, index: int) -> str:
    if isinstance(item, dict):
        for key in LABEL_KEYS:
            if isinstance(item.get(key), str):
                return item[key]
    return str(index)


def flat_numbers(tree: Any, prefix: str = "") -> dict[str, float]:
    """Every numeric leaf of a JSON tree as `{dotted.key: value}` (bools left out).

    List items are named by their label field (`name`, `method`, `id`, ...) where they have one,
    else by position, so `results.IsolationForest.vus_pr` stays the same key when the order changes.
    A label that repeats in one list (one method at two horizons) gets `#2`, `#3`, ... rather than
    overwriting the first item's figures.
    """
    out: dict[str, float] = {}
    if isinstance(tree, dict):
        items: Any = tree.items()
    elif isinstance(tree, list):
        seen: dict[str, int] = {}
        items = []
        for i, v in enumerate(tree):
            label = str(_label(v, i))
            seen[label] = seen.get(label, 0) + 1
            items.append((label if seen[label] == 1 else f"{label}#{seen[label]}", v))
    else:
        items = ()
    for key, value in items:
        name = f"{prefix}{key}"
        if isinstance(value, (dict, list)):
            out.update(flat_numbers(value, f"{name}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = float(value)
    return out


def _flat_config(run_dir: Path) -> dict[str, Any]:
    from sigzoo_shared.config import read_yaml
    from sigzoo_shared.runs import _flatten

    path = run_dir / "config.yaml"
    return _flatten(read_yaml(path)) if path.is_file() else {}


def _matches(key: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(key, p) for p in patterns)


def group_runs(run_dirs: Sequence[Path], by: Sequence[str] = ()) -> dict[str, list[Path]]:
    """Runs keyed by the settings in which their configs differ, seeds and paths left out.

    `by` (globs) names keys that always split groups, paths included: runs of one command on
    several recordings (`data.path`) are one table's rows, not one pooled mean.
    """
    configs = {run: _flat_config(run) for run in run_dirs}
    keys = sorted({k for cfg in configs.values() for k in cfg})
    varying = [
        k
        for k in keys
        if (_matches(k, tuple(by)) or not _matches(k, (*SEED_KEYS, *PATH_KEYS)))
        and len({json.dumps(cfg.get(k), default=str) for cfg in configs.values()}) > 1
    ]
    groups: dict[str, list[Path]] = {}
    for run, cfg in configs.items():
        label = ", ".join(f"{k}={cfg.get(k)}" for k in varying) or "all runs"
        groups.setdefault(label, []).append(run)
    return groups


def _stats(values: list[float]) -> dict[str, float]:
    finite = [v for v in values if math.isfinite(v)]
    n = len(finite)
    mean = sum(finite) / n if n else math.nan
    std = math.sqrt(sum((v - mean) ** 2 for v in finite) / (n - 1)) if n > 1 else math.nan
    return {
        "n": n,
        "mean": mean,
        "std": std,
        "min": min(finite, default=math.nan),
        "max": max(finite, default=math.nan),
    }


def summarize(
    run_dirs: Sequence[Path],
    results: str = "results.json",
    keys: Sequence[str] = (),
    group_by: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """One row per (group, metric): n, mean, std (ddof 1), min, max over the group's runs."""
    if not run_dirs:
        raise ConfigError("summarize: no run directories given")
    numbers: dict[Path, dict[str, float]] = {}
    for run in run_dirs:
        path = run / results
        if not path.is_file():
            raise DataError(
                f"{path}: not found (is {run} a finished run? --results names the file)"
            )
        try:
            numbers[run] = flat_numbers(json.loads(path.read_text(encoding="utf-8")))
        except json.JSONDecodeError as err:
            raise DataError(f"{path}: not JSON ({err})") from err
    rows = []
    for label, runs in group_runs(run_dirs, group_by).items():
        metrics = sorted({k for run in runs for k in numbers[run]})
        if keys:
            metrics = [m for m in metrics if _matches(m, keys)]
        for metric in metrics:
            values = [numbers[run][metric] for run in runs if metric in numbers[run]]
            rows.append({"group": label, "metric": metric, **_stats(values)})
    if not rows:
        raise DataError(
            f"summarize: no numeric value in {results} matches {list(keys) or 'any key'}"
        )
    return rows


def summary_markdown(rows: Sequence[dict[str, Any]]) -> str:
    lines = ["| group | metric | n | mean ± std | min | max |", "|---|---|---|---|---|---|"]
    for r in rows:
        spread = f" ± {r['std']:.4g}" if math.isfinite(r["std"]) else ""
        lines.append(
            f"| {r['group']} | {r['metric']} | {r['n']} | {r['mean']:.4g}{spread} | "
            f"{r['min']:.4g} | {r['max']:.4g} |"
        )
    return "\n".join(lines) + "\n"


def write_summary(rows: Sequence[dict[str, Any]], out: Path) -> tuple[Path, Path]:
    md = atomic_write_text(out / "summary.md", summary_markdown(rows))
    js = atomic_write_json(out / "summary.json", {"rows": list(rows)})
    return md, js


# ---------------------------------------------------------------------------------------------- CLI


def add_sweep_verbs(sub: Any) -> None:
    """`sweep` and `summarize` subparsers for a package's CLI (see `dispatch_sweep`)."""
    p = sub.add_parser(
        "sweep",
        help="run one of this package's commands once per seed, then summarize",
        description="Repeat a command per seed under ROOT/seed-<s>/ and write ROOT/summary.md. "
        "Example: sweep --root runs/x --seeds 0 1 2 -- train data.path=... "
        "('{seed}' and '{run_dir}' in the command are filled in; without them --run-dir and "
        "SEED_KEY=<s> are added).",
    )
    p.add_argument("--root", type=Path, required=True, help="folder for the seed runs")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument(
        "--seed-key", action="append", default=None, help="config key(s) set to the seed"
    )
    p.add_argument(
        "--then",
        action="append",
        default=[],
        help="another command per seed, e.g. 'test --run-dir {run_dir}'",
    )
    _summary_args(p)
    p.add_argument(
        "--no-summary",
        action="store_true",
        help="only run the seeds (e.g. pre-training runs that write no results file)",
    )
    p.add_argument(
        "repeat", nargs=argparse.REMAINDER, metavar="-- COMMAND", help="the command to repeat"
    )
    s = sub.add_parser(
        "summarize",
        help="mean ± std over runs, grouped by configuration",
        description=summarize.__doc__,
    )
    s.add_argument("runs", type=Path, nargs="+", help="run directories")
    s.add_argument(
        "--out", type=Path, default=None, help="where summary.md/json go (default: print)"
    )
    _summary_args(s)


def _summary_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", default="results.json", help="results file inside each run")
    p.add_argument("--keys", nargs="+", default=[], help="metric globs to keep, e.g. 'auc*'")
    p.add_argument(
        "--group-by",
        nargs="+",
        default=[],
        metavar="KEY",
        help="config keys (globs) that always split groups, paths too, e.g. data.path",
    )


def dispatch_sweep(args: argparse.Namespace, module: str) -> bool:
    """Handle `sweep`/`summarize` for `module`'s CLI; False when `args.command` is another verb."""
    if args.command == "sweep":
        runs = run_sweep(
            module,
            args.repeat[1:] if args.repeat[:1] == ["--"] else args.repeat,
            args.seeds,
            args.root,
            seed_keys=args.seed_key or ["train.seed"],
            then=args.then,
        )
        if args.no_summary:
            print(f"sweep: {len(runs)} run(s) under {args.root}")
            return True
        md, _ = write_summary(summarize(runs, args.results, args.keys, args.group_by), args.root)
        print(md.read_text(encoding="utf-8"), end="")
        print(f"summary: {md}")
        return True
    if args.command == "summarize":
        rows = summarize(args.runs, args.results, args.keys, args.group_by)
        if args.out is not None:
            md, _ = write_summary(rows, args.out)
            print(f"summary: {md}")
        else:
            print(summary_markdown(rows), end="")
        return True
    return False
