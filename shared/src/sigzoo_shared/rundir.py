"""The run directory: `runs/<package>/<run-name>/` holds everything one run produced.

    config.yaml       the effective config (defaults + files + overrides)
    metrics.jsonl     one JSON line per epoch (and per evaluation)
    events.out.tfevents.*   TensorBoard scalars, images, embeddings
    checkpoints/      last.pt, best.pt, top-k
    figures/          PNGs written by callbacks and reports
    results.*         tables written by evaluate/test/report

Only rank 0 writes; other ranks get a RunDir whose writes are no-ops, so package code never checks ranks.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sigzoo_shared.config import save_config, to_dict
from sigzoo_shared.distributed import broadcast_object, is_rank_zero
from sigzoo_shared.errors import CheckpointError, ConfigError, DataError
from sigzoo_shared.io import atomic_write_csv, atomic_write_json, atomic_write_text, dumps_json

log = logging.getLogger(__name__)


def default_runs_root() -> Path:
    """`runs/` in the current directory, or `$SIGZOO_RUNS_DIR`."""
    return Path(os.environ.get("SIGZOO_RUNS_DIR", "runs"))


def _outermost_missing(path: Path) -> Path | None:
    """The outermost directory on `path` that does not exist yet: what creating `path` adds."""
    missing = None
    for p in (path, *path.parents):
        if p.exists():
            break
        missing = p
    return missing


class RunDir:
    """A run directory with rank-0-only writers; cheap to create, TensorBoard opened on first use."""

    def __init__(self, path: Path | str, *, tensorboard: bool = True) -> None:
        self.path = Path(path)
        self.write_enabled = is_rank_zero()
        self.use_tensorboard = tensorboard
        self._writer: Any = None
        if self.path.exists() and not self.path.is_dir():
            raise ConfigError(
                f"{self.path}: exists and is a file; a run directory must be a folder"
            )
        if self.write_enabled:
            self.path.mkdir(parents=True, exist_ok=True)
            self.checkpoints.mkdir(exist_ok=True)
            self.figures.mkdir(exist_ok=True)

    # ------------------------------------------------------------------------------------ creation
    @classmethod
    def create(
        cls,
        package: str,
        *,
        run_dir: Path | str | None = None,
        name: str | None = None,
        verb: str = "train",
        root: Path | str | None = None,
        tensorboard: bool = True,
    ) -> RunDir:
        """`run_dir` if given, else `<root>/<package>/<name or verb-YYYYmmdd-HHMMSS>` (unique)."""
        if run_dir is None:
            base = Path(root) if root is not None else default_runs_root()
            stem = name or f"{verb}-{time.strftime('%Y%m%d-%H%M%S')}"
            candidate = base / package / stem
            suffix = 1
            while candidate.exists() and name is None:
                suffix += 1
                candidate = base / package / f"{stem}-{suffix}"
            run_dir = candidate
        run_dir = broadcast_object(str(run_dir))  # every rank agrees on rank 0's choice
        return cls(run_dir, tensorboard=tensorboard)

    @classmethod
    @contextlib.contextmanager
    def created(
        cls, package: str, *, run_dir: Path | str | None = None, verb: str = "train", **kwargs: Any
    ) -> Iterator[RunDir]:
        """`create`, but a ConfigError/DataError/CheckpointError inside the block removes what the
        creation added.

        A bad input then leaves no half-made run behind; a folder that existed before is never removed.
        """
        added = _outermost_missing(
            Path(run_dir) if run_dir is not None else default_runs_root() / package
        )
        run = cls.create(package, run_dir=run_dir, verb=verb, **kwargs)
        if run_dir is None and added is None:
            added = run.path  # a fresh <root>/<package>/<verb>-<time> folder
        try:
            yield run
        except (ConfigError, DataError, CheckpointError):
            run.close()
            if added is not None and run.write_enabled:
                shutil.rmtree(added, ignore_errors=True)
                log.debug("removed %s (the run stopped on an input error)", added)
            raise

    # ------------------------------------------------------------------------------------- layout
    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def figures(self) -> Path:
        return self.path / "figures"

    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    def __truediv__(self, other: str) -> Path:
        return self.path / other

    def __fspath__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # ------------------------------------------------------------------------------------- writers
    def save_config(self, cfg: Any) -> None:
        if self.write_enabled:
            save_config(cfg, self.config_path)

    def log_metrics(self, record: dict[str, Any]) -> None:
        """Append one JSON line to metrics.jsonl."""
        if not self.write_enabled:
            return
        with self.metrics_path.open("a", encoding="utf-8") as fh:
            fh.write(dumps_json(to_dict(record)) + "\n")

    def read_metrics(self) -> list[dict[str, Any]]:
        if not self.metrics_path.exists():
            return []
        lines = [
            ln for ln in self.metrics_path.read_text(encoding="utf-8").splitlines() if ln.strip()
        ]
        rows = []
        for i, line in enumerate(lines):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                if (
                    i == len(lines) - 1
                ):  # a kill during the last append: that epoch is re-run anyway
                    log.warning("%s: ignoring a truncated last line", self.metrics_path)
                    break
                raise DataError(f"{self.metrics_path}: line {i + 1} is not JSON ({err})") from err
        return rows

    def truncate_metrics(self, last_epoch: int) -> None:
        """On resume, drop lines of epochs after the checkpoint so the history is not duplicated."""
        if not self.write_enabled or not self.metrics_path.exists():
            return
        keep = [r for r in self.read_metrics() if r.get("epoch", -1) <= last_epoch]
        atomic_write_text(self.metrics_path, "".join(dumps_json(r) + "\n" for r in keep))

    @property
    def writer(self) -> Any:
        """A TensorBoard SummaryWriter (None off rank 0 or when disabled)."""
        if self._writer is None and self.write_enabled and self.use_tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=str(self.path))
        return self._writer

    def add_scalars(self, values: dict[str, float], step: int) -> None:
        if self.writer is not None:
            for key, value in values.items():
                if isinstance(value, (int, float)):
                    self.writer.add_scalar(
                        key.replace("_", "/", 1) if "/" not in key else key, value, step
                    )

    def save_figure(self, fig: Any, name: str, step: int | None = None) -> Path:
        """Save a matplotlib Figure to figures/<name>.png and, with a step, as a TensorBoard image."""
        path = self.figures / (name if name.endswith(".png") else f"{name}.png")
        if self.write_enabled:
            path.parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(path, dpi=100, bbox_inches="tight")
            if step is not None and self.writer is not None:
                self.writer.add_figure(Path(name).stem, fig, global_step=step, close=False)
        _close(fig)
        return path

    def write_json(self, name: str, obj: Any) -> Path:
        path = self.path / name
        if self.write_enabled:
            atomic_write_json(path, obj)
        return path

    def write_text(self, name: str, text: str) -> Path:
        path = self.path / name
        if self.write_enabled:
            atomic_write_text(path, text)
        return path

    def write_csv(self, name: str, rows: Any, header: Any = None) -> Path:
        path = self.path / name
        if self.write_enabled:
            atomic_write_csv(path, rows, header)
        return path

    def close(self) -> None:
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()
            self._writer = None


def _close(fig: Any) -> None:
    try:
        import matplotlib.pyplot as plt

        plt.close(fig)
    except ImportError:  # a Figure made with the object API needs no pyplot
        pass
