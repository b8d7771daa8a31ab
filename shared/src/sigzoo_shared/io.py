"""Atomic file writes: a temp file in the same directory, flushed and fsynced, then renamed over the target.

A crash (or a kill) leaves either the old file or the new one, never a half-written result or checkpoint.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp makes its file 0600; a result, a figure or a model shipped in a wheel must be readable
# by whoever the user's umask lets read new files, as with a plain open()
_FILE_MODE = 0o666 & ~_umask()


def atomic_write(path: Path | str, write: Callable[[IO[bytes]], None]) -> Path:
    """Call `write(fileobj)` on a temp file beside `path`, fsync it, then `os.replace` it onto `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        if err.filename is None:  # a failed write/fsync (e.g. disk full) names no file: name ours
            raise OSError(err.errno, err.strerror, str(path)) from err
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path | str, data: bytes) -> Path:
    return atomic_write(path, lambda fh: fh.write(data))


def atomic_write_text(path: Path | str, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path | str, obj: Any) -> Path:
    return atomic_write_text(path, dumps_json(obj, indent=2) + "\n")


def dumps_json(obj: Any, indent: int | None = None) -> str:
    """Strict JSON: NaN and infinities become null, numpy values and Paths plain values.

    `json.dumps` writes bare `NaN`, which no JSON parser but Python's accepts; a diverged epoch's loss
    must not make metrics.jsonl or results.json unreadable for jq, pandas or a browser.
    """
    return json.dumps(json_safe(obj), indent=indent, allow_nan=False)


def json_safe(obj: Any) -> Any:
    """`obj` with non-finite floats as None and numpy scalars/arrays, tuples and Paths as JSON values."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return json_safe(_json_default(obj))


def atomic_write_csv(
    path: Path | str,
    rows: Iterable[Mapping[str, Any]] | Iterable[Sequence[Any]],
    header: Sequence[str] | None = None,
) -> Path:
    """Rows as dicts (header from the first row unless given) or as sequences (header required)."""
    buf = io.StringIO()
    rows = list(rows)
    if rows and isinstance(rows[0], Mapping):
        fieldnames = list(header or rows[0].keys())
        writer = csv.DictWriter(buf, fieldnames=fieldnames, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)  # type: ignore[arg-type]
    else:
        writer_ = csv.writer(buf, lineterminator="\n")
        if header:
            writer_.writerow(header)
        writer_.writerows(rows)  # type: ignore[arg-type]
    return atomic_write_text(path, buf.getvalue())


def _json_default(obj: Any) -> Any:
    """numpy scalars/arrays and Paths in results are common; make them JSON."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
