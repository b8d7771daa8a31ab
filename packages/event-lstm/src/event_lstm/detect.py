"""Streaming detection over an unbounded recording: overlapping windows, state carried across chunks.

Windows of `window` samples start every `hop` samples in recording time, whatever the chunk sizes the
caller pushes (the buffer keeps the unprocessed tail), so the output does not depend on chunking. Each
window yields at most one candidate per event type; `RefractoryEnforcer` merges them across windows and
chunks: a candidate within the refractory period of a pending one of the same type replaces it only when
more probable (the original kept the earlier event whatever its probability), and a pending event is
emitted once no future window can reach it. The overlap (window - hop) must exceed an event's length, so
each event lies whole inside at least one window; the overlapping window's duplicate is merged. The
recording's tail is covered by one last full window ending at its last sample (a partial window only for
a recording shorter than one window), so every window a model sees has the length it was trained on.

The model is anything with `predict_events` and `refractory_period_samples`: a trained classifier, or
`OnnxWindowScores`, its exported inference path on ONNX Runtime (same events, tested).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sigzoo_shared import ConfigError, RunDir
from sigzoo_shared.errors import CheckpointError
from sigzoo_shared.runs import LoadedRun, load_run
from torch import nn

from event_lstm.builders import classifier_model
from event_lstm.config import Config, DetectConfig
from event_lstm.data import load_recording


@dataclass
class Detection:
    sample: int
    event: int
    probability: float


class RefractoryEnforcer:
    """Per event type at most one event per `refractory_samples`, the more probable one winning."""

    def __init__(self, refractory_samples: int) -> None:
        self.refractory = refractory_samples
        self.pending: dict[int, Detection] = {}
        self.emitted: dict[int, int] = {}  # per type, the sample of the last event already emitted

    def _emit(self, d: Detection, out: list[Detection]) -> None:
        self.emitted[d.event] = d.sample
        out.append(d)

    def push(self, candidates: Iterable[Detection], horizon: int | None = None) -> list[Detection]:
        """Add candidates; return the events that are final, i.e. earlier than `horizon - refractory`.

        `horizon` promises that no later candidate lies before it (the next window's start).
        """
        out: list[Detection] = []
        for c in sorted(candidates, key=lambda d: d.sample):
            last = self.emitted.get(c.event)
            if last is not None and abs(c.sample - last) < self.refractory:
                continue  # an emitted event is final: the tail window may see its neighbourhood again
            p = self.pending.get(c.event)
            if p is None:
                self.pending[c.event] = c
            elif abs(c.sample - p.sample) < self.refractory:
                if c.probability > p.probability:
                    self.pending[c.event] = c
            else:
                self._emit(p, out)
                self.pending[c.event] = c
        if horizon is not None:
            for e, p in list(self.pending.items()):
                if p.sample + self.refractory <= horizon:
                    self._emit(self.pending.pop(e), out)
        return sorted(out, key=lambda d: (d.sample, d.event))

    def flush(self) -> list[Detection]:
        out: list[Detection] = []
        for d in list(self.pending.values()):
            self._emit(d, out)
        self.pending.clear()
        return sorted(out, key=lambda d: (d.sample, d.event))


class StreamingDetector:
    """Push chunks (T_chunk, C) of any size; get final detections back; `flush()` at the end."""

    def __init__(
        self,
        model: nn.Module,
        window: int,
        hop: int,
        threshold: float = 0.5,
        timing: str = "expected",
        batch_windows: int = 32,
        device: torch.device | str = "cpu",
    ) -> None:
        if not 0 < hop <= window:
            raise ConfigError(f"hop ({hop}) must be in (0, window={window}]")
        self.model = model.eval()
        self.window, self.hop, self.threshold, self.timing = window, hop, threshold, timing
        self.batch_windows, self.device = batch_windows, torch.device(device)
        self.enforcer = RefractoryEnforcer(model.refractory_period_samples)
        self.buffer: np.ndarray | None = None
        self.buffer_start = 0  # recording sample of buffer[0]
        self.next_window = 0  # recording sample where the next window starts
        self.n_seen = 0
        self.raw_candidates = 0

    def _run(self, starts: list[int], lengths: list[int] | None = None) -> list[Detection]:
        assert self.buffer is not None
        xs = []
        for s, n in zip(starts, lengths or [self.window] * len(starts)):
            seg = self.buffer[s - self.buffer_start : s - self.buffer_start + n]
            xs.append(seg if n == self.window else np.pad(seg, ((0, self.window - n), (0, 0))))
        x = torch.from_numpy(np.stack(xs)).to(self.device)
        lens = None if lengths is None else torch.tensor(lengths, device=self.device)
        pred = self.model.predict_events(
            x, lens, threshold=self.threshold, timing=self.timing, apply_refractory=False
        )
        b, e = torch.nonzero(pred["present"], as_tuple=True)
        onsets, probs = pred["onsets"][b, e].tolist(), pred["probs"][b, e].tolist()
        self.raw_candidates += len(onsets)
        return [
            Detection(starts[i] + int(o), int(k), float(p))
            for i, k, o, p in zip(b.tolist(), e.tolist(), onsets, probs)
        ]

    def push(self, chunk: np.ndarray) -> list[Detection]:
        chunk = np.asarray(chunk, dtype=np.float32)
        self.buffer = chunk if self.buffer is None else np.concatenate([self.buffer, chunk])
        self.n_seen += len(chunk)
        out: list[Detection] = []
        end = self.buffer_start + len(self.buffer)
        while self.next_window + self.window <= end:
            starts = []
            while self.next_window + self.window <= end and len(starts) < self.batch_windows:
                starts.append(self.next_window)
                self.next_window += self.hop
            out += self.enforcer.push(self._run(starts), horizon=self.next_window)
        # keep what the next window needs, and a full window before the end for the tail window
        keep_from = min(self.next_window, max(0, end - self.window))
        if keep_from > self.buffer_start:
            self.buffer = self.buffer[keep_from - self.buffer_start :]
            self.buffer_start = keep_from
        return out

    def flush(self) -> list[Detection]:
        """Cover the recording's tail with one last window ending at the last sample, then emit all."""
        out: list[Detection] = []
        covered = self.next_window - self.hop + self.window if self.next_window > 0 else 0
        if self.buffer is not None and self.n_seen > covered:
            start = max(0, self.n_seen - self.window)
            n = self.n_seen - start
            out += self.enforcer.push(self._run([start], [n] if n < self.window else None))
        return sorted(out + self.enforcer.flush(), key=lambda d: (d.sample, d.event))


class OnnxWindowScores:
    """An exported classifier (`event-lstm export`) on ONNX Runtime, usable wherever streaming detection
    takes a model: `predict_events` on full windows (B, T, C), one CPU thread by default.

    The export bakes in the timing read-out and every window it sees must be full length (a recording
    shorter than one window needs the PyTorch model, which masks the padding).
    """

    def __init__(
        self,
        path: Path | str,
        refractory_period_samples: int,
        timing: str = "expected",
        threads: int = 1,
    ) -> None:
        from sigzoo_shared.export import onnx_session

        self.path = Path(path)
        self.session = onnx_session(self.path, threads=threads)
        self.refractory_period_samples = refractory_period_samples
        self.timing = timing

    @classmethod
    def from_export(cls, path: Path | str, threads: int = 1) -> OnnxWindowScores:
        """Open a file written by `event-lstm export`; its sidecar `<file>.json` gives the settings."""
        import json

        path = Path(path)
        sidecar = path.with_name(path.name + ".json")
        try:
            notes = json.loads(sidecar.read_text(encoding="utf-8"))["notes"]
            return cls(path, int(notes["refractory_period_samples"]), notes["timing"], threads)
        except FileNotFoundError as err:
            raise ConfigError(f"{sidecar}: not found (written beside the model by export)") from err
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(f"{sidecar}: not an event-lstm export record ({err!r})") from err

    def eval(self) -> OnnxWindowScores:
        return self

    def predict_events(
        self,
        x: torch.Tensor,
        lengths: torch.Tensor | None = None,
        threshold: float = 0.5,
        timing: str = "expected",
        apply_refractory: bool = True,
    ) -> dict[str, torch.Tensor]:
        """`present`, `onsets` (NaN where absent) and `probs`, as the PyTorch model's method."""
        from sigzoo_shared.export import run_onnx

        if lengths is not None and bool((lengths < x.shape[1]).any()):
            raise ConfigError(
                f"{self.path}: a window of {int(lengths.min())} samples, the exported model needs full "
                f"windows of {x.shape[1]} (a recording shorter than one window: use the PyTorch model)"
            )
        # one candidate per type and window: within a window the refractory filter has nothing to
        # remove (`apply_refractory` is accepted for that reason); across windows the caller applies it
        if timing != self.timing:
            raise ConfigError(
                f"{self.path}: exported with detect.timing={self.timing!r}, asked for {timing!r}"
            )
        probs, onsets = (torch.from_numpy(a) for a in run_onnx(self.session, [x]))  # (B, E) each
        present = probs >= threshold
        onsets = torch.where(present, onsets, torch.full_like(onsets, float("nan")))
        return {"present": present, "onsets": onsets, "probs": probs}


@torch.no_grad()
def predict_windows(
    model: nn.Module,
    signals: np.ndarray,
    threshold: float,
    timing: str,
    device: torch.device | str = "cpu",
    batch_size: int = 64,
) -> dict[str, np.ndarray]:
    model.eval()
    outs: dict[str, list[np.ndarray]] = {"present": [], "onsets": [], "probs": []}
    for i in range(0, len(signals), batch_size):
        x = torch.from_numpy(signals[i : i + batch_size]).to(device)
        pred = model.predict_events(x, threshold=threshold, timing=timing)
        for k in outs:
            outs[k].append(pred[k].cpu().numpy())
    return {k: np.concatenate(v) for k, v in outs.items()}


def detect_array(
    model: nn.Module,
    signal: np.ndarray,
    window: int,
    hop: int,
    threshold: float = 0.5,
    timing: str = "expected",
    chunk_samples: int = 20000,
    device: torch.device | str = "cpu",
    threads: int | None = None,
) -> tuple[list[Detection], dict[str, float]]:
    """Stream `signal` (T, C) through a StreamingDetector in chunks; returns detections and timing stats.

    `threads` sets torch's intra-op threads for the duration (restored after): batches of short windows
    are too small for several threads to pay off, and one thread avoids contention on a busy machine.
    """
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _detect_array(model, signal, window, hop, threshold, timing, chunk_samples, device)
    finally:
        torch.set_num_threads(previous)


def _detect_array(
    model: nn.Module,
    signal: np.ndarray,
    window: int,
    hop: int,
    threshold: float,
    timing: str,
    chunk_samples: int,
    device: torch.device | str,
) -> tuple[list[Detection], dict[str, float]]:
    from sigzoo_shared.heap import heap_reuse

    det = StreamingDetector(model, window, hop, threshold, timing, device=device)
    t0 = time.perf_counter()
    out: list[Detection] = []
    # freed batch buffers stay in the heap instead of being unmapped and faulted in again per batch
    with heap_reuse(torch.device(device).type == "cpu"), torch.inference_mode():
        for i in range(0, len(signal), chunk_samples):
            out += det.push(signal[i : i + chunk_samples])
        out += det.flush()
    elapsed = time.perf_counter() - t0
    return out, {"elapsed_s": elapsed, "raw_candidates": det.raw_candidates}


def detect_signal(
    model: nn.Module,
    signal: np.ndarray,
    window_samples: int,
    settings: DetectConfig,
    device: torch.device | str = "cpu",
    threshold: float | None = None,
) -> tuple[list[Detection], dict[str, float]]:
    """`detect_array` with the settings of a config's `detect` section (hop from the overlap, threshold,
    timing read-out, chunk size, threads): the one call behind `event-lstm detect`, `evaluate` on a
    recording, the Python API, the demo and the bench. `threshold` overrides `settings.threshold`."""
    return detect_array(
        model,
        signal,
        window_samples,
        settings.hop(window_samples),
        settings.threshold if threshold is None else threshold,
        settings.timing,
        settings.chunk_samples,
        device,
        settings.threads,
    )


def count_refractory_violations(samples: np.ndarray, events: np.ndarray, refractory: int) -> int:
    """Pairs of consecutive same-type events closer than `refractory` samples."""
    n = 0
    for e in np.unique(events):
        s = np.sort(samples[events == e])
        n += int((np.diff(s) < refractory).sum())
    return n


def write_events_csv(path: Path, detections: list[Detection], fs_hz: int) -> Path:
    from sigzoo_shared.io import atomic_write_csv

    rows = [
        [d.sample, round(d.sample / fs_hz, 6), d.event, round(d.probability, 6)] for d in detections
    ]
    return atomic_write_csv(path, rows, header=["sample", "time_s", "event", "probability"])


def load_classifier(checkpoint: Path | str, device: torch.device | str = "cpu") -> LoadedRun:
    """A training run's classifier (`load_run`: checkpoint -> stored config -> model), on `device`.

    A pre-training run's weights do not fit a classifier: CheckpointError naming the file.
    """
    try:
        run = load_run(Config, checkpoint, classifier_model, map_location=str(device))
    except CheckpointError as err:
        raise CheckpointError(f"{err} (a pre-training run? evaluate a train/finetune run)") from err
    run.model.to(device)
    return run


def detect_file(
    checkpoint: Path | str,
    input_path: Path | str,
    out: Path | str | None = None,
    run_dir: Path | str | None = None,
    detect_cfg: DetectConfig | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Stream a recording through a trained classifier; write `sample,time_s,event,probability` CSV."""
    loaded = load_classifier(checkpoint, device)
    model, cfg = loaded.model, loaded.config
    d = detect_cfg or cfg.detect
    rec = load_recording(input_path, n_channels=cfg.data.n_channels, fs_hz=cfg.data.fs_hz)
    dets, timing = detect_signal(model, rec.signal, cfg.generator.window_samples, d, device)
    with RunDir.created("event-lstm", run_dir=run_dir, verb="detect", tensorboard=False) as run:
        return _write_detections(run, dets, timing, cfg, input_path, out, len(rec.signal))


def _write_detections(
    run: RunDir,
    dets: list[Any],
    timing: dict[str, Any],
    cfg: Config,
    input_path: Path | str,
    out: Path | str | None,
    n_samples: int,
) -> dict[str, Any]:
    out_path = Path(out) if out is not None else run / "events.csv"
    write_events_csv(out_path, dets, cfg.data.fs_hz)
    duration_s = n_samples / cfg.data.fs_hz
    info = {
        "input": str(input_path),
        "events_csv": str(out_path),
        "n_events": len(dets),
        "duration_s": duration_s,
        "elapsed_s": timing["elapsed_s"],
        "real_time_factor": duration_s / max(timing["elapsed_s"], 1e-9),
        "refractory_violations": count_refractory_violations(
            np.array([x.sample for x in dets]),
            np.array([x.event for x in dets]),
            cfg.model.refractory_period_samples,
        ),
    }
    run.write_json("detect.json", info)
    return info
