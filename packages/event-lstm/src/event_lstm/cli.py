"""`event-lstm` console script: one subcommand per verb, each calling one function."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sigzoo_shared.cli import (
    add_common_verbs,
    add_config_args,
    base_parser,
    config_from_args,
    dispatch_common,
    quick_list,
    run_main,
    user_overrides,
)

from event_lstm import __version__

if TYPE_CHECKING:
    from sigzoo_shared.runs import LoadedRun

    from event_lstm.config import Config

MODULE = "event_lstm"


def build_parser() -> argparse.ArgumentParser:
    parser, sub = base_parser(
        "event-lstm", "16-event detector with 5 ms onset timing on 6-channel 2 kHz sensor streams."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")

    p = sub.add_parser(
        "generate", help="write synthetic train/val/test/unlabelled windows and a stream"
    )
    p.add_argument("--out", type=Path, required=True, help="output directory")
    add_config_args(p, run_dir=False)

    p = sub.add_parser("train", help="supervised training (model.arch=lstm|event_specific)")
    p.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR")
    add_config_args(p)

    p = sub.add_parser("pretrain", help="unsupervised / self-supervised encoder pre-training")
    methods = p.add_subparsers(dest="method", metavar="METHOD", required=True)
    for name, text in (
        ("ae", "LSTM autoencoder"),
        ("vae", "variational LSTM autoencoder"),
        ("contrastive", "contrastive (NT-Xent) with temporal augmentations"),
    ):
        m = methods.add_parser(name, help=text)
        m.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR")
        add_config_args(m)

    p = sub.add_parser(
        "finetune", help="transfer a pre-trained encoder into a classifier and train it"
    )
    p.add_argument(
        "--pretrained", type=Path, required=True, help="pre-training run dir or checkpoint"
    )
    p.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR")
    add_config_args(p)

    p = sub.add_parser("detect", help="streaming detection over a recording -> events CSV")
    p.add_argument("--checkpoint", type=Path, required=True, help="training run dir or checkpoint")
    p.add_argument("--input", type=Path, required=True, help="recording .npz (signal, fs)")
    p.add_argument("--out", type=Path, default=None, help="events CSV (default RUN_DIR/events.csv)")
    add_config_args(p)

    p = sub.add_parser("evaluate", help="event metrics on a windowed .npz set or a recording + CSV")
    p.add_argument("--checkpoint", type=Path, required=True, help="training run dir or checkpoint")
    p.add_argument("--data", type=Path, required=True, help="test windows .npz or recording .npz")
    add_config_args(p)

    p = sub.add_parser("templates", help="4x4 grid PNG of an event-specific model's templates")
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument(
        "--out", type=Path, default=None, help="PNG path (default RUN_DIR/figures/templates.png)"
    )
    add_config_args(p)

    p = sub.add_parser(
        "curves", help="validation F1 per epoch, mean over runs (e.g. the seeds of a sweep)"
    )
    p.add_argument("runs", type=Path, nargs="+", help="training run directories")
    p.add_argument("--every", type=int, default=1, help="every N-th epoch")
    p.add_argument("--metric", default="val_f1_5ms", help="a per-epoch key of metrics.jsonl")

    p = sub.add_parser("bench", help="streaming real-time factor, training steps/s, peak memory")
    add_config_args(p)

    p = sub.add_parser(
        "demo", help="generate, pre-train, fine-tune, evaluate, stream-detect, report"
    )
    add_config_args(p)
    add_common_verbs(sub)
    from sigzoo_shared.export import add_export_verb

    add_export_verb(sub)
    return parser


# data files may move between a run and its resumption; every other stored key stays
CHANGEABLE_ON_RESUME = ("data.*_path",)


def config_of(args: argparse.Namespace, cls: type[Config]) -> Config:
    """The config a verb runs with: a resumed run's stored one (`resume_config`), else the layers
    defaults <- default.yaml <- --config <- --quick <- KEY=VALUE."""
    if getattr(args, "resume", None) is not None:
        from sigzoo_shared.runs import resume_config

        return resume_config(
            cls,
            args.resume,
            quick_list(cls, args) + user_overrides(args),
            config_file=args.config,
            changeable=CHANGEABLE_ON_RESUME,
        )
    extra: tuple[str, ...] = ()
    if args.command == "demo":
        from event_lstm.demo import DEMO_OVERRIDES

        extra = DEMO_OVERRIDES
    return config_from_args(cls, args, MODULE, extra_overrides=extra)


def load_for_export(args: argparse.Namespace) -> LoadedRun:
    """The classifier `export` writes: a training run's best checkpoint or a shipped model."""
    from event_lstm.builders import classifier_model
    from event_lstm.config import Config

    if args.pretrained is not None:
        from sigzoo_shared.pretrained import load_pretrained

        return load_pretrained(MODULE, args.pretrained, Config, classifier_model)
    from event_lstm.detect import load_classifier

    return load_classifier(args.run_dir)


def dispatch(args: argparse.Namespace) -> None:
    from sigzoo_shared.export import dispatch_export

    from event_lstm.config import Config

    if dispatch_common(args, Config, MODULE):
        return
    if args.command == "export":
        from event_lstm.api import export_spec

        dispatch_export(args, load_for_export, lambda run: export_spec(run.model, run.config))
        return
    if args.command == "curves":
        from event_lstm.evaluate import curves_markdown, validation_curves

        curve = validation_curves(args.runs, args.every, args.metric)
        print(curves_markdown(curve, f"{args.metric}, mean of {len(args.runs)} run(s)"), end="")
        return
    cfg = config_of(args, Config)
    device = getattr(args, "device", None) or "cpu"
    if args.command == "generate":
        from event_lstm.generator import generate_dataset

        paths = generate_dataset(args.out, cfg.generator, cfg.data)
        print(f"wrote {len(paths)} files to {args.out}")
    elif args.command in ("train", "finetune"):
        from event_lstm.train import train

        res = train(
            cfg, args.run_dir, args.resume, getattr(args, "pretrained", None), verb=args.command
        )
        print(
            f"{args.command}: {res.epochs_completed} epochs, best {res.monitor}={res.best_metric}, "
            f"run dir {res.run_dir}"
        )
    elif args.command == "pretrain":
        from sigzoo_shared import ConfigError

        from event_lstm.train import pretrain

        if args.resume is not None and cfg.pretrain.method != args.method:
            raise ConfigError(
                f"{args.resume}: a '{cfg.pretrain.method}' pre-training run; resume it with "
                f"`event-lstm pretrain {cfg.pretrain.method} --resume {args.resume}`"
            )

        res = pretrain(cfg, args.method, args.run_dir, args.resume)
        print(
            f"pretrain {args.method}: {res.epochs_completed} epochs, best {res.monitor}={res.best_metric}, "
            f"run dir {res.run_dir}"
        )
    elif args.command == "detect":
        from event_lstm.detect import detect_file

        info = detect_file(args.checkpoint, args.input, args.out, args.run_dir, cfg.detect, device)
        print(
            f"detect: {info['n_events']} events in {info['duration_s']:.1f} s -> {info['events_csv']} "
            f"({info['real_time_factor']:.0f}x real time)"
        )
    elif args.command == "evaluate":
        from event_lstm.evaluate import evaluate, results_markdown

        res = evaluate(args.checkpoint, args.data, args.run_dir, cfg, device)
        print(results_markdown(res), end="")
    elif args.command == "templates":
        from event_lstm.evaluate import write_templates

        print(f"templates: {write_templates(args.checkpoint, args.out, args.run_dir)}")
    elif args.command == "bench":
        from event_lstm.bench import run_bench

        print(f"bench: {run_bench(cfg, args.run_dir)}")
    elif args.command == "demo":
        from event_lstm.demo import run_demo

        print(f"demo: report at {run_demo(cfg, args.run_dir)}")


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(dispatch, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
