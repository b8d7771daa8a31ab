"""Argparse pieces every package's `cli.py` shares: config file, overrides, run dir, device, errors.

A package's CLI stays a table of verbs: it adds its subparsers, each with `add_config_args`, and hands
its dispatch function to `run_main`, which sets up logging and turns a `SigzooError` into one line on
stderr and exit code 2 (no traceback: the message already says where and what).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import os
import re
import sys
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from sigzoo_shared.config import load_config
from sigzoo_shared.errors import ConfigError, SigzooError
from sigzoo_shared.log import setup_logging

T = TypeVar("T")
log = logging.getLogger(__name__)

QUICK_OVERRIDES = ("train.epochs=1", "train.limit_train_batches=2", "train.limit_val_batches=2")


def add_config_args(parser: argparse.ArgumentParser, *, run_dir: bool = True) -> None:
    """--config FILE, --set KEY=VALUE (repeatable), trailing KEY=VALUE overrides, --run-dir, --device."""
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="YAML/JSON file overriding the package defaults, or the name of a config shipped "
        "with the package (e.g. seed: see its configs/ folder)",
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


def user_overrides(args: argparse.Namespace) -> list[str]:
    """What the user typed, in order: --set first, then KEY=VALUE, then --device."""
    out = list(getattr(args, "set_overrides", []) or []) + list(
        getattr(args, "overrides", []) or []
    )
    if getattr(args, "device", None):
        out.append(f"train.device={args.device}")
    return out


def quick_list(cls: type | None, args: argparse.Namespace) -> list[str]:
    """`--quick`'s overrides for `train` and every other TrainConfig section of `cls` ([] without it)."""
    if not getattr(args, "quick", False):
        return []
    return list(QUICK_OVERRIDES) + (quick_overrides(cls) if cls is not None else [])


def overrides_from(args: argparse.Namespace) -> list[str]:
    """Every override in the order to apply: --quick's first, then the user's (which thus win).

    Without the config class only the `train` section gets --quick's limits; `config_from_args` also
    limits a package's other TrainConfig sections.
    """
    return quick_list(None, args) + user_overrides(args)


def packaged_config(package: str, name: str = "default.yaml") -> Path:
    """Path of a YAML shipped in `<package>/configs/` (package data)."""
    ref = resources.files(package) / "configs" / name
    return Path(str(ref))


def shipped_config(package: str, given: Path | str | None) -> Path | None:
    """`--config NAME` as a config shipped in `<package>/configs/`, when no file NAME exists here.

    A documented command such as `--config seed` then works from any folder; a file the user has
    in the current folder always wins, so nothing they wrote is shadowed by a packaged name.
    """
    if given is None:
        return None
    path = Path(given)
    if path.exists() or path.parent != Path("."):
        return path
    names = {".yaml": [path.name], "": [f"{path.name}.yaml"]}.get(path.suffix, [])
    shipped = [packaged_config(package, n) for n in names]
    return next((p for p in shipped if p.is_file()), path)


def config_from_args(
    cls: type[T], args: argparse.Namespace, package: str, extra_overrides: Sequence[str] = ()
) -> T:
    """Defaults <- package configs/default.yaml <- --config <- --quick <- overrides.

    `--quick` goes before the user's KEY=VALUE overrides, so it fills only keys the user did not type,
    and an invalid value the user typed is still validated (and reported) instead of being overwritten.
    `extra_overrides` (a verb's own settings) go first of all.
    """
    base = packaged_config(package)
    overrides = list(extra_overrides) + quick_list(cls, args) + user_overrides(args)
    given = shipped_config(package, getattr(args, "config", None))
    return load_config(cls, given, overrides, base=base if base.is_file() else None)


def quick_overrides(cls: type) -> list[str]:
    """`--quick` for every TrainConfig section of a config beyond the top-level `train`, at any depth
    (a second phase `lstm`, or a forecaster's `forecast.train`)."""
    return [
        o.replace("train.", f"{path}.", 1)
        for path in _train_sections(cls, "")
        if path != "train"
        for o in QUICK_OVERRIDES
    ]


def _train_sections(cls: type, prefix: str) -> list[str]:
    import dataclasses
    import typing

    from sigzoo_shared.config import TrainConfig

    found = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints.get(f.name)
        if not isinstance(tp, type):
            continue
        if issubclass(tp, TrainConfig):
            found.append(f"{prefix}{f.name}")
        elif dataclasses.is_dataclass(tp):
            found += _train_sections(tp, f"{prefix}{f.name}.")
    return found


def run_main(
    dispatch: Callable[[argparse.Namespace], Any],
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None = None,
) -> int:
    """Parse, configure logging, dispatch; every expected failure becomes one line on stderr.

    A `SigzooError` (bad input) exits 2, an `OSError` (disk full, read-only, permission, a file where a
    folder belongs) exits 1 naming the path; both without a traceback, since the line says where and
    what. Under torchrun only rank 0 prints to stdout, so a final summary appears once.
    """
    args = parse_args(parser, argv)
    setup_logging(getattr(args, "verbose", 0))
    if getattr(args, "command", None) is None:
        parser.print_help()
        return 2
    try:
        with contextlib.ExitStack() as stack:
            if os.environ.get("RANK", "0") not in ("", "0"):  # torchrun rank > 0: rank 0 reports
                stack.enter_context(contextlib.redirect_stdout(stack.enter_context(_devnull())))
            dispatch(args)
    except SigzooError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"{parser.prog}: error: {describe_os_error(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted; resume with --resume <run dir>", file=sys.stderr)
        return 130
    return 0


def _devnull() -> Any:
    return open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (closed by the caller's ExitStack)


_OVERRIDE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+=")


def parse_args(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None = None
) -> argparse.Namespace:
    """`parse_args`, but KEY=VALUE overrides are accepted anywhere, also after options.

    argparse fills a `nargs="*"` positional from one run of tokens only; a second run after an option
    (`train a.b=1 --run-dir r c.d=2`) would be "unrecognized". Such tokens join `args.overrides`.
    """
    args, extra = parser.parse_known_args(argv)
    stray = [tok for tok in extra if not _OVERRIDE.match(tok)]
    if stray or (extra and not hasattr(args, "overrides")):
        parser.error(f"unrecognized arguments: {' '.join(stray or extra)}")
    if extra:
        args.overrides = list(args.overrides or []) + extra
    return args


_OS_ADVICE = {
    errno.ENOSPC: "no space left on the device (free some, or write elsewhere with --run-dir)",
    errno.EROFS: "read-only file system (choose a writable --run-dir)",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EEXIST: "already exists",
    errno.ENOTDIR: "a part of this path is a file, not a directory",
    errno.EISDIR: "is a directory, expected a file",
    errno.ENOENT: "no such file or directory",
    errno.EDQUOT: "disk quota exceeded",
}


def describe_os_error(err: OSError) -> str:
    """`<path>: <what happened>` for an OSError, naming both paths of a failed rename."""
    what = _OS_ADVICE.get(err.errno or -1) or err.strerror or str(err)
    where = " -> ".join(str(p) for p in (err.filename, err.filename2) if p is not None)
    return f"{where}: {what}" if where else what


def add_config_verb(sub: Any) -> None:
    """`<pkg> config [--config F] [KEY=VALUE ...] [--run-dir R]`: print the full effective config.

    Every key with its value, after defaults, the shipped default.yaml, the user's file and overrides,
    so a user sees what can be set before training; with --run-dir, the config a run was made with.
    """
    p = sub.add_parser("config", help="print the full effective config (every key that can be set)")
    add_config_args(p, run_dir=False)
    p.add_argument(
        "--show", action="store_true", help="print the config (the default; kept for scripts)"
    )
    p.add_argument(
        "--run-dir", type=Path, default=None, help="print the config stored in this run instead"
    )


def dispatch_config(args: argparse.Namespace, cls: type[T], package: str) -> bool:
    """Handle the `config` verb for `package`'s `cls`; False when `args.command` is another verb."""
    if args.command != "config":
        return False
    from sigzoo_shared.config import config_yaml

    if args.run_dir is not None:
        stored = Path(args.run_dir) / "config.yaml"
        if not stored.is_file():
            raise ConfigError(f"{stored}: not found; --run-dir must name a run directory")
        cfg = load_config(cls, stored, user_overrides(args))
    else:
        cfg = config_from_args(cls, args, package)
    print(config_yaml(cfg), end="")
    return True


def add_common_verbs(sub: Any) -> None:
    """The verbs every package has beside its own: `config`, `sweep`, `summarize`, `pretrained`."""
    from sigzoo_shared.pretrained import add_pretrained_verb
    from sigzoo_shared.sweep import add_sweep_verbs

    add_config_verb(sub)
    add_sweep_verbs(sub)
    add_pretrained_verb(sub)


def dispatch_common(
    args: argparse.Namespace,
    cls: type,
    package: str,
    pack: Callable[[argparse.Namespace], Path] | None = None,
) -> bool:
    """Run a common verb for `package` (its module name) and `cls` (its Config); False otherwise.

    `pack`: the package's own `pretrained pack` (see `sigzoo_shared.pretrained.dispatch_pretrained`).
    """
    from sigzoo_shared.pretrained import dispatch_pretrained
    from sigzoo_shared.sweep import dispatch_sweep

    return (
        dispatch_config(args, cls, package)
        or dispatch_sweep(args, package)
        or dispatch_pretrained(args, package, pack)
    )


def base_parser(prog: str, description: str) -> tuple[argparse.ArgumentParser, Any]:
    """The top-level parser with -v and a `command` subparser group."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser, sub
