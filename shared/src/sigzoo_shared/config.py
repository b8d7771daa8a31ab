"""Typed configuration: dataclasses with working defaults, YAML files, dotted overrides.

A package's `Config` is a dataclass of dataclasses (`data`, `model`, `train`), `train` being the core's
`TrainConfig`. Values are layered: dataclass defaults <- the package's shipped YAML <- the user's YAML <-
overrides (`train.lr=3e-4` or `--set train.lr=3e-4`). Every value is checked against its field's type hint;
all problems are collected and raised once, each naming the file and key, with a close-match suggestion for
unknown keys. Files are read with `yaml.safe_load` only (JSON is valid YAML, so `.json` works too).
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml

from sigzoo_shared.errors import ConfigError

T = TypeVar("T")


@dataclass
class TrainConfig:
    """Settings of the core Trainer, shared by every package (`train.*` in YAML)."""

    epochs: int = 10
    max_steps: int | None = (
        None  # stop after this many optimizer steps (overrides epochs when reached)
    )
    batch_size: int = 64
    optimizer: Literal["adam", "adamw", "radam", "sgd"] = "adam"
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    momentum: float = 0.9  # sgd only
    scheduler: Literal["none", "plateau", "cosine", "step", "onecycle"] = "none"
    scheduler_patience: int = 5  # plateau
    scheduler_factor: float = 0.5  # plateau and step
    scheduler_step_size: int = 30  # step (epochs)
    min_lr: float = 0.0
    grad_clip_norm: float | None = None
    accumulate_grad_batches: int = 1
    monitor: str = "val_loss"  # metric for best checkpoint, early stopping and plateau scheduling
    mode: Literal["min", "max"] = "min"
    early_stopping_patience: int | None = None  # epochs without improvement; None = off
    min_delta: float = 0.0
    save_top_k: int = 1  # best-k checkpoints kept besides last.pt and best.pt
    checkpoint_every_n_epochs: int = 1
    # Also refresh last.pt every N optimizer steps inside an epoch, so a long epoch killed midway resumes
    # where it stopped (the batches already done are skipped, the epoch's running means restored).
    checkpoint_every_n_steps: int | None = None
    amp: Literal["auto", "off", "bf16", "fp16"] = "auto"
    device: str = "auto"
    seed: int = 0
    deterministic: bool = False
    cudnn_benchmark: bool = True
    num_workers: int | None = None  # None = a sensible default for this machine
    limit_train_batches: int | None = None  # smoke runs: at most this many batches per epoch
    limit_val_batches: int | None = None
    # after each training epoch, re-estimate BatchNorm statistics over this many training batches
    # with the epoch's final weights (precise BN; 0 = keep the moving averages). Validation, metrics
    # and checkpoints then see statistics of the weights they evaluate
    precise_bn_batches: int = 0
    log_every_n_steps: int = 50
    progress: bool = True
    # without a terminal (no progress bar) log where the epoch is at most this often; 0 = never
    progress_every_s: float = 30.0

    def __post_init__(self) -> None:
        problems = []
        if self.epochs < 1 and self.max_steps is None:
            problems.append(f"train.epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            problems.append(f"train.batch_size must be >= 1, got {self.batch_size}")
        if self.lr <= 0:
            problems.append(f"train.lr must be > 0, got {self.lr}")
        if self.accumulate_grad_batches < 1:
            problems.append(
                f"train.accumulate_grad_batches must be >= 1, got {self.accumulate_grad_batches}"
            )
        if self.grad_clip_norm is not None and self.grad_clip_norm <= 0:
            problems.append(f"train.grad_clip_norm must be > 0 or null, got {self.grad_clip_norm}")
        if self.precise_bn_batches < 0:
            problems.append(f"train.precise_bn_batches must be >= 0, got {self.precise_bn_batches}")
        if self.save_top_k < 0:
            problems.append(f"train.save_top_k must be >= 0, got {self.save_top_k}")
        if problems:
            raise ConfigError("; ".join(problems))


# --------------------------------------------------------------------------------------------- typing


def _is_optional(tp: Any) -> tuple[bool, Any]:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) < len(typing.get_args(tp)):
            return True, args[0] if len(args) == 1 else Union[tuple(args)]  # noqa: UP007
    return False, tp


def _describe(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, where: str, errors: list[str]) -> Any:
    """Check `value` against type hint `tp`; return it converted (int->float, list->tuple, str->Path)."""
    optional, inner = _is_optional(tp)
    if value is None:
        if optional or tp is Any:
            return None
        errors.append(f"{where}: null is not allowed (expected {_describe(tp)})")
        return None
    tp = inner
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            errors.append(f"{where}: expected a mapping of {tp.__name__} fields, got {value!r}")
            return None
        return _build(tp, value, where, errors)
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            errors.append(f"{where}: {value!r} is not one of {list(choices)}{hint}")
        return value
    if origin in (Union, types.UnionType):
        for option in typing.get_args(tp):
            trial: list[str] = []
            out = _coerce(value, option, where, trial)
            if not trial:
                return out
        errors.append(f"{where}: {value!r} matches none of {_describe(tp)}")
        return value
    if origin in (list, Sequence) or tp is list:
        if not isinstance(value, (list, tuple)):
            errors.append(f"{where}: expected a list, got {value!r}")
            return value
        (item_tp,) = typing.get_args(tp) or (Any,)
        return [_coerce(v, item_tp, f"{where}[{i}]", errors) for i, v in enumerate(value)]
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            errors.append(f"{where}: expected a list of {len(args)} values, got {value!r}")
            return value
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{where}[{i}]", errors) for i, v in enumerate(value))
        if len(value) != len(args):
            errors.append(f"{where}: expected {len(args)} values, got {len(value)} ({value!r})")
            return tuple(value)
        return tuple(
            _coerce(v, a, f"{where}[{i}]", errors) for i, (v, a) in enumerate(zip(value, args))
        )
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            errors.append(f"{where}: expected a mapping, got {value!r}")
            return value
        key_tp, val_tp = typing.get_args(tp) or (Any, Any)
        return {
            _coerce(k, key_tp, f"{where}.{k}", errors): _coerce(v, val_tp, f"{where}.{k}", errors)
            for k, v in value.items()
        }
    if tp is bool:
        if not isinstance(value, bool):
            errors.append(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            errors.append(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            if isinstance(value, str):  # YAML 1.1 reads '1e-3' as a string
                try:
                    return float(value)
                except ValueError:
                    pass
            errors.append(f"{where}: expected a number, got {value!r}")
            return value
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            errors.append(f"{where}: expected a string, got {value!r}")
        return value
    if tp is Path:
        if not isinstance(value, (str, Path)):
            errors.append(f"{where}: expected a path, got {value!r}")
            return value
        return Path(value)
    return value


def _default_section(f: dataclasses.Field) -> dict[str, Any] | None:
    """The default of a nested-dataclass field as a mapping (None for other fields)."""
    if f.default_factory is not dataclasses.MISSING:
        default = f.default_factory()
    elif f.default is not dataclasses.MISSING:
        default = f.default
    else:
        return None
    if dataclasses.is_dataclass(default) and not isinstance(default, type):
        return to_dict(default)
    return None


def _build(cls: type[T], data: Mapping[str, Any], where: str, errors: list[str]) -> T:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    names = list(fields)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        full = f"{where}.{key}" if where else str(key)
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f" (did you mean '{where + '.' if where else ''}{close[0]}'?)" if close else ""
            errors.append(f"unknown key '{full}'{hint}")
            continue
        default = _default_section(fields[key])
        if default is not None and isinstance(value, Mapping):
            # A partial section overrides the *owner's* default (e.g. a package's TrainConfig with
            # its own lr), not the section class's bare defaults.
            value = merge(default, value)
        kwargs[key] = _coerce(value, hints[key], full, errors)
    if errors:
        return None  # type: ignore[return-value]
    try:
        return cls(**kwargs)
    except ConfigError as err:
        errors.append(str(err))
    except (TypeError, ValueError) as err:
        errors.append(f"{where or cls.__name__}: {err}")
    return None  # type: ignore[return-value]


# ----------------------------------------------------------------------------------------- public API


def from_dict(cls: type[T], data: Mapping[str, Any], source: str = "config") -> T:
    """Build a (nested) dataclass from a mapping, checking every key and type; raise once with all errors."""
    errors: list[str] = []
    out = _build(cls, data, "", errors)
    if errors:
        raise ConfigError(f"{source}: " + "; ".join(errors))
    return out


def to_dict(cfg: Any) -> Any:
    """A plain, YAML-safe structure (Paths become strings, tuples lists)."""
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return {f.name: to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, (list, tuple)):
        return [to_dict(v) for v in cfg]
    if isinstance(cfg, dict):
        return {str(k): to_dict(v) for k, v in cfg.items()}
    if isinstance(cfg, Path):
        return str(cfg)
    return cfg


def read_yaml(path: Path | str) -> dict[str, Any]:
    """Read a YAML (or JSON) mapping with `yaml.safe_load`; an empty file is an empty mapping."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise ConfigError(f"{path}: config file not found") from err
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config file ({err})") from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Recursive merge: mappings merge key by key, everything else is replaced."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_overrides(overrides: Sequence[str]) -> dict[str, Any]:
    """`["train.lr=3e-4", "model.use_attention=false"]` -> nested dict; values parsed as YAML scalars."""
    out: dict[str, Any] = {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected KEY=VALUE, e.g. train.lr=3e-4")
        key, raw = item.split("=", 1)
        key = key.strip().removeprefix("--")
        if not key or any(not part for part in key.split(".")):
            raise ConfigError(f"override {item!r}: empty key")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(
                    f"override {item!r}: '{part}' is set both as a value and a section"
                )
        node[parts[-1]] = value
    return out


def load_config(
    cls: type[T],
    path: Path | str | None = None,
    overrides: Sequence[str] = (),
    base: Mapping[str, Any] | Path | str | None = None,
    base_source: str | None = None,
) -> T:
    """Defaults <- `base` (a package's shipped YAML) <- `path` (the user's YAML) <- `overrides`.

    Errors name the layer they came from: the file, 'overrides', or for a mapping `base` its
    `base_source` (e.g. "runs/x/checkpoints/best.pt (stored config)"; "defaults" if not given).
    """
    data: dict[str, Any] = {}
    if base is not None:
        base_data = base if isinstance(base, Mapping) else read_yaml(base)
        where = str(base) if not isinstance(base, Mapping) else (base_source or "defaults")
        from_dict(cls, base_data, source=where)
        data = merge(data, base_data)
    if path is not None:
        user = read_yaml(path)
        from_dict(cls, merge(data, user), source=str(path))
        data = merge(data, user)
    if overrides:
        data = merge(data, parse_overrides(overrides))
        return from_dict(cls, data, source="overrides")
    return from_dict(cls, data, source=str(path) if path is not None else "config")


def save_config(cfg: Any, path: Path | str) -> Path:
    """Write the effective config as YAML, atomically."""
    from sigzoo_shared.io import atomic_write_text

    return atomic_write_text(Path(path), yaml.safe_dump(to_dict(cfg), sort_keys=False))


def config_yaml(cfg: Any) -> str:
    """Every key of a config as YAML, in declaration order (what `<pkg> config` prints)."""
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)


def replace(cfg: T, **changes: Any) -> T:
    """`dataclasses.replace` re-exported for packages that derive a config from another."""
    return dataclasses.replace(cfg, **changes)


__all__ = [
    "TrainConfig",
    "config_yaml",
    "field",
    "from_dict",
    "load_config",
    "merge",
    "parse_overrides",
    "read_yaml",
    "replace",
    "save_config",
    "to_dict",
]
