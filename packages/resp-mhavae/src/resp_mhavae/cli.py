"""`resp-mhavae` console script: one subcommand per verb, each calling one function."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from sigzoo_shared.cli import (
    add_common_verbs,
    add_config_args,
    base_parser,
    dispatch_common,
    run_main,
)
from sigzoo_shared.export import add_export_verb

from resp_mhavae import __version__

MODULE = "resp_mhavae"
log = logging.getLogger(MODULE)


def build_parser() -> argparse.ArgumentParser:
    parser, sub = base_parser(
        "resp-mhavae",
        "Multi-head-attention VAE + LSTM anomaly detection on multi-modal breathing sensors.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p = sub.add_parser(
        "preprocess", help="read, validate, split and window a recording (cached arrays)"
    )
    add_config_args(p)
    for name, text in (
        ("train", "train the MHA-VAE-LSTM and the neural baselines (two phases each)"),
        ("run", "preprocess + train + detect in one go"),
    ):
        p = sub.add_parser(name, help=text)
        add_config_args(p)
        p.add_argument(
            "--resume",
            type=Path,
            default=None,
            metavar="RUN_DIR",
            help="continue an interrupted run (finished phases are skipped)",
        )
        p.add_argument("--force", action="store_true", help="retrain phases that are already done")
    p = sub.add_parser(
        "detect", help="score the test part of a trained run; metrics, tables, figures"
    )
    add_config_args(p)
    p = sub.add_parser(
        "grid-search", help="l_win x look_back_num x threshold_percent (x dataset) grid"
    )
    add_config_args(p)
    p = sub.add_parser(
        "bench", help="vectorised vs per-step LSTM decoding: steps/s and peak memory"
    )
    add_config_args(p)
    p = sub.add_parser(
        "leaderboard",
        help="every method x every series: point-wise scores, VUS-PR table (markdown) and figure",
    )
    add_config_args(p)
    p.add_argument(
        "--series",
        action="append",
        default=None,
        metavar="PATH",
        help="a NAB or nose-sensor CSV file, or a folder of them; repeat for more "
        "(sets leaderboard.series)",
    )
    p = sub.add_parser("demo", help="generate a recording, train briefly, detect, write report.md")
    add_config_args(p)
    p = sub.add_parser(
        "make-pretrained",
        help="(maintainers) leaderboard on one NAB series, then ship its first seed's model + card",
    )
    add_config_args(p)
    p.add_argument("--series", required=True, metavar="CSV", help="one NAB timestamp,value CSV")
    p.add_argument("--name", required=True, help="the shipped model's name, e.g. nab-ec2-latency")
    p.add_argument("--out", type=Path, default=None, help="default: the package's own folder")
    add_export_verb(sub)
    add_common_verbs(sub)
    return parser


def _config(args: argparse.Namespace, extra: Sequence[str] = ()):  # -> Config
    """Defaults <- configs/default.yaml <- --config (ours, or the original flat JSON) <- overrides."""
    from sigzoo_shared.cli import config_from_args
    from sigzoo_shared.config import read_yaml

    from resp_mhavae.config import Config, is_flat_original, original_overrides

    if args.config is not None:
        data = read_yaml(args.config)
        if is_flat_original(data):
            flat = original_overrides(data, str(args.config))
            args = argparse.Namespace(**{**vars(args), "config": None})
            return config_from_args(Config, args, "resp_mhavae", extra_overrides=[*extra, *flat])
    return config_from_args(Config, args, "resp_mhavae", extra_overrides=extra)


def _stored_config(args: argparse.Namespace):  # -> Config
    """A trained run's config.yaml, with this command's overrides on top."""
    from sigzoo_shared.cli import overrides_from
    from sigzoo_shared.config import load_config
    from sigzoo_shared.errors import ConfigError

    from resp_mhavae.config import Config

    if args.run_dir is None or not (args.run_dir / "config.yaml").is_file():
        raise ConfigError(
            f"detect: --run-dir {args.run_dir} is not a trained run (no config.yaml); "
            "train first: resp-mhavae train --run-dir DIR ..."
        )
    return load_config(Config, args.run_dir / "config.yaml", overrides_from(args))


# data files may move between a run and its resumption; every other stored key stays
CHANGEABLE_ON_RESUME = ("data.path", "data.dataset_config")


def _resume_config(args: argparse.Namespace):  # -> Config
    """The stored config of the run to resume (`resume_config`: only resumable keys may change).

    Every unfinished phase's `last.pt` (RUN/mhavae/vae, ...) is opened here, before any data is read.
    """
    from sigzoo_shared.cli import overrides_from
    from sigzoo_shared.runs import resume_config

    from resp_mhavae.config import Config
    from resp_mhavae.train import PHASES

    return resume_config(
        Config,
        args.resume,
        overrides_from(args),
        config_file=args.config,
        changeable=CHANGEABLE_ON_RESUME,
        phases=PHASES,
    )


def dispatch(args: argparse.Namespace) -> None:
    from resp_mhavae.config import Config

    if args.command == "config" and args.run_dir is None:
        from sigzoo_shared.config import config_yaml

        # our layering, so `config` shows what the original flat JSON becomes as well
        print(config_yaml(_config(args)), end="")
        return
    # the shipped checkpoint holds the VAE, the LSTM and the normalisation: our own pack
    if dispatch_common(args, Config, MODULE, pack=_pack):
        return
    if args.command == "export":
        from sigzoo_shared.export import dispatch_export

        from resp_mhavae import api

        def load(a: argparse.Namespace) -> api.Detector:
            return api.load_run(a.run_dir) if a.run_dir else api.load_pretrained(a.pretrained)

        dispatch_export(args, load, api.export_spec)
        return
    if args.command == "preprocess":
        from resp_mhavae.train import preprocess

        print(f"cached windows: {preprocess(_config(args), args.run_dir)}")
    elif args.command in ("train", "run"):
        from resp_mhavae.train import train

        cfg = _config(args) if args.resume is None else _resume_config(args)
        path = train(cfg, args.run_dir, args.resume, args.force)
        if args.command == "train":
            print(f"trained: {path}")
            return
        from resp_mhavae.evaluate import detect

        _print_summary(detect(cfg, path), path)
    elif args.command == "detect":
        from resp_mhavae.evaluate import detect

        _print_summary(detect(_stored_config(args), args.run_dir), args.run_dir)
    elif args.command == "grid-search":
        from resp_mhavae.grid import grid_search

        print(f"grid results: {grid_search(_config(args), args.run_dir)}")
    elif args.command == "bench":
        from resp_mhavae.bench import bench

        print(f"bench table: {bench(_config(args), args.run_dir)}")
    elif args.command == "leaderboard":
        import json

        from resp_mhavae.leaderboard import leaderboard

        extra = [] if args.series is None else [f"leaderboard.series={json.dumps(args.series)}"]
        print(f"leaderboard: {leaderboard(_config(args, extra), args.run_dir)}")
    elif args.command == "make-pretrained":
        from resp_mhavae.card import make_pretrained

        dest = make_pretrained(_config(args), args.series, args.name, args.run_dir, args.out)
        print(f"pretrained model: {dest}")
    elif args.command == "demo":
        from resp_mhavae.demo import demo

        print(f"demo report: {demo(_config(args), args.run_dir)}")
    else:
        raise SystemExit(f"unknown command {args.command}")


def _pack(args: argparse.Namespace) -> Path:
    from sigzoo_shared.pretrained import read_meta

    from resp_mhavae.api import pack

    card = args.card.read_text(encoding="utf-8")
    meta = read_meta(args.meta)
    return pack(args.run_dir, args.name, card_md=card, meta=meta, out=args.out, half=args.half)


def _print_summary(summary: dict, path: Path) -> None:
    main = next(r for r in summary["results"] if r["method"] == "mhavae" and r["primary"])
    if not main.get("scorable", True):
        print(
            f"{summary['recording']}: not scorable, the test part holds no labelled anomaly "
            f"({summary['protocol']} protocol; try data.split=nab); results in {path}/results.md"
        )
        return
    auc = main["window_auc_pr"]
    print(
        f"{summary['recording']}: window F2 {main['window_f2']:.3f}, event detection rate "
        f"{main['event_detection_rate']:.3f}, window AUC-PR {'n/a' if auc is None else f'{auc:.3f}'} "
        f"({summary['protocol']} protocol); results in {path}/results.md"
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(dispatch, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
