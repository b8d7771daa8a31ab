"""Argparse pieces every package's `cli.py` shares: config file, overrides, run dir, device, errors.

A package's CLI stays a table of verbs: it adds its subparsers, each with `add_config_args`, and hands
its dispatch function to `run_main`, which sets up logging and turns a `SigzooError` into one line on
stderr and exit code 2 (no traceback: the message already says where and what).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from sigzoo_shared.config import load_config
from sigzoo_shared.errors import SigzooError
from sigzoo_shared.log import setup_logging

T = TypeVar("T")
log = logging.getLogger(__name__)

QUICK_OVERRIDES = ("train.epochs=1", "train.limit_train_batches=2", "train.limit_val_batches=2")


def add_config_args(parser: argparse.ArgumentParser, *, run_dir: bool = True) -> None:
    """--config FILE, --set KEY=VALUE (repeatable), trailing KEY=VALUE overrides, --run-dir, --device."""
    parser.add_argument(
        "--config", type=Path, default=None, help="YAML/JSON file overriding the package defaults"
    )
    parser.add_argument(
        "--set",
        dest="set_overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config value, e.g. --set train.lr=3e-4 (repeatable)",
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="more overrides, e.g. train.epochs=5 train.lr=3e-4",
    )
    if run_dir:
        parser.add_argument(
            "--run-dir",
            type=Path,
            default=None,
            help="output directory (default runs/<package>/<verb>-<time>)",
        )
    parser.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:N or mps")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 1 epoch of 2 batches (" + " ".join(QUICK_OVERRIDES) + ")",
    )


def overrides_from(args: argparse.Namespace) -> list[str]:
    """All overrides in the order given: --set first, then positional, then --device/--quick."""
    out = list(getattr(args, "set_overrides", []) or []) + list(
        getattr(args, "overrides", []) or []
    )
    if getattr(args, "device", None):
        out.append(f"train.device={args.device}")
    if getattr(args, "quick", False):
        out.extend(QUICK_OVERRIDES)
    return out


def packaged_config(package: str, name: str = "default.yaml") -> Path:
    """Path of a YAML shipped in `<package>/configs/` (package data)."""
    ref = resources.files(package) / "configs" / name
    return Path(str(ref))


def config_from_args(
    cls: type[T], args: argparse.Namespace, package: str, extra_overrides: Sequence[str] = ()
) -> T:
    """Defaults <- package configs/default.yaml <- --config <- overrides (+ `extra_overrides` first)."""
    base = packaged_config(package)
    overrides = list(extra_overrides) + overrides_from(args)
    if getattr(args, "quick", False):
        overrides.extend(quick_overrides(cls))
    return load_config(
        cls, getattr(args, "config", None), overrides, base=base if base.is_file() else None
    )


def quick_overrides(cls: type) -> list[str]:
    """`--quick` for every TrainConfig section of a config beyond `train` (e.g. a second phase)."""
    import dataclasses
    import typing

    from sigzoo_shared.config import TrainConfig

    hints = typing.get_type_hints(cls)
    sections = [
        f.name
        for f in dataclasses.fields(cls)
        if f.name != "train"
        and isinstance(hints.get(f.name), type)
        and issubclass(hints[f.name], TrainConfig)
    ]
    return [o.replace("train.", f"{name}.", 1) for name in sections for o in QUICK_OVERRIDES]


def run_main(
    dispatch: Callable[[argparse.Namespace], Any],
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None = None,
) -> int:
    """Parse, configure logging, dispatch; user errors become one line on stderr and exit code 2."""
    args = parser.parse_args(argv)
    setup_logging(getattr(args, "verbose", 0))
    if getattr(args, "command", None) is None:
        parser.print_help()
        return 2
    try:
        dispatch(args)
    except SigzooError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted; resume with --resume <run dir>", file=sys.stderr)
        return 130
    return 0


def base_parser(prog: str, description: str) -> tuple[argparse.ArgumentParser, Any]:
    """The top-level parser with -v and a `command` subparser group."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser, sub
