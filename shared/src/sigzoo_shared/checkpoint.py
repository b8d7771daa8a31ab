"""Checkpoints: atomic saves, safe loads, last/best/top-k bookkeeping and the RNG state for exact resume.

Only this module reads or writes checkpoint files. Loading always goes through
`torch.load(weights_only=True)`, which unpickles tensors and plain containers only: a foreign or malicious
file raises `CheckpointError` instead of executing code. RNG states are therefore stored as tensors and
plain Python values, never as numpy objects.
"""

from __future__ import annotations

import io
import logging
import pickle
import random
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from sigzoo_shared.errors import CheckpointError
from sigzoo_shared.io import atomic_write_bytes

log = logging.getLogger(__name__)

FORMAT = "sigzoo-checkpoint/1"
LAST = "last.pt"
BEST = "best.pt"


# ------------------------------------------------------------------------------------------- RNG state


def capture_rng_state() -> dict[str, Any]:
    """python, numpy, torch CPU and every CUDA generator, as weights_only-loadable values."""
    py_version, py_state, py_gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state: dict[str, Any] = {
        "python": [py_version, list(py_state), py_gauss],
        "numpy": [
            np_name,
            torch.from_numpy(np_keys.astype(np.int64)),
            int(np_pos),
            int(np_has_gauss),
            float(np_gauss),
        ],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    py_version, py_state, py_gauss = state["python"]
    random.setstate((py_version, tuple(py_state), py_gauss))
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = state["numpy"]
    np.random.set_state(
        (np_name, np_keys.numpy().astype(np.uint32), np_pos, np_has_gauss, np_gauss)
    )
    torch.set_rng_state(state["torch"])
    if (
        "cuda" in state
        and torch.cuda.is_available()
        and len(state["cuda"]) == torch.cuda.device_count()
    ):
        torch.cuda.set_rng_state_all(state["cuda"])


# ---------------------------------------------------------------------------------------- save / load


def _serialize(state: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buf)
    return buf.getvalue()


def save_checkpoint(path: Path | str, state: dict[str, Any]) -> Path:
    """Write `state` (must hold `model_state`) atomically; returns the path."""
    if "model_state" not in state:
        raise CheckpointError(f"{path}: refusing to save a checkpoint without 'model_state'")
    return atomic_write_bytes(path, _serialize(state))


def load_checkpoint(path: Path | str, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a sigzoo checkpoint safely; every failure is a `CheckpointError` naming the file."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(
            f"{path}: is a directory; pass a checkpoint file (e.g. {path / BEST})"
        )
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint not found")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: checkpoint file is empty")
    state = _safe_torch_load(path, map_location)
    if not isinstance(state, dict) or state.get("format") != FORMAT or "model_state" not in state:
        raise CheckpointError(
            f"{path}: not a sigzoo checkpoint (no '{FORMAT}' format tag or no "
            "'model_state'); refusing to load it"
        )
    return state


def _safe_torch_load(path: Path, map_location: str | torch.device) -> Any:
    """`torch.load(weights_only=True)` whose every failure names the file and says which kind it is.

    Three kinds need different advice: bytes that are no checkpoint at all (corrupt, truncated, another
    format), a pickle that is not a torch file, and a real torch file holding arbitrary Python objects,
    which `weights_only` refuses to run (possibly someone else's full-model pickle, possibly hostile).
    """
    if not zipfile.is_zipfile(path) and not _looks_like_pickle(path):
        raise CheckpointError(
            f"{path}: corrupt or truncated checkpoint (neither a torch zip archive nor a pickle; "
            "an incomplete copy, or another kind of file?)"
        )
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        text = str(err)
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
        if found:
            raise CheckpointError(
                f"{path}: refusing to load: it holds Python objects ({found.group(1)}) besides "
                "tensors and plain containers, which weights_only=True does not execute; "
                "save a state_dict instead"
            ) from err
        raise CheckpointError(
            f"{path}: corrupt or not a torch checkpoint ({_first_line(text)})"
        ) from err
    except (
        RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError, IndexError, KeyError
    ) as err:  # fmt: skip
        raise CheckpointError(
            f"{path}: corrupt or truncated checkpoint ({_first_line(str(err))})"
        ) from err


def _looks_like_pickle(path: Path) -> bool:
    """A pickle of protocol 2+ starts with the PROTO opcode (0x80) and its version byte."""
    with path.open("rb") as fh:
        head = fh.read(2)
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "no details"


def remove_stale_temps(directory: Path | str) -> list[Path]:
    """Delete the hidden temp files a kill during an atomic save left behind (`.last.pt.*.tmp`).

    Only one process writes a run's checkpoints, so any such file at the start of a save or resume is
    an orphan; they can be as large as a checkpoint, and nothing else would ever remove them.
    """
    removed = []
    for tmp in Path(directory).glob(".*.pt.*.tmp"):
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    if removed:
        log.info("removed %d stale temp file(s) in %s", len(removed), directory)
    return removed


def load_state_dict(
    path: Path | str, map_location: str | torch.device = "cpu"
) -> dict[str, torch.Tensor]:
    """Model weights from a sigzoo checkpoint or from a bare `state_dict` file (e.g. another project's).

    Both are read with weights_only=True.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: weights file not found")
    obj = _safe_torch_load(path, map_location)
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        return obj["model_state"]
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj
    raise CheckpointError(f"{path}: neither a sigzoo checkpoint nor a state_dict of tensors")


def load_weights(model: torch.nn.Module, path: Path | str, strict: bool = True) -> dict[str, Any]:
    """Load the model weights of a checkpoint into `model`; returns the whole checkpoint dict.

    Shape or key mismatches become a `CheckpointError` that names the file (typically: a checkpoint of
    another model variant or config).
    """
    state = load_checkpoint(path)
    try:
        model.load_state_dict(state["model_state"], strict=strict)
    except RuntimeError as err:
        raise CheckpointError(
            f"{path}: weights do not fit this model (different config?): "
            f"{str(err).splitlines()[0]} ..."
        ) from err
    return state


# ---------------------------------------------------------------------------------- last / best / top-k


def _better(a: float, b: float, mode: Literal["min", "max"], min_delta: float = 0.0) -> bool:
    return a < b - min_delta if mode == "min" else a > b + min_delta


@dataclass
class CheckpointManager:
    """Keeps `last.pt`, `best.pt` and the `top_k` best epoch files in one directory.

    Top-k bookkeeping travels inside each checkpoint (`manager_state`), so a resumed run prunes the same
    files an uninterrupted run would.
    """

    directory: Path
    monitor: str = "val_loss"
    mode: Literal["min", "max"] = "min"
    top_k: int = 1
    best: float | None = None
    kept: list[tuple[float, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.directory = Path(self.directory)

    def is_improvement(self, value: float | None) -> bool:
        return value is not None and (self.best is None or _better(value, self.best, self.mode))

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "kept": [[m, n] for m, n in self.kept]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state.get("best")
        self.kept = [(float(m), str(n)) for m, n in state.get("kept", [])]

    def save(self, state: dict[str, Any], epoch: int, metric: float | None) -> dict[str, Path]:
        """Write last.pt always; best.pt and a top-k file when `metric` qualifies. Returns what was written."""
        written: dict[str, Path] = {}
        improved = self.is_improvement(metric)
        if improved:
            self.best = metric
        name = (
            f"epoch={epoch:04d}-{_slug(self.monitor)}={metric:.6g}.pt"
            if metric is not None
            else None
        )
        enters_top_k = (
            name is not None
            and self.top_k > 0
            and (len(self.kept) < self.top_k or _better(metric, self._worst()[0], self.mode))
        )
        if enters_top_k:
            self.kept.append((float(metric), name))
        pruned = self._prune()
        state = {**state, "manager_state": self.state_dict(), "best_metric": self.best}
        blob = _serialize(state)
        remove_stale_temps(self.directory)
        written["last"] = atomic_write_bytes(self.directory / LAST, blob)
        if improved:
            written["best"] = atomic_write_bytes(self.directory / BEST, blob)
        if enters_top_k and name not in pruned:
            written["top_k"] = atomic_write_bytes(self.directory / name, blob)
        for old in pruned:
            (self.directory / old).unlink(missing_ok=True)
        return written

    def save_last(self, state: dict[str, Any]) -> Path:
        """Refresh last.pt only (a mid-epoch checkpoint: no metric to rank it by)."""
        state = {**state, "manager_state": self.state_dict(), "best_metric": self.best}
        remove_stale_temps(self.directory)
        return atomic_write_bytes(self.directory / LAST, _serialize(state))

    def _worst(self) -> tuple[float, str]:
        return max(self.kept) if self.mode == "min" else min(self.kept)

    def _prune(self) -> list[str]:
        pruned = []
        while len(self.kept) > self.top_k:
            worst = self._worst()
            self.kept.remove(worst)
            pruned.append(worst[1])
        return pruned


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def find_checkpoint(run_or_file: Path | str, which: Literal["best", "last"] = "best") -> Path:
    """Resolve a run directory (or its checkpoints/ folder, or a file) to a checkpoint file.

    `best` falls back to `last` (with a warning) when a run never had a validation metric.
    """
    path = Path(run_or_file)
    if path.is_file():
        return path
    for folder in (path / "checkpoints", path):
        for name in (BEST, LAST) if which == "best" else (LAST,):
            candidate = folder / name
            if candidate.is_file():
                if which == "best" and name == LAST:
                    log.warning("%s: no best.pt, using last.pt", folder)
                return candidate
    raise CheckpointError(
        f"{path}: no checkpoint found (expected checkpoints/{BEST} or checkpoints/{LAST})"
    )
