"""Benchmark helpers: warm-up then median of N timings, and the markdown + JSON table writer.

Speed targets live in `<pkg> bench` (run by `nox -s bench`), never in unit tests.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from sigzoo_shared.device import peak_rss_mb
from sigzoo_shared.io import atomic_write_json, atomic_write_text


def time_fn(
    fn: Callable[[], Any], *, warmup: int = 2, repeat: int = 5, clock: str = "wall"
) -> dict[str, float]:
    """Median, min and max time of `fn()` in seconds after `warmup` untimed calls.

    `clock="wall"` (perf_counter) is what a user waits; `clock="cpu"` (this process's CPU time) is the
    steadier figure on a shared machine, where other processes steal cores but not CPU seconds. CUDA work
    is synchronised before each reading so asynchronous kernels are counted.
    """
    clocks = {"wall": time.perf_counter, "cpu": time.process_time}
    if clock not in clocks:
        raise ValueError(f"clock must be one of {sorted(clocks)}, got {clock!r}")
    now = clocks[clock]

    def sync() -> None:
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()

    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        sync()
        t0 = now()
        fn()
        sync()
        times.append(now() - t0)
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
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


def write_bench(
    out_dir: Path | str, title: str, rows: Sequence[dict[str, Any]], notes: Sequence[str] = ()
) -> tuple[Path, Path]:
    """Write `bench.md` (title, machine, table, notes) and `bench.json` into `out_dir`."""
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
        {"title": title, "machine": info, "rows": list(rows), "notes": list(notes)},
    )
    return md_path, json_path
