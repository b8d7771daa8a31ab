"""A finished or interrupted run, used again: resume it under one policy, or load its model.

Every package resumes and reloads runs the same way, so the rules live here once:

* **Resume: the stored config wins.** `<pkg> train --resume R` rebuilds the config from `R/config.yaml`.
  An override may change only keys that cannot change the model or what was already trained (more
  epochs, another device, worker count, logging), plus the package's own `changeable` keys (e.g. a
  data path that moved). Any other key, and `--config`, is a `ConfigError` naming the key: silently
  training half a run with one learning rate and half with another is what this prevents.
* **The checkpoint is checked before anything expensive.** `resume_config` opens `last.pt` (corrupt,
  foreign, missing: one line) before the caller loads data or builds a model.
* **Load a run** (`load_run`): checkpoint -> the config stored in it (else the run's config.yaml) ->
  the package's `build_model(cfg)` -> weights, in eval mode. One function for every package.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from sigzoo_shared.config import (
    from_dict,
    load_config,
    merge,
    parse_overrides,
    read_yaml,
    to_dict,
)
from sigzoo_shared.errors import CheckpointError, ConfigError

T = TypeVar("T")
log = logging.getLogger(__name__)

CONFIG_FILE = "config.yaml"

# Keys that change neither the architecture nor what the finished epochs computed.
RESUMABLE_KEYS: tuple[str, ...] = (
    "*.epochs",
    "*.max_steps",
    "*.device",
    "*.num_workers",
    "*.progress",
    "*.progress_every_s",
    "*.log_every_n_steps",
    "*.checkpoint_every_n_epochs",
    "*.checkpoint_every_n_steps",
    "*.limit_val_batches",
)


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def stored_config_path(run_dir: Path | str) -> Path:
    """`<run>/config.yaml`, or a CheckpointError saying the folder is no run."""
    run = Path(run_dir)
    if not run.is_dir():
        raise CheckpointError(f"{run}: run directory not found")
    path = run / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{path}: not found; {run} is not a run directory made by `train`")
    return path


def check_resumable(run_dir: Path | str) -> Path:
    """The run's `last.pt`, opened and validated now (cheap next to loading a data set)."""
    from sigzoo_shared.checkpoint import find_checkpoint, load_checkpoint

    stored_config_path(run_dir)
    path = find_checkpoint(run_dir, which="last")
    load_checkpoint(path)
    return path


def stored_overrides(
    cls: type[T],
    stored: Any,
    overrides: Sequence[str] = (),
    *,
    config_file: Path | str | None = None,
    allowed: Iterable[str] = (),
    action: str = "evaluate",
) -> T:
    """A run's stored config (it built the model, so it wins) plus the user's changes to `allowed` keys.

    `action` ("evaluate", "resume", ...) names what is refused. `stored` is a config object or the path of a stored config.yaml. `allowed` holds glob patterns of
    keys that may differ (e.g. `data.data_dir`, `*train.device`); any other key whose value would
    change is a ConfigError naming the key, the stored and the given value and what may change. A
    file or override that repeats the stored values is accepted: scripts often pass the same line again.
    Values are compared after parsing, so `epochs=5` and `epochs: 5` are the same value.
    """
    doing = {"evaluate": "evaluating", "resume": "resuming"}.get(action, action)
    source = str(stored) if isinstance(stored, (str, Path)) else "stored config"
    base = to_dict(load_config(cls, stored) if isinstance(stored, (str, Path)) else stored)
    user: dict[str, Any] = read_yaml(config_file) if config_file is not None else {}
    user = merge(user, parse_overrides(list(overrides)))
    if not user:
        return from_dict(cls, base, source=source)
    candidate = from_dict(cls, merge(base, user), source=str(config_file or "overrides"))
    old, new = _flatten(base), _flatten(to_dict(candidate))
    allowed = tuple(allowed)
    refused = [
        f"{key} (stored {old.get(key)!r}, given {value!r})"
        for key, value in new.items()
        if value != old.get(key) and not any(fnmatch.fnmatchcase(key, p) for p in allowed)
    ]
    if refused:
        raise ConfigError(
            f"{source}: cannot change {', '.join(refused)} when {doing} this run: it would change "
            f"the model or what was trained; keys that may change: {', '.join(allowed) or 'none'}"
        )
    return candidate


def check_phases(run_dir: Path | str, phases: str) -> list[Path]:
    """Open the `last.pt` of every unfinished phase folder matching `phases` under `run_dir`.

    Packages that train several models in one run (one folder per machine type, per model variant)
    keep one core run per folder; a folder with `done.json` is finished and will be skipped, so its
    checkpoint need not be read. Checked before any data is loaded, so a damaged checkpoint is one
    line at once rather than after minutes of preprocessing.
    """
    from sigzoo_shared.checkpoint import LAST, load_checkpoint

    run = Path(run_dir)
    pattern = f"{phases.rstrip('/')}/checkpoints/{LAST}"
    checked = []
    for last in sorted(run.glob(pattern)):
        if not (last.parent.parent / "done.json").is_file():
            load_checkpoint(last)
            checked.append(last)
    return checked


def resume_config(
    cls: type[T],
    run_dir: Path | str,
    overrides: Sequence[str] = (),
    *,
    config_file: Path | str | None = None,
    changeable: Iterable[str] = (),
    check_checkpoint: bool = True,
    phases: str | None = None,
) -> T:
    """The config to continue `run_dir` with: the stored one, plus overrides of resumable keys only.

    `changeable` adds package keys (glob patterns such as `data.*_dir`) that may differ on resume.
    `phases` (a glob such as `*` or `**`) names the phase folders of a run that trains several
    models; each unfinished one's last.pt is opened instead of the run's own (`check_phases`).
    """
    path = stored_config_path(run_dir)
    if config_file is not None:
        raise ConfigError(
            f"--config {config_file}: a resumed run keeps its own {path}; pass only KEY=VALUE "
            "overrides of keys that cannot change the model (e.g. train.epochs=50)"
        )
    if phases is not None:
        check_phases(run_dir, phases)
    elif check_checkpoint:
        check_resumable(run_dir)
    allowed = (*RESUMABLE_KEYS, *changeable)
    try:
        return stored_overrides(cls, path, overrides, allowed=allowed, action="resume")
    except ConfigError as err:
        raise ConfigError(
            f"{err}. Start a new run (--run-dir) to train with other settings"
        ) from None


@dataclass
class LoadedRun:
    """What `load_run` gives back: the model in eval mode, its config and where it came from."""

    model: Any
    config: Any
    checkpoint: Path
    state: dict[str, Any]
    card: dict[str, Any] | None = None  # a pretrained model's card.json (None for a training run)


def config_of_checkpoint(cls: type[T], state: Mapping[str, Any], path: Path) -> T:
    """The config a checkpoint was trained with: the copy inside it, else the run's config.yaml."""
    stored = state.get("config")
    if isinstance(stored, Mapping):
        return from_dict(cls, stored, source=f"{path} (stored config)")
    for folder in (path.parent, path.parent.parent):
        if (folder / CONFIG_FILE).is_file():
            return load_config(cls, folder / CONFIG_FILE)
    raise CheckpointError(f"{path}: holds no config and no {CONFIG_FILE} lies beside it")


def load_run(
    cls: type[T],
    run_or_checkpoint: Path | str,
    build_model: Callable[..., Any],
    *,
    which: Literal["best", "last"] = "best",
    map_location: str = "cpu",
    needs_state: bool = False,
) -> LoadedRun:
    """Checkpoint -> stored config -> `build_model(cfg)` -> weights (strict), eval mode.

    With `needs_state`, `build_model(cfg, state)` also gets the checkpoint dict, for models whose
    size follows the data rather than the config (e.g. the number of classes seen in training).
    A checkpoint of another package or another model variant fails with a CheckpointError naming
    the file, before any data is touched.
    """
    from sigzoo_shared.checkpoint import find_checkpoint, load_checkpoint

    path = find_checkpoint(run_or_checkpoint, which=which)
    state = load_checkpoint(path, map_location=map_location)
    cfg = config_of_checkpoint(cls, state, path)
    model = build_model(cfg, state) if needs_state else build_model(cfg)
    try:
        model.load_state_dict(state["model_state"])
    except RuntimeError as err:
        raise CheckpointError(
            f"{path}: weights do not fit the model its config describes (a checkpoint of another "
            f"package or version?): {str(err).splitlines()[0]}"
        ) from err
    model.eval()
    return LoadedRun(model=model, config=cfg, checkpoint=path, state=state)


def make_loaders(
    train_set: Any,
    val_set: Any | None,
    cfg: Any,
    device: Any = None,
    *,
    collate_fn: Callable[[list[Any]], Any] | None = None,
    val_collate_fn: Callable[[list[Any]], Any] | None = None,
    drop_last: bool = False,
    val_batch_size: int | None = None,
) -> tuple[Any, Any | None]:
    """The train/val loader pair from a TrainConfig: shuffled by (seed, epoch) / in order.

    `val_set=None` (or an empty one) gives no validation loader, so the Trainer monitors the
    training loss instead. `val_collate_fn` defaults to `collate_fn` (a dataset that batches
    itself passes its own method for each).
    """
    from sigzoo_shared.loader import make_loader

    common = {"seed": cfg.seed, "device": device, "num_workers": cfg.num_workers}
    train_loader = make_loader(
        train_set,
        cfg.batch_size,
        shuffle=True,
        drop_last=drop_last,
        collate_fn=collate_fn,
        **common,
    )
    if val_set is None or len(val_set) == 0:
        return train_loader, None
    val_loader = make_loader(
        val_set,
        val_batch_size or cfg.batch_size,
        shuffle=False,
        collate_fn=val_collate_fn or collate_fn,
        **common,
    )
    return train_loader, val_loader


def config_dict(cfg: Any) -> dict[str, Any]:
    """A config as a flat `{dotted.key: value}` mapping (for comparing runs)."""
    return _flatten(to_dict(cfg))
