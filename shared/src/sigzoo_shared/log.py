"""Logging setup and the one progress bar.

Library code only calls `logging.getLogger(__name__)`; the CLI calls `setup_logging` once. The progress bar is
tqdm, switched off when stderr is not a terminal (CI logs, pipes) and on every rank but 0.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, TypeVar

from sigzoo_shared.distributed import is_rank_zero

if TYPE_CHECKING:
    from tqdm.auto import tqdm

T = TypeVar("T")


def setup_logging(verbosity: int = 0) -> None:
    """Configure the root logger for a CLI run: INFO by default, DEBUG with -v, WARNING off rank 0."""
    level = logging.DEBUG if verbosity > 0 else logging.INFO
    if not is_rank_zero():
        level = logging.WARNING
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        handlers=[_CurrentStderr()],
        force=True,
    )


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is at each record, not the one current at setup.

    A CLI called in-process (tests, notebooks, the sweep's in-process use) would otherwise keep
    writing to a stream that a test harness has since closed or replaced.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):  # noqa: ANN201
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # noqa: ANN001
        pass


def progress_enabled(enabled: bool = True) -> bool:
    """A bar is drawn only when asked for, on rank 0 and when stderr is an interactive terminal."""
    return bool(enabled and is_rank_zero() and sys.stderr.isatty())


def progress(
    iterable: Iterable[T], *, desc: str = "", total: int | None = None, enabled: bool = True
) -> tqdm:
    """Wrap an iterable in tqdm; a disabled bar costs nothing and still accepts `set_postfix`.

    tqdm is imported here, at the first bar: `tqdm.auto` is slow to import, and a command that
    never trains (`detect`, `--help`) should not pay."""
    from tqdm.auto import tqdm

    return tqdm(
        iterable,
        desc=desc,
        total=total,
        leave=False,
        dynamic_ncols=True,
        disable=not progress_enabled(enabled),
    )


class Heartbeat:
    """A log line at most every `every_s` seconds while a loop runs without a visible progress bar.

    Off a terminal (CI, a pipe, `nohup`) tqdm draws nothing, and a long first epoch would look like a
    hang; this says where the loop is instead. With a bar on screen, or `every_s <= 0`, it is silent.
    """

    def __init__(self, desc: str, total: int | None, every_s: float, bar_visible: bool) -> None:
        self.desc, self.total, self.every_s = desc, total, every_s
        self.enabled = every_s > 0 and not bar_visible and is_rank_zero()
        self.start = self.last = time.monotonic()

    def tick(self, done: int, **values: float) -> bool:
        """Log `done` of `total` batches and `values` if `every_s` passed since the last line."""
        if not self.enabled:
            return False
        now = time.monotonic()
        if now - self.last < self.every_s:
            return False
        self.last = now
        where = f"{done}/{self.total}" if self.total else str(done)
        shown = ", ".join(f"{k} {v:.4g}" for k, v in values.items())
        logging.getLogger("sigzoo_shared.trainer").info(
            "%s: batch %s%s, %.0f s",
            self.desc,
            where,
            f", {shown}" if shown else "",
            now - self.start,
        )
        return True
