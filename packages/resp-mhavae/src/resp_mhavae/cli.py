"""`resp-mhavae` console script: one subcommand per verb, each calling one function."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sigzoo_shared.cli import base_parser, run_main

from resp_mhavae import __version__


def build_parser() -> argparse.ArgumentParser:
    parser, _sub = base_parser("resp-mhavae", "Multi-head-attention VAE + LSTM anomaly detection on multi-modal breathing sensors.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def dispatch(args: argparse.Namespace) -> None:
    raise SystemExit(f"unknown command {args.command}")


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(dispatch, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
