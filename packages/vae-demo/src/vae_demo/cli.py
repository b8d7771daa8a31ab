"""`vae-demo` console script: one subcommand per verb, each calling one function.

vae-demo generate --run-dir data/              write series.npz + series.csv
vae-demo train [--config my.yaml] [k=v ...]    train, figures and metrics every epoch
vae-demo watch RUN                             follow a run from its files (or: tensorboard --logdir RUN)
vae-demo encode --run-dir RUN [--input F]      the encoder test (+ the latent of a series file)
vae-demo score --run-dir RUN                   ARI/NMI/... of a run -> RUN/results.json
vae-demo sweep --root R --seeds 85 86 87 -- train ...   one run per seed + summary.md
vae-demo bench --run-dir DIR                   epoch time and peak memory on the default data
vae-demo demo --run-dir DIR                    a short run + report.md
vae-demo export --run-dir RUN --out enc.onnx   the encoder as ONNX (+ enc.onnx.json: scaling, parity)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from sigzoo_shared.cli import (
    add_common_verbs,
    add_config_args,
    base_parser,
    config_from_args,
    dispatch_common,
    packaged_config,
    quick_list,
    run_main,
    user_overrides,
)
from sigzoo_shared.export import add_export_verb, dispatch_export

from vae_demo import __version__

PACKAGE = "vae_demo"


def build_parser() -> argparse.ArgumentParser:
    parser, sub = base_parser(
        "vae-demo",
        "A VAE that clusters repeating patterns in a time series, with per-epoch latent plots.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")

    p = sub.add_parser("generate", help="write the synthetic series (series.npz + series.csv)")
    add_config_args(p)

    p = sub.add_parser("train", help="train the VAE; figures, metrics and checkpoints every epoch")
    add_config_args(p)
    p.add_argument(
        "--resume",
        type=Path,
        default=None,
        metavar="RUN_DIR",
        help="continue an interrupted run from its last checkpoint",
    )

    p = sub.add_parser("watch", help="follow a run in progress (metrics per epoch, newest figures)")
    p.add_argument("run", type=Path, nargs="?", default=None, help="run directory")
    p.add_argument("--run-dir", type=Path, default=None, help="run directory (same as RUN)")
    p.add_argument("--once", action="store_true", help="print what is there and exit")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between polls (default 5)")
    p.add_argument(
        "--idle-timeout",
        type=float,
        default=600.0,
        help="stop after this many seconds without a new epoch (default 600)",
    )

    p = sub.add_parser(
        "encode", help="encoder test of a trained run; --input encodes a series file"
    )
    p.add_argument("--run-dir", type=Path, required=True, help="a train or demo run directory")
    p.add_argument("--input", type=Path, default=None, help="series file (.npz/.csv) to encode")
    p.add_argument(
        "--out-dir", type=Path, default=None, help="where to write (default: the run dir)"
    )

    p = sub.add_parser(
        "score",
        help="score a run's last checkpoint on its validation windows -> RUN/results.json",
        description="ARI, NMI, silhouette, noise AUC, losses and chance levels of a run, the "
        "numbers behind the seed tables (`vae-demo summarize RUN... --keys ari nmi`).",
    )
    p.add_argument("--run-dir", type=Path, required=True, help="a train run directory")
    p.add_argument(
        "--precise-bn",
        type=int,
        default=0,
        metavar="N",
        help="recompute BatchNorm statistics from N training batches first",
    )

    p = sub.add_parser("bench", help="epoch time and peak memory on the default data")
    add_config_args(p)
    p.add_argument("--repeat", type=int, default=5, help="timed steps per case (default 5)")

    p = sub.add_parser("demo", help="short training on generated data + report.md (a few minutes)")
    add_config_args(p)
    add_common_verbs(sub)
    add_export_verb(sub)
    return parser


def _load_for_export(args: argparse.Namespace) -> object:
    from vae_demo.api import load_pretrained, load_run

    return load_pretrained(args.pretrained) if args.pretrained else load_run(args.run_dir)


def _pack(args: argparse.Namespace) -> Path:
    """`vae-demo pretrained pack`: the run's last checkpoint with the scaling and the cluster
    centres the API needs (api.pack_run); card figures: scripts/pack_pretrained.py."""
    from sigzoo_shared.pretrained import pretrained_root, read_meta

    from vae_demo.api import pack_run

    dest = args.out if args.out is not None else pretrained_root(PACKAGE) / args.name
    card = args.card.read_text(encoding="utf-8")
    return pack_run(args.run_dir, dest, card, read_meta(args.meta), half=args.half)


# a series file may move between a run and its resumption; every other stored key stays
CHANGEABLE_ON_RESUME = ("data.series_path",)


def dispatch(args: argparse.Namespace) -> None:
    from sigzoo_shared import ConfigError

    from vae_demo.config import Config

    # the shipped model carries the scaling and the k-means centres beside the weights: our own pack
    if dispatch_common(args, Config, PACKAGE, pack=_pack):
        return
    if args.command == "export":
        from vae_demo.export import export_spec

        dispatch_export(args, load=_load_for_export, spec=export_spec)
        return
    if args.command == "generate":
        from vae_demo.generator import generate

        cfg = config_from_args(Config, args, PACKAGE)
        out = args.run_dir or Path("runs/vae-demo/data")
        paths = generate(cfg.data, out)
        print(f"wrote {paths['npz']} and {paths['csv']}")
    elif args.command == "train":
        from vae_demo.train import train

        if args.resume is not None:
            from sigzoo_shared.runs import resume_config

            from vae_demo.config import check_run

            check_run(args.resume, resuming=True)  # one that today's code would rebuild differently
            cfg = resume_config(  # the run's own config; its last.pt is checked before any data
                Config,
                args.resume,
                quick_list(Config, args) + user_overrides(args),
                config_file=args.config,
                changeable=CHANGEABLE_ON_RESUME,
            )
        else:
            cfg = config_from_args(Config, args, PACKAGE)
        result = train(cfg, run_dir=args.run_dir, resume=args.resume)
        last = result.history[-1] if result.history else {}
        print(
            f"trained {result.epochs_completed} epochs: val_ari={last.get('val_ari', float('nan')):.3f} "
            f"best {result.monitor}={result.best_metric} -> {result.run_dir}"
        )
    elif args.command == "watch":
        from vae_demo.watch import watch

        run = args.run or args.run_dir
        if run is None:
            raise ConfigError(
                "watch: give a run directory (vae-demo watch runs/vae-demo/train-...)"
            )
        watch(run, follow=not args.once, interval_s=args.interval, idle_timeout_s=args.idle_timeout)
    elif args.command == "encode":
        from vae_demo.evaluate import encode_test

        result = encode_test(args.run_dir, args.out_dir, input_path=args.input)
        summary = ", ".join(
            f"{r['set']}: acc {r['nearest_centroid_accuracy']:.3f}"
            for r in result["sets"]
            if "nearest_centroid_accuracy" in r
        )
        print(f"encoded {len(result['sets'])} sets ({summary}) -> {result['figure']}")
    elif args.command == "score":
        from vae_demo.train import score_run

        r = score_run(args.run_dir, args.precise_bn)
        print(
            f"{args.run_dir}: epoch {r['epoch']} ARI {r['ari']:.3f} NMI {r['nmi']:.3f} "
            f"(chance 0 / {r['nmi_chance']:.3f}) noise AUC {r['noise_auc']:.3f} "
            f"explained {r['explained']:.3f} -> {Path(args.run_dir) / 'results.json'}"
        )
    elif args.command == "bench":
        from vae_demo.bench import bench

        cfg = config_from_args(Config, args, PACKAGE)
        out = args.run_dir or Path("runs/vae-demo/bench")
        bench(cfg, out, repeat=args.repeat)
        print(f"wrote {out / 'bench.md'}")
    elif args.command == "demo":
        from vae_demo.demo import demo

        if args.config is None:
            args.config = packaged_config(PACKAGE, "demo.yaml")
        cfg = config_from_args(Config, args, PACKAGE)
        print(f"report: {demo(cfg, run_dir=args.run_dir)}")
    else:
        raise SystemExit(f"unknown command {args.command}")


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(dispatch, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
