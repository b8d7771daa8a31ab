"""Pretrained models shipped inside a package's wheel, each with its model card.

A user who wants a score, a forecast or an embedding should not have to train first. A package ships
its models as package data, one folder per model:

    src/<module>/pretrained/<name>/model.pt    weights-only sigzoo checkpoint: model_state, config,
                                               epoch, global_step and the package's extras (e.g.
                                               normalisation statistics, a k-NN bank); no optimizer
    src/<module>/pretrained/<name>/card.md     the model card a user reads (`<pkg> pretrained show`)
    src/<module>/pretrained/<name>/card.json   the same facts for code: summary, command, data,
                                               licence, metrics..., plus size, sha256 and versions

`pack_pretrained` is the maintainer's step (from a finished run); `load_pretrained` goes through the
same `load_run` as a training run, so a shipped model is rebuilt from its stored config exactly as
`evaluate` rebuilds a run. Loading is offline and weights-only.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import re
import subprocess
from collections.abc import Callable, Mapping
from importlib.resources import files
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from sigzoo_shared.errors import CheckpointError, ConfigError
from sigzoo_shared.io import atomic_write_text, dumps_json

T = TypeVar("T")

FOLDER = "pretrained"
MODEL_FILE = "model.pt"
CARD_MD = "card.md"
CARD_JSON = "card.json"
# what a card must say before a model may ship (the model-card contents)
REQUIRED_META = ("summary", "command", "data", "licence", "metrics", "intended_use", "weaknesses")
# training-only parts of a checkpoint: large, and of no use to someone who only runs the model
TRAINING_ONLY = (
    "optimizer_state",
    "scheduler_state",
    "scaler_state",
    "rng_state",
    "callbacks",
    "manager_state",
    "memory",
    "history",
    "batches_done",
    "stopped",
    "monitor",
)


def pretrained_root(package: str) -> Path:
    """`<installed package>/pretrained` (it may not exist: a package that ships no model)."""
    try:
        return Path(str(files(package))) / FOLDER
    except ModuleNotFoundError as err:
        raise ConfigError(f"{package}: no such installed package") from err


def list_pretrained(package: str) -> list[dict[str, Any]]:
    """Every shipped model's card.json, with its `name`, sorted by name."""
    root = pretrained_root(package)
    cards = []
    for card in sorted(root.glob(f"*/{CARD_JSON}")):
        meta = json.loads(card.read_text(encoding="utf-8"))
        cards.append({"name": card.parent.name, **meta})
    return cards


def pretrained_checkpoint(package: str, name: str) -> Path:
    """The shipped `model.pt` of `name`; a ConfigError naming the available models otherwise."""
    path = pretrained_root(package) / name / MODEL_FILE
    if not path.is_file():
        names = [c["name"] for c in list_pretrained(package)]
        raise ConfigError(
            f"{package}: no pretrained model {name!r}; available: {', '.join(names) or 'none'}"
        )
    return path


def load_pretrained(
    package: str,
    name: str,
    cls: type[T],
    build_model: Callable[..., Any],
    *,
    needs_state: bool = False,
    map_location: str = "cpu",
) -> Any:
    """A shipped model as a `LoadedRun` (model in eval mode, config, state with extras, card)."""
    from sigzoo_shared.runs import load_run

    path = pretrained_checkpoint(package, name)
    loaded = load_run(cls, path, build_model, map_location=map_location, needs_state=needs_state)
    loaded.card = json.loads((path.parent / CARD_JSON).read_text(encoding="utf-8"))
    return loaded


# ------------------------------------------------------------------------------------------ packing


def _slim(state: Mapping[str, Any], half: bool) -> dict[str, Any]:
    """Drop the training-only parts; with `half`, store float weights as float16 (half the bytes).

    `load_state_dict` copies into the model's float32 parameters, so a half-stored model runs in
    float32; the rounding (~1e-3 relative) is why `half` is a choice and the card records it.
    """
    import torch

    slim = {k: v for k, v in state.items() if k not in TRAINING_ONLY and k != "format"}
    if "config" in slim:
        slim["config"] = _map_strings(slim["config"], _portable_value)
    if half:
        slim["model_state"] = {
            k: v.half() if torch.is_tensor(v) and v.is_floating_point() else v
            for k, v in slim["model_state"].items()
        }
    return slim


# a path token in card text: one or more leading "../", or an absolute path (rewritten only if it
# lies under home, temp or the project's parent, so "/usr/bin/time" in a command stays)
_PATH_TOKEN = re.compile(r"(?<![\w:/.-])(?:\.\./)+[^\s'\"`)\],;]+|(?<![\w:/.-])/[^\s'\"`)\],;]+")


def portable_path(path: str) -> str:
    """`../../lab/data/nab/x.csv` or `/home/me/data/nab/x.csv` -> `data/nab/x.csv`.

    A shipped model must not carry the maintainer's machine paths (they mean nothing on the user's
    machine and leak the maintainer's layout). What stays is the part a user can act on: the data
    set's own folder, under a relative `data/` (from the first `data` component, else the last name).
    """
    parts = [p for p in PurePosixPath(path).parts if p not in ("/", "..", ".")]
    if not parts:
        return path
    tail = parts[parts.index("data") :] if "data" in parts else ["data", parts[-1]]
    return str(PurePosixPath(*tail))


def _machine_roots() -> tuple[str, ...]:
    """Folders whose paths are this machine's own: home, temp, and the folder around the project."""
    import tempfile

    roots = {str(Path.home()), tempfile.gettempdir(), str(Path.cwd().parent)}
    return tuple(r.rstrip("/") + "/" for r in roots if r not in ("", "/"))


def _is_machine_path(value: str) -> bool:
    if value.startswith("../"):
        return True
    return value.startswith("/") and value.startswith(_machine_roots())


def _map_strings(value: Any, fn: Callable[[str], str]) -> Any:
    """`fn` applied to every string inside nested mappings and lists; other values as they are."""
    if isinstance(value, Mapping):
        return {k: _map_strings(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_strings(v, fn) for v in value]
    return fn(value) if isinstance(value, str) else value


def _portable_value(value: str) -> str:
    return portable_path(value) if _is_machine_path(value) else value


def portable_text(text: str) -> str:
    """Card text (markdown, commands) with every machine path token made portable."""

    return _PATH_TOKEN.sub(lambda match: _portable_value(match.group(0)), text)


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() or None


def pack_pretrained(
    run_or_checkpoint: Path | str,
    dest: Path | str,
    *,
    card_md: str,
    meta: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
    which: str = "best",
    half: bool = False,
    package: str | None = None,
) -> Path:
    """Write `dest/{model.pt, card.md, card.json}` from a finished run; returns `dest`.

    `meta` must hold every key of `REQUIRED_META` (a model without its card does not ship).
    `extra` entries (tensors and plain values only) are stored beside the weights for the package's
    loader. Machine paths (`../...`, absolute paths of this machine) in the stored config, the card
    and the meta strings become `data/<folder>` (`portable_path`). Each file is written atomically
    and card.json last, since it records model.pt's size and sha256: a folder whose card.json
    matches its model.pt is complete.
    """
    from sigzoo_shared.checkpoint import find_checkpoint, load_checkpoint, save_checkpoint

    meta = _map_strings(meta, portable_text)
    card_md = portable_text(card_md)
    missing = [k for k in REQUIRED_META if not meta.get(k)]
    if missing:
        raise ConfigError(f"model card meta lacks {', '.join(missing)} (needed: {REQUIRED_META})")
    source = find_checkpoint(run_or_checkpoint, which=which)  # type: ignore[arg-type]
    state = _slim(load_checkpoint(source), half)
    if extra:
        clash = sorted(set(extra) & set(state))
        if clash:
            raise ConfigError(f"pack extra keys {clash} would overwrite the checkpoint's own")
        state.update(extra)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    atomic_write_text(dest / CARD_MD, card_md if card_md.endswith("\n") else card_md + "\n")
    model_path = save_checkpoint(dest / MODEL_FILE, state)
    data = model_path.read_bytes()
    version = None
    if package is not None:
        version = getattr(importlib.import_module(package), "__version__", None)
    card = {
        **meta,
        "package": package,
        "package_version": version,
        "commit": meta.get("commit") or _git_commit(),
        "weights_dtype": "float16" if half else "float32",
        "size_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "epoch": state.get("epoch"),
    }
    atomic_write_text(dest / CARD_JSON, dumps_json(card, indent=2) + "\n")
    return dest


def verify_pretrained(package: str, name: str) -> None:
    """Check a shipped model.pt against its card's sha256 (a damaged install fails loudly)."""
    path = pretrained_checkpoint(package, name)
    card = json.loads((path.parent / CARD_JSON).read_text(encoding="utf-8"))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if card.get("sha256") != digest:
        raise CheckpointError(
            f"{path}: sha256 {digest[:12]}... differs from its card's {str(card.get('sha256'))[:12]}...;"
            " the installed model is damaged or was replaced"
        )


# ---------------------------------------------------------------------------------------------- CLI


def add_pretrained_verb(sub: Any) -> None:
    """`<pkg> pretrained list | show NAME | pack --run-dir R --name N --card F [--meta F.json]`."""
    p = sub.add_parser("pretrained", help="list, show or pack the models shipped with the package")
    verbs = p.add_subparsers(dest="pretrained_command", metavar="ACTION", required=True)
    verbs.add_parser("list", help="the shipped models, one line each")
    show = verbs.add_parser("show", help="print a shipped model's card")
    show.add_argument("name")
    pack = verbs.add_parser("pack", help="(maintainers) ship a finished run's model with its card")
    pack.add_argument("--run-dir", type=Path, required=True, help="run directory or checkpoint")
    pack.add_argument("--name", required=True, help="the model's name, e.g. toycar-embedding")
    pack.add_argument("--card", type=Path, required=True, help="the model card (markdown)")
    pack.add_argument(
        "--meta", type=Path, required=True, help=f"card facts, a JSON object with {REQUIRED_META}"
    )
    pack.add_argument("--out", type=Path, default=None, help="default: the package's own folder")
    pack.add_argument("--half", action="store_true", help="store float16 weights (half the size)")


def read_meta(path: Path) -> dict[str, Any]:
    """A card's facts file (`--meta`): a JSON object, or a ConfigError naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: not valid JSON ({err.msg}, line {err.lineno})") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object of card facts")
    return data


def dispatch_pretrained(
    args: argparse.Namespace, package: str, pack: Callable[[argparse.Namespace], Path] | None = None
) -> bool:
    """Run the `pretrained` verb for `package` (its module name); False for other verbs.

    `pack` replaces the generic `pretrained pack` for a package whose model needs more than one
    run's checkpoint (several checkpoints, normalisation, a k-NN bank): it gets the parsed
    arguments and returns the folder it wrote.
    """
    if getattr(args, "command", None) != "pretrained":
        return False
    action = args.pretrained_command
    if action == "list":
        cards = list_pretrained(package)
        if not cards:
            print(f"{package} ships no pretrained model")
        for card in cards:
            print(f"{card['name']}: {card.get('summary', '')}")
    elif action == "show":
        path = pretrained_checkpoint(package, args.name)
        print((path.parent / CARD_MD).read_text(encoding="utf-8"), end="")
    elif pack is not None:
        print(f"packed {args.run_dir} -> {pack(args)}")
    else:
        meta = read_meta(args.meta)
        dest = args.out if args.out is not None else pretrained_root(package) / args.name
        pack_pretrained(
            args.run_dir,
            dest,
            card_md=args.card.read_text(encoding="utf-8"),
            meta=meta,
            half=args.half,
            package=package,
        )
        print(f"packed {args.run_dir} -> {dest}")
    return True


__all__ = [
    "REQUIRED_META",
    "add_pretrained_verb",
    "dispatch_pretrained",
    "list_pretrained",
    "load_pretrained",
    "pack_pretrained",
    "pretrained_checkpoint",
    "pretrained_root",
    "read_meta",
    "verify_pretrained",
]
