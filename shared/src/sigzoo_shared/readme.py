"""Run the Python examples of a README, so the code users copy is code that works.

Each package's README has a "From Python" section; its ```python blocks are what a user pastes first.
A package test calls `run_python_blocks` on it: every block runs, in order and in one namespace (later
blocks use earlier names, as in a user's session), in a scratch directory. A failing block is reported
with the README's file name and line, and a section without any block is an error, so the test cannot
pass by finding nothing.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^(```+|~~~+)\s*([A-Za-z0-9_+-]*)")


def python_blocks(readme: Path | str, section: str = "From Python") -> list[tuple[int, str]]:
    """(first code line number, code) of every ```python block under the heading `section`.

    The section runs from its heading to the next heading of the same or a higher level; fenced
    blocks are skipped when looking for headings, so a `# comment` inside code ends nothing.
    """
    path = Path(readme)
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[tuple[int, str]] = []
    level: int | None = None
    fence: str | None = None
    language = ""
    body: list[str] = []
    start = 0
    for number, line in enumerate(lines, start=1):
        if fence is not None:
            if line.strip().startswith(fence):
                if level is not None and language in ("python", "py", "python3"):
                    blocks.append((start, "\n".join(body) + "\n"))
                fence = None
            else:
                body.append(line)
            continue
        opened = _FENCE.match(line.strip())
        if opened:
            fence, language, body, start = opened.group(1), opened.group(2).lower(), [], number + 1
            continue
        heading = _HEADING.match(line)
        if heading:
            depth = len(heading.group(1))
            if level is not None and depth <= level:
                break
            if level is None and heading.group(2).strip() == section:
                level = depth
    if level is None:
        raise ValueError(f"{path}: no heading {section!r}")
    if not blocks:
        raise ValueError(f"{path}: section {section!r} holds no ```python block")
    return blocks


def run_python_blocks(
    readme: Path | str, section: str = "From Python", cwd: Path | str | None = None
) -> dict[str, Any]:
    """Execute the section's blocks in order in one namespace (in `cwd` when given); return it."""
    namespace: dict[str, Any] = {"__name__": "__readme__"}
    previous = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        for line, code in python_blocks(readme, section):
            # compiled with the README's name and padded to its line, so a traceback points there
            compiled = compile("\n" * (line - 1) + code, str(readme), "exec")
            try:
                exec(compiled, namespace)  # noqa: S102 - running the README's own examples is the point
            except Exception as err:
                raise AssertionError(
                    f"{readme}:{line}: the example block failed: {type(err).__name__}: {err}"
                ) from err
    finally:
        os.chdir(previous)
    return namespace


__all__ = ["python_blocks", "run_python_blocks"]
