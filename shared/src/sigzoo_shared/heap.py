"""Keep freed memory in the process heap while a model trains or scores on CPU (glibc only).

PyTorch's CPU tensors come from `malloc`. glibc serves every block above its mmap threshold (which grows
with use, at most 32 MB) with a fresh mapping and unmaps it on `free`, so a model whose activations are
larger than that makes the kernel map and zero them again at every step: page faults that cost CPU time
and change no number. Inside `heap_reuse` large blocks come from the heap and freed memory stays there
for the next step; leaving the outermost block restores glibc's defaults and trims the heap, so the
memory goes back to the system once training ends.
"""

from __future__ import annotations

import ctypes
import platform
from collections.abc import Iterator
from contextlib import contextmanager

# glibc's mallopt parameters (malloc.h) and their defaults, restored on leaving
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_DEFAULT_TRIM_THRESHOLD, _DEFAULT_MMAP_MAX = 128 * 1024, 65536
_depth = 0  # open blocks: only the outermost one sets and restores the parameters


def _glibc() -> ctypes.CDLL | None:
    """The running C library when it is glibc (mallopt's parameters are glibc's), else None."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    return ctypes.CDLL(None)


def heap_depth() -> int:
    """How many `heap_reuse` blocks are open (0 when glibc's defaults are in force)."""
    return _depth


@contextmanager
def heap_reuse(enabled: bool = True) -> Iterator[None]:
    """Within the block, large blocks come from the heap and freed memory stays in it.

    Allocation only: every result is bit-identical with or without it. A no-op off glibc or when not
    `enabled` (the Trainer enables it on CPU; CUDA memory has its own caching allocator). Nested blocks
    are allowed: only the outermost one acts.
    """
    global _depth
    libc = _glibc() if enabled else None
    if libc is None:
        yield
        return
    if _depth == 0:
        libc.mallopt(_M_MMAP_MAX, 0)
        libc.mallopt(_M_TRIM_THRESHOLD, -1)
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            libc.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
            libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM_THRESHOLD)
            libc.malloc_trim(0)
