"""`ecg-vqvae` console script: one subcommand per verb, each calling one function.

prepare | train | train-forecaster | evaluate | forecast | bench | demo. Heavy imports happen inside
`dispatch`, so `--help` is instant.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from sigzoo_shared.cli import add_config_args, base_parser, config_from_args, run_main

from ecg_vqvae import __version__


def build_parser() -> argparse.ArgumentParser:
    parser, sub = base_parser(
        "ecg-vqvae",
        "VQ-VAE ECG model on MIT-BIH that reconstructs and forecasts the coming seconds.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")

    p = sub.add_parser("prepare", help="read and validate WFDB records, cache their windows")
    add_config_args(p)
    p.add_argument(
        "--data-dir", type=Path, default=None, help="folder of WFDB records (sets data.data_dir)"
    )
    p.add_argument(
        "--download",
        action="store_true",
        help="first download MIT-BIH (wfdb.dl_database('mitdb')) into --data-dir (needs internet)",
    )

    p = sub.add_parser("train", help="train the VQ-VAE")
    add_config_args(p)
    p.add_argument(
        "--resume", type=Path, default=None, metavar="RUN_DIR", help="continue an interrupted run"
    )

    p = sub.add_parser("train-forecaster", help="train the latent forecaster on a trained VQ-VAE")
    add_config_args(p)
    p.add_argument(
        "--vqvae", type=Path, required=True, metavar="RUN_DIR", help="trained VQ-VAE run"
    )
    p.add_argument(
        "--resume", type=Path, default=None, metavar="RUN_DIR", help="continue an interrupted run"
    )

    p = sub.add_parser(
        "evaluate", help="reconstruction, codebook and forecast errors on held-out patients"
    )
    p.add_argument(
        "--run-dir", type=Path, required=True, help="a VQ-VAE or forecaster run (results go there)"
    )
    p.add_argument(
        "--max-examples-per-record",
        type=int,
        default=None,
        help="evenly spaced subset of forecast examples per record (default: all)",
    )

    p = sub.add_parser(
        "forecast", help="forecast one record from a start time; writes a figure and a CSV"
    )
    p.add_argument("--run-dir", type=Path, required=True, help="a forecaster run")
    p.add_argument("--record", type=Path, required=True, help="WFDB record path without extension")
    p.add_argument(
        "--start", type=float, required=True, help="forecast start in s (end of the context)"
    )
    p.add_argument(
        "--out-dir", type=Path, default=None, help="where to write (default: the run dir)"
    )

    p = sub.add_parser("bench", help="training windows/s and peak RSS, default vs original variant")
    p.add_argument(
        "--run-dir", type=Path, default=None, help="output (default runs/ecg-vqvae/bench)"
    )
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--repeat", type=int, default=5)

    p = sub.add_parser("demo", help="synthetic ECG -> short training -> evaluation -> report.md")
    add_config_args(p)
    return parser


def dispatch(args: argparse.Namespace) -> None:
    from ecg_vqvae.config import Config

    if args.command == "prepare":
        from ecg_vqvae.prepare import prepare

        extra = [f"data.data_dir={args.data_dir}"] if args.data_dir else []
        cfg = config_from_args(Config, args, "ecg_vqvae", extra)
        out = prepare(cfg, args.run_dir, download=args.download)
        print(f"prepared: {out}")
    elif args.command == "train":
        from ecg_vqvae.train import train_vqvae

        cfg = (
            _config_for_resume(args) if args.resume else config_from_args(Config, args, "ecg_vqvae")
        )
        result = train_vqvae(cfg, args.run_dir, resume=args.resume)
        print(f"trained: {result.run_dir} (best {result.monitor}={result.best_metric:.4g})")
    elif args.command == "train-forecaster":
        from ecg_vqvae.train import train_forecaster

        cfg = (
            _config_for_resume(args) if args.resume else config_from_args(Config, args, "ecg_vqvae")
        )
        result = train_forecaster(cfg, args.vqvae, args.run_dir, resume=args.resume)
        print(
            f"trained forecaster: {result.run_dir} (best {result.monitor}={result.best_metric:.4g})"
        )
    elif args.command == "evaluate":
        from ecg_vqvae.evaluate import evaluate_run

        results = evaluate_run(args.run_dir, args.max_examples_per_record)
        rec = results["reconstruction"]["pooled"]
        print(f"evaluated: {args.run_dir}/results.md (test PRD {rec['prd_pct']:.2f} %)")
    elif args.command == "forecast":
        from ecg_vqvae.evaluate import forecast_record

        fig, csv = forecast_record(args.run_dir, args.record, args.start, args.out_dir)
        print(f"forecast: {fig} {csv}")
    elif args.command == "bench":
        from ecg_vqvae.bench import run_bench

        md = run_bench(args.run_dir, batch_size=args.batch_size, repeat=args.repeat)
        print(f"bench: {md}")
    elif args.command == "demo":
        from ecg_vqvae.demo import DEMO_OVERRIDES, run_demo

        cfg = config_from_args(Config, args, "ecg_vqvae", DEMO_OVERRIDES)
        report = run_demo(cfg, args.run_dir)
        print(f"demo: {report}")
    else:  # pragma: no cover - argparse rejects unknown verbs
        raise SystemExit(f"unknown command {args.command}")


def _config_for_resume(args: argparse.Namespace):
    """On --resume the run's own config.yaml is the base (overrides still apply)."""
    from sigzoo_shared.cli import overrides_from
    from sigzoo_shared.config import load_config

    from ecg_vqvae.config import Config

    path = Path(args.resume) / "config.yaml"
    if not path.is_file():
        from sigzoo_shared import CheckpointError

        raise CheckpointError(
            f"{path}: not found; --resume expects the run directory of an earlier run"
        )
    return load_config(Config, path, overrides_from(args))


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(dispatch, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
