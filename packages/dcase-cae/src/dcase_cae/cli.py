"""`dcase-cae` console script: one subcommand per verb, each calling one function.

dcase-cae prepare --data-dir D            check every file, cache log-mel features
dcase-cae train   --data-dir D [--run-dir R] [model.name=dense_ae ...]
dcase-cae test    --run-dir R             AUC/pAUC per ID, decisions, figures (best checkpoint)
dcase-cae report  --runs R1 R2 --run-dir OUT   side-by-side table of tested runs
dcase-cae bench   --run-dir OUT           speed and memory table
dcase-cae demo    --run-dir OUT           synthetic data -> both models -> report.md
"""

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
    config_from_args,
    dispatch_common,
    overrides_from,
    run_main,
    shipped_config,
)

from dcase_cae import __version__

MODULE = "dcase_cae"
log = logging.getLogger("dcase_cae.cli")


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="<root>/<machine_type>/{train,test}/ or one machine's folder (data.data_dir)",
    )
    p.add_argument(
        "--machine-type", default=None, help="only this machine type (data.machine_type)"
    )
    p.add_argument(
        "--resample",
        action="store_true",
        help="resample files whose rate differs instead of failing (data.resample=true)",
    )
    p.add_argument(
        "--channel",
        type=int,
        default=None,
        help="use this channel of multi-channel files instead of failing (data.channel)",
    )
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="log-mel cache folder (data.cache_dir; default <run dir>/cache)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser, sub = base_parser(
        "dcase-cae",
        "Convolutional autoencoder (and the DCASE 2020 dense baseline) "
        "for unsupervised anomalous machine-sound detection.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")

    p = sub.add_parser("prepare", help="validate every audio file and cache log-mel features")
    _data_args(p)
    add_config_args(p)

    p = sub.add_parser("train", help="train one model per machine type on normal clips")
    _data_args(p)
    add_config_args(p)
    p.add_argument(
        "--resume",
        type=Path,
        default=None,
        metavar="RUN_DIR",
        help="continue an interrupted run (its config.yaml is the base config)",
    )

    p = sub.add_parser("test", help="score test clips: per-ID AUC/pAUC, decisions, figures")
    _data_args(p)
    add_config_args(p)
    p.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="a checkpoint file instead of each machine type's best.pt",
    )
    p.add_argument(
        "--mode",
        choices=("auto", "dev", "eval"),
        default="auto",
        help="dev: labels from file names, AUC/pAUC; eval: scores and decisions only",
    )
    p.add_argument(
        "--out-dir", type=Path, default=None, help="write results here instead of the run dir"
    )

    p = sub.add_parser("report", help="compare tested runs in one table (report.md)")
    p.add_argument("--runs", type=Path, nargs="+", required=True, help="tested run directories")
    p.add_argument("--run-dir", type=Path, default=None, help="output directory")

    p = sub.add_parser(
        "bench", help="feature extraction, training and inference speed; peak memory"
    )
    add_config_args(p)
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="real clips to time feature extraction on (default: generated 10 s clips)",
    )
    p.add_argument(
        "--steps", type=int, default=3, help="timed CAE training steps per case and round"
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="interleaved rounds of the training cases (and repeats of the other cases)",
    )
    p.add_argument(
        "--cases",
        nargs="+",
        default=None,
        metavar="CASE",
        help="only these: extract train infer epoch onnx (default: all)",
    )

    p = sub.add_parser(
        "demo", help="generate machine sounds, train both models briefly, write report.md"
    )
    add_config_args(p)

    from sigzoo_shared.export import add_export_verb

    add_export_verb(sub)
    p = sub.add_parser(
        "pack",
        help="(maintainers) ship a tested run as a pretrained model with its k-NN bank and threshold",
    )
    p.add_argument("--run-dir", type=Path, required=True, help="a training run of one machine type")
    p.add_argument("--name", required=True, help="the model's name, e.g. toycar-embedding")
    p.add_argument("--card", type=Path, required=True, help="the model card (markdown)")
    p.add_argument("--meta", type=Path, required=True, help="card facts (JSON object)")
    p.add_argument("--out", type=Path, default=None, help="default: the package's own folder")
    p.add_argument(
        "--data-dir", type=Path, default=None, help="the training data, if it moved since training"
    )
    add_common_verbs(sub)
    return parser


def _export_source(args: argparse.Namespace):
    """(model, config, sample rate or None) of `export --run-dir` / `--pretrained`."""
    if args.pretrained is not None:
        from dcase_cae.api import load_pretrained

        detector = load_pretrained(args.pretrained)
        return detector.model, detector.config, detector.sample_rate_hz
    from dcase_cae.evaluate import _subruns
    from dcase_cae.train import load_trained

    subs = _subruns(args.run_dir, None)
    if len(subs) > 1:
        from sigzoo_shared import ConfigError

        raise ConfigError(
            f"{args.run_dir}: {len(subs)} machine types; export one: --run-dir RUN/TYPE"
        )
    model, cfg, _ = load_trained(next(iter(subs.values())))
    return model, cfg, None


def _extra(args: argparse.Namespace) -> list[str]:
    out = []
    if getattr(args, "data_dir", None) is not None:
        out.append(f"data.data_dir={args.data_dir}")
    if getattr(args, "machine_type", None) is not None:
        out.append(f"data.machine_type={args.machine_type}")
    return out + _reading_flags(args)


def _reading_flags(args: argparse.Namespace) -> list[str]:
    """--resample, --channel, --cache-dir as overrides: how files are read, which `test` may change."""
    out = []
    if getattr(args, "resample", False):
        out.append("data.resample=true")
    if getattr(args, "channel", None) is not None:
        out.append(f"data.channel={args.channel}")
    if getattr(args, "cache_dir", None) is not None:
        out.append(f"data.cache_dir={args.cache_dir}")
    return out


def _config(args: argparse.Namespace, extra: Sequence[str] = ()):
    from dcase_cae.config import Config

    return config_from_args(Config, args, MODULE, extra_overrides=[*extra, *_extra(args)])


def _test_layer(args: argparse.Namespace) -> dict:
    """What the user gave to `test` (--config YAML, then flags and KEY=VALUE), as a nested mapping.

    It is merged key by key into each run's stored config (`evaluate.apply_test_overrides`); the package
    defaults are deliberately not part of it, so a run's own decision settings survive a partial override.
    """
    from sigzoo_shared.config import merge, parse_overrides, read_yaml

    layer: dict = {}
    if args.config is not None:  # `--config dense_ae` names a shipped YAML, as for train
        layer = read_yaml(shipped_config(MODULE, args.config))
    given = [*_reading_flags(args), *overrides_from(args)]
    return merge(layer, parse_overrides(given)) if given else layer


# how files are found and read: a resumed run may point at a moved data folder or cache
RESUME_CHANGEABLE = ("data.data_dir", "data.cache_dir", "data.resample", "data.channel")


def _resume_config(args: argparse.Namespace):
    """A resumed run's config: the stored one wins (`sigzoo_shared.runs.resume_config`).

    Each unfinished machine type's last.pt (`phases="*/"`: one core run per type) is opened before
    any audio is read, so a damaged checkpoint is refused at once; a type never started has none.
    """
    from sigzoo_shared.runs import resume_config

    from dcase_cae.config import Config

    return resume_config(
        Config,
        args.resume,
        [*_extra(args), *overrides_from(args)],
        config_file=args.config,
        changeable=RESUME_CHANGEABLE,
        phases="*/",
    )


def dispatch(args: argparse.Namespace) -> None:
    from dcase_cae.config import Config

    if dispatch_common(args, Config, MODULE):
        return
    from sigzoo_shared.export import dispatch_export

    from dcase_cae.api import export_spec

    if dispatch_export(args, _export_source, lambda source: export_spec(*source)):
        return
    if args.command == "pack":
        from dcase_cae.api import pack

        dest = pack(
            args.run_dir, args.name, args.card, args.meta, out=args.out, data_dir=args.data_dir
        )
        print(f"packed {args.run_dir} -> {dest}")
        return
    if args.command == "prepare":
        from dcase_cae.prepare import prepare

        summary = prepare(_config(args), run_dir=args.run_dir)
        print(
            f"prepared {summary['n_files']} files of {len(summary['machine_types'])} machine type(s) "
            f"-> {summary['cache_dir']}"
        )
    elif args.command == "train":
        from dcase_cae.train import train

        if args.resume is not None:
            cfg = _resume_config(args)
        else:
            cfg = _config(args)
        run = train(cfg, run_dir=args.run_dir, resume=args.resume)
        print(f"trained -> {run}  (next: dcase-cae test --run-dir {run})")
    elif args.command == "test":
        from dcase_cae.evaluate import test

        if args.run_dir is None and args.checkpoint is None:
            from sigzoo_shared import ConfigError

            raise ConfigError("test needs --run-dir RUN (a training run) or --checkpoint FILE")
        layer = _test_layer(args)
        out = test(
            args.run_dir or args.checkpoint.parent.parent,
            data_dir=args.data_dir,
            machine_type=args.machine_type,
            checkpoint=args.checkpoint,
            mode=args.mode,
            out_dir=args.out_dir,
            device=args.device or "auto",
            overrides=layer,
        )
        for res in out["results"]:
            avg = res["average"]
            shown = " ".join(f"{k}={v:.3f}" for k, v in avg.items())
            print(f"{res['machine_type']} ({res['model']}): {shown or 'scores only (eval mode)'}")
        print(f"results -> {out['out_dir'] / 'result.csv'}")
    elif args.command == "report":
        from dcase_cae.report import compare_runs

        path = compare_runs(args.runs, args.run_dir)
        print(f"report -> {path}")
    elif args.command == "bench":
        from dcase_cae.bench import bench

        path = bench(
            _config(args),
            run_dir=args.run_dir,
            data_dir=args.data_dir,
            steps=args.steps,
            rounds=args.rounds,
            **({"cases": args.cases} if args.cases else {}),
        )
        print(f"bench -> {path}")
    elif args.command == "demo":
        from dcase_cae.demo import DEMO_OVERRIDES, demo

        path = demo(_config(args, DEMO_OVERRIDES), run_dir=args.run_dir)
        print(f"demo report -> {path}")
    else:  # pragma: no cover - argparse restricts the choices
        raise SystemExit(f"unknown command {args.command}")


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(dispatch, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
