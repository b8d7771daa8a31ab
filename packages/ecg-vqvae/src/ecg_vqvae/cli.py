"""`ecg-vqvae` console script: one subcommand per verb, each calling one function.

prepare | train | train-forecaster | evaluate | forecast | bench | seed-tables | demo, plus the core's export |
config | sweep | summarize | pretrained. Heavy imports happen inside `dispatch`, so `--help` is instant.
"""

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
from sigzoo_shared.export import add_export_verb

from ecg_vqvae import __version__

if TYPE_CHECKING:
    from ecg_vqvae.config import Config

MODULE = "ecg_vqvae"


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
        "evaluate",
        help="reconstruction, codebook and forecast scores on unseen records (any WFDB records)",
    )
    p.add_argument("--run-dir", type=Path, required=True, help="a trained VQ-VAE or forecaster run")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder of WFDB records to score (default: the run's data, its test records)",
    )
    p.add_argument(
        "--records",
        nargs="+",
        default=[],
        metavar="NAME",
        help="record names in --data-dir (default: every record not used in training)",
    )
    p.add_argument(
        "--out", type=Path, default=None, help="where results go (default: the run directory)"
    )
    p.add_argument(
        "--allow-training-records",
        action="store_true",
        help="score records the model was trained/validated on, flagged (otherwise refused)",
    )
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        help="YAML of overrides; only keys that cannot change the model (the stored config wins)",
    )
    p.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="e.g. evaluate.n_samples=16 data.forecast_stride_s=10 data.signals_per_patient=100",
    )
    p.add_argument(
        "--max-examples-per-record",
        type=int,
        default=None,
        help="evenly spaced subset of forecast examples per record (evaluate.max_examples_per_record)",
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

    p = sub.add_parser(
        "seed-tables",
        help="mean ± std over evaluated runs: methods per horizon and per record (markdown)",
    )
    p.add_argument("runs", type=Path, nargs="+", metavar="RUN", help="folders with results.json")

    p = sub.add_parser("demo", help="synthetic ECG -> short training -> evaluation -> report.md")
    add_config_args(p)
    add_export_verb(sub)
    add_common_verbs(sub)
    return parser


def dispatch(args: argparse.Namespace) -> None:
    from ecg_vqvae.config import Config

    if dispatch_common(args, Config, MODULE):
        return
    if args.command == "export":
        from sigzoo_shared.export import dispatch_export

        from ecg_vqvae.api import export_spec

        dispatch_export(args, load=_export_source, spec=export_spec)
        return
    if args.command == "prepare":
        from ecg_vqvae.prepare import prepare

        extra = [f"data.data_dir={args.data_dir}"] if args.data_dir else []
        cfg = config_from_args(Config, args, MODULE, extra)
        out = prepare(cfg, args.run_dir, download=args.download)
        print(f"prepared: {out}")
    elif args.command == "train":
        from ecg_vqvae.train import train_vqvae

        cfg = _config_for_resume(args) if args.resume else config_from_args(Config, args, MODULE)
        result = train_vqvae(cfg, args.run_dir, resume=args.resume)
        print(f"trained: {result.run_dir} (best {result.monitor}={result.best_metric:.4g})")
    elif args.command == "train-forecaster":
        from ecg_vqvae.train import train_forecaster

        cfg = _config_for_resume(args) if args.resume else config_from_args(Config, args, MODULE)
        result = train_forecaster(cfg, args.vqvae, args.run_dir, resume=args.resume)
        print(
            f"trained forecaster: {result.run_dir} (best {result.monitor}={result.best_metric:.4g})"
        )
    elif args.command == "evaluate":
        from ecg_vqvae.evaluate import evaluate_run

        overrides = list(args.overrides)
        if args.max_examples_per_record is not None:
            overrides.append(f"evaluate.max_examples_per_record={args.max_examples_per_record}")
        results = evaluate_run(
            args.run_dir,
            args.data_dir,
            args.records,
            args.out,
            args.allow_training_records,
            overrides,
            args.config,
        )
        rec = results["reconstruction"]["pooled"]
        out = args.out or args.run_dir
        print(
            f"evaluated: {out}/results.md ({len(results['test_records'])} records, "
            f"PRD {rec['prd_pct']:.2f} %)"
        )
    elif args.command == "forecast":
        from ecg_vqvae.evaluate import forecast_record

        fig, csv = forecast_record(args.run_dir, args.record, args.start, args.out_dir)
        print(f"forecast: {fig} {csv}")
    elif args.command == "bench":
        from ecg_vqvae.bench import run_bench

        md = run_bench(args.run_dir, batch_size=args.batch_size, repeat=args.repeat)
        print(f"bench: {md}")
    elif args.command == "seed-tables":
        from ecg_vqvae.summary import summarize

        print(summarize(args.runs))
    elif args.command == "demo":
        from ecg_vqvae.demo import DEMO_OVERRIDES, run_demo

        cfg = config_from_args(Config, args, MODULE, DEMO_OVERRIDES)
        report = run_demo(cfg, args.run_dir)
        print(f"demo: {report}")
    else:  # pragma: no cover - argparse rejects unknown verbs
        raise SystemExit(f"unknown command {args.command}")


def _export_source(args: argparse.Namespace):  # noqa: ANN202 - a core LoadedRun
    """What `export` writes: a run's best model (VQ-VAE or forecaster) or a shipped one."""
    from ecg_vqvae.api import pretrained_run
    from ecg_vqvae.train import load_model

    return pretrained_run(args.pretrained) if args.pretrained else load_model(args.run_dir)


def _config_for_resume(args: argparse.Namespace) -> Config:
    """On --resume the run's stored config.yaml wins (the core's `resume_config`): overrides may change
    only resumable keys (epochs, device, ...) and `config.CHANGEABLE_ON_RESUME`, else a ConfigError
    names the key; its last.pt is checked before any record is read."""
    from sigzoo_shared.runs import resume_config

    from ecg_vqvae.config import CHANGEABLE_ON_RESUME, Config

    return resume_config(
        Config,
        args.resume,
        quick_list(Config, args) + user_overrides(args),
        config_file=args.config,
        changeable=CHANGEABLE_ON_RESUME,
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(dispatch, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
