"""`nox -s gpu`: one short training run of every package on CUDA, in fp32 and under AMP, compared.

What a user with a GPU needs to trust before a long run: the loss stays finite under mixed precision,
it lands where fp32 lands (same seed, same batches), and how much faster it is. Each package is run
through its own console script (`<pkg> demo --device cuda train.amp=...`), so the core imports no
package. On a machine without CUDA the check prints one line saying so and succeeds: it is a check
to run where a GPU is, not a failure where none is.

    python -m sigzoo_shared.gpucheck --out runs/gpu dcase-cae ecg-vqvae ...
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sigzoo_shared.io import atomic_write_json, atomic_write_text

# Same seed and batches in both precisions: after one short epoch bf16/fp16 rounding moves the loss by
# well under this much; a larger gap means a real precision problem (overflow, a lost scale factor).
REL_TOLERANCE = 0.05
PRECISIONS = ("off", "auto")  # fp32, then the device's AMP dtype (bf16 where supported, else fp16)

Runner = Callable[[list[str]], int]


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def command(package: str, run_dir: Path, amp: str, batches: int) -> list[str]:
    """One epoch of at most `batches` batches of the package's demo on CUDA at the given AMP setting."""
    return [
        package,
        "demo",
        "--device",
        "cuda",
        "--run-dir",
        str(run_dir),
        "train.epochs=1",
        f"train.limit_train_batches={batches}",
        f"train.limit_val_batches={batches}",
        f"train.amp={amp}",
        "train.seed=0",
    ]


def final_losses(run_dir: Path) -> dict[str, float]:
    """The last epoch's `*loss*` values of every metrics.jsonl under `run_dir` (phases by folder)."""
    out: dict[str, float] = {}
    for path in sorted(run_dir.rglob("metrics.jsonl")):
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
        if not lines:
            continue
        prefix = path.parent.relative_to(run_dir).as_posix()
        for key, value in json.loads(lines[-1]).items():
            if "loss" in key and isinstance(value, (int, float)):
                out[f"{prefix}/{key}" if prefix != "." else key] = float(value)
    return out


def compare(fp32: dict[str, float], amp: dict[str, float]) -> tuple[bool, float]:
    """Finite everywhere and the largest relative gap within REL_TOLERANCE? (ok, max gap)."""
    if not amp or set(fp32) != set(amp):
        return False, math.nan
    gaps = [abs(amp[k] - fp32[k]) / max(abs(fp32[k]), 1e-8) for k in fp32]
    finite = all(math.isfinite(v) for v in (*fp32.values(), *amp.values()))
    worst = max(gaps)
    return finite and worst <= REL_TOLERANCE, worst


def check_package(package: str, out: Path, batches: int, run: Runner) -> dict[str, Any]:
    row: dict[str, Any] = {"package": package}
    losses = {}
    for amp in PRECISIONS:
        run_dir = out / package / f"amp-{amp}"
        start = time.perf_counter()
        code = run(command(package, run_dir, amp, batches))
        row[f"wall_s_{amp}"] = time.perf_counter() - start
        if code != 0:
            row.update(ok=False, note=f"amp={amp}: exit code {code}")
            return row
        losses[amp] = final_losses(run_dir)
    ok, gap = compare(losses["off"], losses["auto"])
    row.update(
        ok=ok,
        max_rel_loss_gap=gap,
        speedup=row["wall_s_off"] / max(row["wall_s_auto"], 1e-9),
        note="" if ok else f"losses fp32 {losses['off']} vs amp {losses['auto']}",
    )
    return row


def markdown(rows: Sequence[dict[str, Any]], device: str) -> str:
    lines = [
        f"# GPU check ({device})",
        "",
        f"One epoch (at most N batches) per package, fp32 vs AMP, same seed; pass = every loss "
        f"finite and within {REL_TOLERANCE:.0%} of fp32. Wall times include start-up and data.",
        "",
        "| package | pass | max rel. loss gap | fp32 wall s | AMP wall s | speed-up | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['package']} | {'yes' if r.get('ok') else 'NO'} | {r.get('max_rel_loss_gap', math.nan):.3g} | "
            f"{r.get('wall_s_off', math.nan):.1f} | {r.get('wall_s_auto', math.nan):.1f} | "
            f"{r.get('speedup', math.nan):.2f} | {r.get('note', '')} |"
        )
    return "\n".join(lines) + "\n"


def main(
    argv: Sequence[str] | None = None,
    run: Runner | None = None,
    has_cuda: Callable[[], bool] = cuda_available,
) -> int:
    parser = argparse.ArgumentParser(prog="sigzoo-gpucheck", description=__doc__)
    parser.add_argument("packages", nargs="+")
    parser.add_argument("--out", type=Path, default=Path("runs/gpu"))
    parser.add_argument("--batches", type=int, default=50, help="batches per epoch (default 50)")
    args = parser.parse_args(argv)
    if not has_cuda():
        print("gpu: skipped: no CUDA device visible (torch.cuda.is_available() is False)")
        return 0
    runner = run or (lambda cmd: subprocess.run(cmd, check=False).returncode)
    rows = [check_package(p, args.out, args.batches, runner) for p in args.packages]
    device = _device_name()
    atomic_write_text(args.out / "gpu.md", markdown(rows, device))
    atomic_write_json(args.out / "gpu.json", {"device": device, "rows": rows})
    print(markdown(rows, device), end="")
    return 0 if all(r.get("ok") for r in rows) else 1


def _device_name() -> str:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device"


if __name__ == "__main__":
    sys.exit(main())
