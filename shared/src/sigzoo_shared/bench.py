"""Benchmark helpers: warm-up then median of N timings, and the markdown + JSON table writer.

Speed targets live in `<pkg> bench` (run by `nox -s bench`), never in unit tests.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from sigzoo_shared.device import peak_rss_mb
from sigzoo_shared.io import atomic_write_json, atomic_write_text


def cpu_wall() -> tuple[float, float]:
    """(process CPU time, wall time) now, in seconds.

    Wall time is what a user waits; this process's CPU time is the steadier figure on a shared machine,
    where other processes steal cores but not CPU seconds. Benchmarks report both.
    """
    return time.process_time(), time.perf_counter()


def step_times(fn: Callable[[], Any], repeat: int) -> list[tuple[float, float]]:
    """(cpu_s, wall_s) of each of `repeat` calls of `fn()`; CUDA work is synchronised around each call."""

    def sync() -> None:
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()

    out = []
    for _ in range(repeat):
        sync()
        c0, w0 = cpu_wall()
        fn()
        sync()
        c1, w1 = cpu_wall()
        out.append((c1 - c0, w1 - w0))
    return out


def time_fn(fn: Callable[[], Any], *, warmup: int = 2, repeat: int = 5) -> dict[str, float]:
    """Median, min and max wall time of `fn()` after `warmup` untimed calls, and the median CPU time."""
    for _ in range(warmup):
        fn()
    times = step_times(fn, repeat)
    wall = [w for _, w in times]
    return {
        "median_s": statistics.median(wall),
        "min_s": min(wall),
        "max_s": max(wall),
        "median_cpu_s": statistics.median(c for c, _ in times),
        "repeat": repeat,
    }


def machine_info() -> dict[str, Any]:
    import os

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    if not rows:
        return "(no rows)\n"
    columns = list(columns or rows[0].keys())

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return "" if v is None else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def zoo_row(
    package: str,
    case: str,
    ours_s: float,
    original_s: float | None,
    original_source: str,
) -> dict[str, Any]:
    """One line of the zoo table: a case's time here against the original implementation's.

    `original_source` says where the original's figure comes from: "measured in this run" when the
    bench ran it side by side, else the recorded figure's origin (e.g. "recorded: seed README, 1 core"),
    so a reader never mistakes a remembered number for a measured one.
    """
    return {
        "package": package,
        "case": case,
        "ours_s": ours_s,
        "original_s": original_s,
        "speed-up": (original_s / ours_s) if original_s and ours_s > 0 else None,
        "original_source": original_source,
    }


ZOO_COLUMNS = ("package", "case", "ours_s", "original_s", "speed-up", "original_source")


COMMANDS_FILE = "commands.json"
COMMAND_COLUMNS = ("package", "command", "cpu_s", "wall_s", "peak_rss_mb", "threads", "load_1min")


def resolve_command(name: str) -> str:
    """The executable `name` runs: the console script beside this interpreter first, then PATH.

    `.venv/bin/python -m sigzoo_shared.bench --time ... -- vae-demo demo` must time that venv's
    `vae-demo` even when the venv is not activated (nox puts its bin/ on PATH; a shell often does not).
    """
    import os
    import shutil
    import sys

    if os.sep in name:
        return name
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which(name, path=search)
    if found is None:
        raise RuntimeError(
            f"{name}: no such command beside {sys.executable} or on PATH; nothing was timed"
        )
    return found


def time_command(
    argv: Sequence[str], package: str, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run `argv` as a user would from a shell and return its CPU time, wall time and peak memory.

    The times a README promises ("a few minutes") are whole commands: interpreter start, imports,
    data, training, writing. CPU time is the children's user + system time (what the command costs,
    steady on a shared machine); wall time is what the user waits at that load (recorded beside it).
    A failing command is an error: a time for a command that did not work means nothing.
    """
    import os
    import resource
    import subprocess

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    w0 = time.perf_counter()
    # as after an install: bytecode cached (a PYTHONDONTWRITEBYTECODE in the caller's shell would
    # recompile torch's modules at every start of the command, ~3 CPU-s each, which users do not pay)
    child_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    command = [resolve_command(argv[0]), *argv[1:]]
    done = subprocess.run(command, env={**child_env, **(env or {})}, check=False)
    wall = time.perf_counter() - w0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exited with {done.returncode}; no time recorded")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "package": package,
        "command": " ".join(argv),
        "cpu_s": round(cpu, 1),
        "wall_s": round(wall, 1),
        # ru_maxrss: the largest child so far (KiB on Linux), i.e. this command's if it is the largest
        "peak_rss_mb": round(after.ru_maxrss / 1024, 1),
        "threads": os.environ.get("OMP_NUM_THREADS", "all"),
        "load_1min": round(os.getloadavg()[0], 1),
    }


def record_command(out: Path | str, record: dict[str, Any]) -> Path:
    """Add (or replace, by command) one timing in `out` (a package's commands.json)."""
    path = Path(out)
    rows = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    rows = [r for r in rows if r.get("command") != record["command"]] + [record]
    return atomic_write_json(path, rows)


def commands_table(bench_root: Path | str, packages: Sequence[str]) -> str:
    """The timed commands of every package (`<root>/<pkg>/commands.json`), one markdown table."""
    rows: list[dict[str, Any]] = []
    for name in packages:
        path = Path(bench_root) / name / COMMANDS_FILE
        if path.is_file():
            rows += json.loads(path.read_text(encoding="utf-8"))
    return markdown_table(rows, COMMAND_COLUMNS) if rows else "(no timed commands)\n"


def zoo_table(bench_root: Path | str, packages: Sequence[str]) -> str:
    """Every package's `zoo` rows (from `<root>/<pkg>/bench.json`) in one markdown table."""
    rows: list[dict[str, Any]] = []
    missing = []
    for name in packages:
        path = Path(bench_root) / name / "bench.json"
        found = (
            json.loads(path.read_text(encoding="utf-8")).get("zoo", []) if path.is_file() else []
        )
        rows += found
        if not found:
            missing.append(name)
    text = markdown_table(rows, ZOO_COLUMNS) if rows else "(no zoo rows)\n"
    if missing:
        text += f"\nNo zoo rows from: {', '.join(missing)}.\n"
    return text


def write_bench(
    out_dir: Path | str,
    title: str,
    rows: Sequence[dict[str, Any]],
    notes: Sequence[str] = (),
    zoo: Sequence[dict[str, Any]] = (),
) -> tuple[Path, Path]:
    """Write `bench.md` (title, machine, table, notes) and `bench.json` into `out_dir`.

    `zoo` rows (see `zoo_row`) go into bench.json for the workspace's one-table summary.
    """
    out = Path(out_dir)
    info = machine_info()
    md = [
        f"# {title}",
        "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in info.items()),
        "",
        markdown_table(rows),
    ]
    md += [f"- {n}" for n in notes]
    md_path = atomic_write_text(out / "bench.md", "\n".join(md) + "\n")
    json_path = atomic_write_json(
        out / "bench.json",
        {
            "title": title,
            "machine": info,
            "rows": list(rows),
            "notes": list(notes),
            "zoo": list(zoo),
        },
    )
    return md_path, json_path


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m sigzoo_shared.bench --zoo ROOT PKG...`: write ROOT/zoo.md from the packages' benches
    and timed commands; `... --time ROOT/PKG/commands.json --package PKG -- CMD...`: time one command."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m sigzoo_shared.bench")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--zoo", type=Path, help="folder holding <pkg>/bench.json and commands.json")
    mode.add_argument("--time", type=Path, help="commands.json to add the timed command to")
    parser.add_argument("--package", help="with --time: the package the command belongs to")
    parser.add_argument("args", nargs="*", help="packages (--zoo) or the command after -- (--time)")
    args = parser.parse_args(argv)
    if args.time is not None:
        if not args.args or not args.package:
            parser.error("--time needs --package PKG and a command after --")
        record = time_command(args.args, args.package)
        record_command(args.time, record)
        print(f"{record['command']}: {record['cpu_s']} CPU-s, {record['wall_s']} s wall")
        return 0
    text = (
        "# sigzoo: ours against the original implementations\n\n"
        + zoo_table(args.zoo, args.args)
        + "\n## Whole commands (the times the READMEs quote)\n\n"
        + "CPU time is the command's own (user + system, all threads); wall time depends on the "
        + "machine's load (`load_1min`).\n\n"
        + commands_table(args.zoo, args.args)
    )
    print(atomic_write_text(args.zoo / "zoo.md", text))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
