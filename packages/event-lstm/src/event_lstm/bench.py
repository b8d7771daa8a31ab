"""`event-lstm bench`: streaming real-time factor of both classifiers (the event-specific one also on
its reference path: direct convolutions, every timing head), the whole `detect` command (process start
to events CSV) on a short and a long recording, ONNX Runtime against PyTorch on one thread, training
steps/s and peak memory of both classifiers (and of the original full-rate layout for comparison).

Each training case runs in a fresh subprocess so its peak RSS is its own. Weights are untrained (speed
does not depend on them); the stream is generated. Timing: warm-up, then the median of N (core helper).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch
from sigzoo_shared import ConfigError, RunDir
from sigzoo_shared.bench import time_fn, write_bench, zoo_row
from sigzoo_shared.config import from_dict, to_dict

from event_lstm.config import Config


def _train_case(cfg_dict: dict[str, Any], batch_size: int, repeat: int) -> dict[str, float]:
    """Steps/s of one full optimizer step at `batch_size`; runs in the subprocess."""
    from sigzoo_shared.device import peak_rss_mb

    from event_lstm.builders import build_loss, build_model
    from event_lstm.train import supervised_step

    cfg = from_dict(Config, cfg_dict)
    torch.manual_seed(0)
    model = build_model(cfg.model)
    step = supervised_step(build_loss(cfg), teacher_mask=cfg.model.arch == "event_specific")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    T, E = cfg.generator.window_samples, cfg.model.num_events
    x = torch.randn(batch_size, T, cfg.model.input_size)
    labels = (torch.rand(batch_size, E) < 0.1).float()
    timings = torch.randint(0, T, (batch_size, E)).float()

    def one() -> None:
        loss, _ = step(model, (x, labels, timings))
        opt.zero_grad()
        loss.backward()
        opt.step()

    t = time_fn(one, warmup=1, repeat=repeat)
    return {
        "steps_per_s": 1.0 / t["median_s"],
        "step_ms": 1000 * t["median_s"],
        "step_cpu_ms": 1000 * t["median_cpu_s"],
        "peak_rss_mb": peak_rss_mb(),
        "params": sum(p.numel() for p in model.parameters()),
    }


def _subprocess_case(cfg: Config, batch_size: int, repeat: int) -> dict[str, float]:
    code = (
        "import json,sys; from event_lstm.bench import _train_case; "
        "a=json.loads(sys.stdin.read()); print(json.dumps(_train_case(a['cfg'], a['bs'], a['repeat'])))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps({"cfg": to_dict(cfg), "bs": batch_size, "repeat": repeat}),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def detection_model(cfg: Config) -> tuple[torch.nn.Module, str]:
    """The classifier to time detection with: the shipped model when it has `cfg.model`'s settings
    (the default's case), otherwise untrained weights of that size (seed 0). Trained weights matter
    for the event-specific model: it computes timing heads only for the event types it reports."""
    from sigzoo_shared.pretrained import list_pretrained, load_pretrained

    from event_lstm.api import DEFAULT_PRETRAINED
    from event_lstm.builders import build_model, classifier_model

    if any(card["name"] == DEFAULT_PRETRAINED for card in list_pretrained("event_lstm")):
        shipped = load_pretrained("event_lstm", DEFAULT_PRETRAINED, Config, classifier_model)
        if shipped.config.model == cfg.model:
            return shipped.model.eval(), f"shipped '{DEFAULT_PRETRAINED}' weights"
    torch.manual_seed(0)
    return build_model(cfg.model).eval(), "untrained weights"


def streaming_rtf(
    cfg: Config, seconds: float = 30.0, repeat: int = 3, fast: bool = True
) -> dict[str, float]:
    """Streaming detection of a generated recording in-process (no start, no I/O); `fast=False` runs
    the event-specific model's reference path (`fast_inference`)."""
    from event_lstm.detect import detect_signal
    from event_lstm.generator import _rng, generate_recording

    model, _ = detection_model(cfg)
    model.fast_inference = fast
    rec = generate_recording(
        cfg.generator, int(seconds * cfg.data.fs_hz), _rng(cfg.generator, "stream")
    )
    t = time_fn(
        lambda: detect_signal(model, rec.signal, cfg.generator.window_samples, cfg.detect),
        warmup=1,
        repeat=repeat,
    )
    return {
        "ms_per_s_audio": 1000 * t["median_s"] / seconds,
        "real_time_factor": seconds / t["median_s"],
        "cpu_ms_per_s_audio": 1000 * t["median_cpu_s"] / seconds,
    }


def run_bench(
    cfg: Config,
    run_dir: Path | str | None = None,
    batch_size: int = 32,
    repeat: int = 5,
    stream_s: float = 30.0,
    command_s: float = 600.0,
) -> Path:
    with RunDir.created("event-lstm", run_dir=run_dir, verb="bench", tensorboard=False) as run:
        return _bench_into(run, cfg, batch_size, repeat, stream_s, command_s)


def detect_command(cfg: Config, seconds: list[float], folder: Path) -> list[dict[str, float]]:
    """Wall and CPU seconds of `event-lstm detect` as a user runs it: a fresh process (interpreter and
    torch start, checkpoint load, streaming, CSV write) per generated recording of `seconds`.

    Bytecode is cached as after an install (pip compiles it; otherwise the first run writes it): an
    untimed first run fills a private cache, so a PYTHONDONTWRITEBYTECODE environment does not add
    the ~3 CPU-s of compiling torch's modules to every timed start.
    """
    import os
    import tempfile

    from sigzoo_shared.checkpoint import save_checkpoint

    from event_lstm.data import write_recording
    from event_lstm.generator import _rng, generate_recording

    model, _ = detection_model(cfg)
    ckpt = save_checkpoint(
        folder / "model" / "checkpoints" / "best.pt",
        {"model_state": model.state_dict(), "config": to_dict(cfg), "epoch": 0, "global_step": 0},
    )
    rng = _rng(cfg.generator, "stream")
    rec = generate_recording(cfg.generator, int(max(seconds) * cfg.data.fs_hz), rng)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = []
    with tempfile.TemporaryDirectory() as cache:
        env["PYTHONPYCACHEPREFIX"] = cache
        for i, s in enumerate([5.0, *seconds]):  # the first run only fills the cache
            part = _first_samples(rec, int(s * cfg.data.fs_hz))
            npz, _ = write_recording(folder / f"recording-{s:g}s.npz", part)
            r = _time_detect(ckpt, npz, folder / f"detect-{s:g}s", env)
            if i:
                out.append({**r, "seconds": s})
    return out


def _first_samples(rec: Any, n_samples: int) -> Any:
    """The first `n_samples` of a generated recording, with its events."""
    from dataclasses import replace

    events = None if rec.events is None else rec.events[rec.events[:, 0] < n_samples]
    return replace(rec, signal=rec.signal[:n_samples], events=events)


def _time_detect(ckpt: Path, npz: Path, folder: Path, env: dict[str, str]) -> dict[str, float]:
    import os
    import time

    argv = ["detect", "--checkpoint", str(ckpt), "--input", str(npz)]
    argv += ["--out", str(folder / "events.csv"), "--run-dir", str(folder)]
    code = "import sys; from event_lstm.cli import main; sys.exit(main(sys.argv[1:]))"
    before, t0 = os.times(), time.perf_counter()
    subprocess.run([sys.executable, "-c", code, *argv], check=True, env=env, capture_output=True)
    wall, after = time.perf_counter() - t0, os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return {"wall_s": wall, "cpu_s": cpu}


def _streaming_row(name: str, cfg: Config, stream_s: float, fast: bool = True) -> dict[str, Any]:
    r = streaming_rtf(cfg, stream_s, repeat=3, fast=fast)
    return {
        "case": name,
        "metric": "ms per 1 s of 6-ch 2 kHz",
        "value": r["ms_per_s_audio"],
        "real_time_factor": r["real_time_factor"],
        "cpu_ms": r["cpu_ms_per_s_audio"],
        "target": "<= 10 ms (>= 100x)",
    }


def onnx_rows(cfg: Config, folder: Path, batch: int = 32) -> list[dict[str, Any]]:
    """ONNX Runtime against PyTorch, one CPU thread, one batch of streaming windows (core rows)."""
    from sigzoo_shared.export import export_onnx, speed_rows

    from event_lstm.api import export_spec
    from event_lstm.builders import build_model

    torch.manual_seed(0)
    spec = export_spec(build_model(cfg.model), cfg)
    path = export_onnx(
        spec.module,
        spec.example,
        folder / "model.onnx",
        input_names=spec.input_names,
        output_names=spec.output_names,
        dynamic_axes=spec.dynamic_axes,
    )
    x = torch.randn(batch, cfg.generator.window_samples, cfg.data.n_channels)
    rows = speed_rows(spec.module, path, (x,), repeat=10)
    return [
        {
            "case": f"window batch, EventSpecificClassifier (default), {r['runtime']}",
            "metric": f"ms per batch of {batch} windows ({r['input']})",
            "value": r["median_ms"],
        }
        for r in rows
    ]


def _bench_into(
    run: RunDir, cfg: Config, batch_size: int, repeat: int, stream_s: float, command_s: float
) -> Path:
    from sigzoo_shared.config import replace

    es = replace(cfg, model=replace(cfg.model, arch="event_specific"))
    # the LSTM rows are configs/lstm.yaml's and configs/seed.yaml's model: two layers, whatever the
    # event-specific default uses (the zoo compares them with the original's two-layer LSTM)
    lstm = replace(cfg, model=replace(cfg.model, arch="lstm", num_layers=2))
    rows = [
        _streaming_row("streaming detect, EventSpecificClassifier (default)", es, stream_s),
        _streaming_row(
            "streaming detect, EventSpecificClassifier, reference path (direct convolutions, "
            "every timing head)",
            es,
            stream_s,
            fast=False,
        ),
        _streaming_row("streaming detect, LSTMEventClassifier (configs/lstm.yaml)", lstm, stream_s),
    ]
    commands = (("EventSpecificClassifier (default)", es, [60.0, command_s]),)
    commands += (("LSTMEventClassifier", lstm, [command_s]),)
    for name, c, lengths in commands:
        for r in detect_command(c, lengths, run.path / "detect-command" / c.model.arch):
            rows.append(
                {
                    "case": f"whole `event-lstm detect` command, {name}",
                    "metric": f"s for a {r['seconds']:g} s recording (start to events CSV)",
                    "value": r["wall_s"],
                    "cpu_ms": 1000 * r["cpu_s"],
                    "real_time_factor": r["seconds"] / r["wall_s"],
                    "cpu_real_time_factor": r["seconds"] / max(r["cpu_s"], 1e-9),
                    "target": ">= 100x",
                }
            )
    try:
        rows += onnx_rows(es, run.path / "onnx")
    except ConfigError as err:  # onnxscript / onnxruntime not installed: say so in the table
        rows.append({"case": "ONNX Runtime", "metric": str(err)})
    cases = [
        ("train step, EventSpecificClassifier (default, downsample 10)", es, repeat),
        ("train step, LSTMEventClassifier (downsample 10)", lstm, repeat),
        (
            "train step, LSTMEventClassifier, original layout (downsample 1)",
            replace(lstm, model=replace(lstm.model, downsample=1)),
            2,
        ),
    ]
    for name, c, n in cases:
        res = _subprocess_case(c, batch_size, n)
        rows.append(
            {
                "case": name,
                "metric": f"steps/s at batch {batch_size}, window {c.generator.window_samples}",
                "value": res["steps_per_s"],
                "step_ms": res["step_ms"],
                "cpu_ms": res["step_cpu_ms"],
                "peak_rss_mb": res["peak_rss_mb"],
                "params": res["params"],
            }
        )
    notes = [
        f"window {cfg.generator.window_samples} samples, overlap {cfg.detect.overlap_samples}, chunk "
        f"{cfg.detect.chunk_samples}; stream of {stream_s:g} s generated; torch threads "
        f"{cfg.detect.threads} while streaming, {torch.get_num_threads()} for training steps",
        f"detection rows: event-specific model with {detection_model(es)[1]}, LSTM with "
        f"{detection_model(lstm)[1]}",
        "whole command: a fresh `event-lstm detect` process on one thread (OMP_NUM_THREADS=1), "
        "bytecode cached as after an install; "
        "real_time_factor is recording length / wall time, cpu_real_time_factor / CPU time "
        "(interpreter and torch start included); two lengths give the fixed start cost",
        "cpu_ms: process CPU time (all threads) per second of data / per step, a load-independent "
        "proxy on a shared machine",
        "peak_rss_mb is the peak resident memory of a fresh process running that case (includes torch)",
        "timings are medians after warm-up on a machine shared with other jobs; see the load note in "
        "docs/event-lstm.md",
    ]
    columns = [
        "case",
        "metric",
        "value",
        "cpu_ms",
        "real_time_factor",
        "cpu_real_time_factor",
        "step_ms",
        "peak_rss_mb",
        "params",
        "target",
    ]
    by_case = {row["case"]: row for row in rows}
    ours, original = by_case[cases[0][0]], by_case[cases[2][0]]
    stream = by_case["streaming detect, EventSpecificClassifier (default)"]
    zoo = [
        zoo_row(
            "event-lstm",
            f"train step, batch {batch_size} (CPU time)",
            ours["cpu_ms"] / 1e3,
            original["cpu_ms"] / 1e3,
            "measured in this run: the original's LSTM at the full 2 kHz rate (downsample 1)",
        ),
        zoo_row(
            "event-lstm",
            "streaming detection of 1 s of data (CPU time)",
            stream["cpu_ms"] / 1e3,
            None,
            "none: the original README records no streaming speed",
        ),
    ]
    rows = [{c: row.get(c) for c in columns} for row in rows]
    write_bench(run.path, "event-lstm bench", rows, notes, zoo=zoo)
    return run / "bench.md"
