"""Streaming detection over an unbounded recording: overlapping windows, state carried across chunks.

Windows of `window` samples start every `hop` samples in recording time, whatever the chunk sizes the
caller pushes (the buffer keeps the unprocessed tail), so the output does not depend on chunking. Each
window yields at most one candidate per event type; `RefractoryEnforcer` merges them across windows and
chunks: a candidate within the refractory period of a pending one of the same type replaces it only when
more probable (the original kept the earlier event whatever its probability), and a pending event is
emitted once no future window can reach it. The overlap (window - hop) must exceed an event's length, so
each event lies whole inside at least one window; the overlapping window's duplicate is merged.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sigzoo_shared import ConfigError
from torch import nn


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

    def push(self, candidates: Iterable[Detection], horizon: int | None = None) -> list[Detection]:
        """Add candidates; return the events that are final, i.e. earlier than `horizon - refractory`.

        `horizon` promises that no later candidate lies before it (the next window's start).
        """
        out: list[Detection] = []
        for c in sorted(candidates, key=lambda d: d.sample):
            p = self.pending.get(c.event)
            if p is None:
                self.pending[c.event] = c
            elif abs(c.sample - p.sample) < self.refractory:
                if c.probability > p.probability:
                    self.pending[c.event] = c
            else:
                out.append(p)
                self.pending[c.event] = c
        if horizon is not None:
            for e, p in list(self.pending.items()):
                if p.sample + self.refractory <= horizon:
                    out.append(self.pending.pop(e))
        return sorted(out, key=lambda d: (d.sample, d.event))

    def flush(self) -> list[Detection]:
        out = sorted(self.pending.values(), key=lambda d: (d.sample, d.event))
        self.pending.clear()
        return out


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
            xs.append(np.pad(seg, ((0, self.window - len(seg)), (0, 0))))
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
        drop = self.next_window - self.buffer_start
        if drop > 0:
            self.buffer = self.buffer[drop:]
            self.buffer_start = self.next_window
        return out

    def flush(self) -> list[Detection]:
        """Cover the recording's tail with one last window ending at the last sample, then emit all."""
        out: list[Detection] = []
        covered = self.next_window - self.hop + self.window if self.next_window > 0 else 0
        if self.buffer is not None and self.n_seen > covered:
            start = max(0, self.n_seen - self.window)
            if start < self.buffer_start:  # keep the tail window inside what the buffer still holds
                start = self.buffer_start
            n = self.n_seen - start
            out += self.enforcer.push(self._run([start], [n] if n < self.window else None))
        return sorted(out + self.enforcer.flush(), key=lambda d: (d.sample, d.event))


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
    det = StreamingDetector(model, window, hop, threshold, timing, device=device)
    t0 = time.perf_counter()
    out: list[Detection] = []
    with torch.inference_mode():
        for i in range(0, len(signal), chunk_samples):
            out += det.push(signal[i : i + chunk_samples])
        out += det.flush()
    elapsed = time.perf_counter() - t0
    return out, {"elapsed_s": elapsed, "raw_candidates": det.raw_candidates}


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
