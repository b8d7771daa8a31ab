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

from sigzoo_shared.config import from_dict, load_config, parse_overrides, read_yaml, to_dict
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


def resume_config(
    cls: type[T],
    run_dir: Path | str,
    overrides: Sequence[str] = (),
    *,
    config_file: Path | str | None = None,
    changeable: Iterable[str] = (),
    check_checkpoint: bool = True,
) -> T:
    """The config to continue `run_dir` with: the stored one, plus overrides of resumable keys only.

    `changeable` adds package keys (glob patterns such as `data.*_dir`) that may differ on resume.
    An override that repeats the stored value is accepted (scripts often pass the same line again).
    """
    path = stored_config_path(run_dir)
    if config_file is not None:
        raise ConfigError(
            f"--config {config_file}: a resumed run keeps its own {path}; pass only KEY=VALUE "
            "overrides of keys that cannot change the model (e.g. train.epochs=50)"
        )
    if check_checkpoint:
        check_resumable(run_dir)
    stored = _flatten(read_yaml(path))
    allowed = (*RESUMABLE_KEYS, *changeable)
    refused = [
        f"{key} (stored {stored.get(key)!r}, given {value!r})"
        for key, value in _flatten(parse_overrides(overrides)).items()
        if stored.get(key) != value and not any(fnmatch.fnmatchcase(key, p) for p in allowed)
    ]
    if refused:
        raise ConfigError(
            f"{path}: cannot change {', '.join(refused)} when resuming: it would change the model "
            f"or what was trained; keys that may change: {', '.join(allowed)}. "
            "Start a new run (--run-dir) to train with other settings"
        )
    return load_config(cls, path, overrides)


@dataclass
class LoadedRun:
    """What `load_run` gives back: the model in eval mode, its config and where it came from."""

    model: Any
    config: Any
    checkpoint: Path
    state: dict[str, Any]


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
