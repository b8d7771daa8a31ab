"""`resp-mhavae bench`: the LSTM phase with vectorised decoding vs the seed's per-step Python loop.

The seed runs its LSTM one time step at a time in Python, for training (teacher forcing) and detection.
Here teacher forcing is one `nn.LSTM` call over the whole (k + 1) x l_win sequence; autoregressive detection
must still step through the predicted window, but the history is encoded in one call and all windows are
decoded as one batch. Each case runs in a fresh process (so peak RSS is its own), one torch thread, warm-up
then the median of N; both decodings start from the same weights and batches, and the table reports the
largest difference in loss and weights after the timed steps ("equal results").
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from sigzoo_shared import RunDir
from sigzoo_shared.bench import time_fn, write_bench, zoo_row

from resp_mhavae.config import Config


def _rss_mb() -> float:
    scale = 1 / 1024 / 1024 if sys.platform == "darwin" else 1 / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _case(kind: str, decoding: str, p: dict[str, Any]) -> dict[str, Any]:
    """One timing in this (fresh) process: 'train' = one epoch of LSTM steps, 'detect' = generation."""
    import torch

    from resp_mhavae.model import SequenceLSTM

    torch.set_num_threads(1)
    torch.manual_seed(0)
    base = _rss_mb()
    lstm = SequenceLSTM(p["code_size"], p["hidden"], p["layers"], 0.0, decoding)  # type: ignore[arg-type]
    g = torch.Generator().manual_seed(1)
    k, L, B = p["look_back_num"], p["l_win"], p["batch_size"]
    batches = [torch.randn(B, k + 1, p["code_size"], L, generator=g) for _ in range(p["batches"])]
    if kind == "train":
        opt = torch.optim.Adam(lstm.parameters(), lr=1e-3)
        losses: list[float] = []

        def run() -> None:
            for seq in batches:
                loss = ((lstm(seq) - seq[:, -1]) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(float(loss.detach()))

        timing = time_fn(run, warmup=1, repeat=p["repeat"])
        steps = len(batches)
        check = {
            "loss": losses[-1],
            "weights": torch.cat([w.flatten() for w in lstm.parameters()]).detach(),
        }
    else:
        lstm.eval()
        out: list[torch.Tensor] = []

        def run() -> None:
            with torch.no_grad():
                out.append(lstm.generate(batches[0][:, :-1]))

        timing = time_fn(run, warmup=1, repeat=p["repeat"])
        steps = B  # windows predicted per call
        check = {"prediction": out[-1]}
    return {"timing": timing, "steps": steps, "peak_rss_mb": _rss_mb() - base, "check": check}


def _in_fresh_process(kind: str, decoding: str, p: dict[str, Any]) -> dict[str, Any]:
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(_case, kind, decoding, p).result()


def export_rows(folder: Path, batch_size: int = 16, repeat: int = 20) -> tuple[list, list[str]]:
    """The shipped model's window scorer (what `resp-mhavae export --pretrained` writes) under ONNX
    Runtime and PyTorch on one CPU thread: bench rows and notes (export time, parity)."""
    import time

    import torch
    from sigzoo_shared.export import PARITY_ATOL, parity, speed_rows, write_export

    from resp_mhavae.api import DEFAULT_PRETRAINED, export_spec, load_pretrained

    detector = load_pretrained(DEFAULT_PRETRAINED)
    spec = export_spec(detector)
    start = time.perf_counter()
    path = folder / "scorer.onnx"
    write_export(spec, path, check=False)
    seconds = time.perf_counter() - start
    k, C, L = detector.config.data.look_back_num, len(detector.channels), detector.config.data.l_win
    runs = torch.randn(batch_size, k + 1, C, L, generator=torch.Generator().manual_seed(1))
    worst = parity(spec.module, path, [(runs,), (runs[:1],)])
    rows = []
    for r in speed_rows(spec.module, path, (runs,), repeat=repeat):
        t = r["median_ms"] / 1e3
        rows.append(
            {
                "case": f"window scorer, pretrained {DEFAULT_PRETRAINED}",
                "decoding": r["runtime"],
                "config": f"runs {r['input']} (B x (k + 1) x C x L)",
                "median_s": t,
                "throughput": f"{batch_size / t:.3g} windows/s",
                "peak_rss_mb": "",
                "speedup_vs_loop": "",
            }
        )
    notes = [
        f"window scorer export: {seconds:.0f} s wall to write {path.name} "
        f"({path.stat().st_size / 1e6:.1f} MB: the autoregressive decoding is unrolled over l_win "
        f"= {L} steps); ONNX Runtime vs PyTorch max abs diff {worst:.1e} on batches of "
        f"{batch_size} and 1 (tolerance {PARITY_ATOL}); median of {repeat} calls each"
    ]
    return rows, notes


def bench(
    cfg: Config,
    run_dir: Path | None = None,
    *,
    l_win: int = 200,
    batch_size: int = 16,
    batches: int = 2,
    repeat: int = 3,
) -> Path:
    """Write bench.md/bench.json: training epoch and detection time, steps/s, peak RSS, speed-up."""
    run = RunDir.create("resp-mhavae", run_dir=run_dir, verb="bench", tensorboard=False)
    m = cfg.model
    p = {
        "code_size": m.code_size,
        "hidden": m.num_hidden_units_lstm,
        "layers": m.num_layers_lstm,
        "look_back_num": cfg.data.look_back_num,
        "l_win": l_win,
        "batch_size": batch_size,
        "batches": batches,
        "repeat": repeat,
    }
    rows, notes, zoo = [], [], []
    for kind in ("train", "detect"):
        results = {d: _in_fresh_process(kind, d, p) for d in ("loop", "vectorised")}
        ref = results["loop"]["timing"]["median_s"]
        zoo.append(
            zoo_row(
                "resp-mhavae",
                f"LSTM {'training epoch' if kind == 'train' else 'detection'}, l_win={l_win}",
                results["vectorised"]["timing"]["median_s"],
                ref,
                "measured in this run: the seed's per-step decoding loop",
            )
        )
        for decoding, r in results.items():
            t = r["timing"]["median_s"]
            rows.append(
                {
                    "case": f"LSTM {'training epoch' if kind == 'train' else 'detection (generate)'}",
                    "decoding": decoding if decoding == "vectorised" else "per-step loop (seed)",
                    "config": f"k={p['look_back_num']} l_win={l_win} B={batch_size} D={p['code_size']} "
                    f"H={p['hidden']}x{p['layers']}"
                    + (f" {batches} batches" if kind == "train" else ""),
                    "median_s": t,
                    "throughput": f"{r['steps'] / t:.3g} "
                    + ("steps/s" if kind == "train" else "windows/s"),
                    "peak_rss_mb": round(r["peak_rss_mb"], 1),
                    "speedup_vs_loop": ref / t,
                }
            )
        a, b = results["loop"]["check"], results["vectorised"]["check"]
        if kind == "train":
            notes.append(
                f"equal results (training): after {1 + repeat} identical epochs the last loss differs by "
                f"{abs(a['loss'] - b['loss']):.2e} and the weights by at most "
                f"{float((a['weights'] - b['weights']).abs().max()):.2e}"
            )
        else:
            notes.append(
                f"equal results (detection): predictions differ by at most "
                f"{float((a['prediction'] - b['prediction']).abs().max()):.2e}"
            )
    onnx_rows, onnx_notes = export_rows(run.path)
    rows += onnx_rows
    notes += onnx_notes
    notes.append(
        "one torch thread per LSTM case, each case in a fresh process (peak RSS = growth over the "
        "process baseline); time_fn: 1 warm-up, median of the repeats"
    )
    write_bench(
        run.path,
        "resp-mhavae: vectorised LSTM decoding vs the seed's per-step loop",
        rows,
        notes,
        zoo=zoo,
    )
    return run.path / "bench.md"
