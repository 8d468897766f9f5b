"""The `mnist-exp-sync` command: run and sweep directories sent to MLflow afterwards
(sweeps/sync.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mnist_exp.app import startup


def main(argv: list[str] | None = None) -> None:
    startup.run_command(lambda: sync_command(argv))


def sync_command(argv: list[str] | None = None) -> int:
    """`mnist-exp-sync DIR [DIR ...] [--tracking-uri URI] [--experiment NAME]`."""
    from mnist_exp.errors import UserError, first_line
    from mnist_exp.results.console import print_error
    from mnist_exp.sweeps.sync import sync

    parser = argparse.ArgumentParser(
        prog="mnist-exp-sync",
        description="Send run and sweep directories to MLflow: what a tracker missed (a "
        "server that was down, runs made offline or on a cluster without a network). Each "
        "run gets its config as params, its epochs, final metrics, status and artifacts; "
        "a sweep is a parent run with its jobs nested under it. A run already in MLflow "
        "(logged live, or synced before) is completed, never copied: running it twice "
        "adds nothing.",
    )
    parser.add_argument("dirs", nargs="+", type=Path, help="run or sweep directories")
    parser.add_argument(
        "--tracking-uri",
        help="where to send them (default: MLFLOW_TRACKING_URI, else the run's "
        "logger.mlflow.tracking_uri, else sqlite:///outputs/mlflow.db)",
    )
    parser.add_argument(
        "--experiment", help="the MLflow experiment (default: the run's, else mnist-exp)"
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        counts = sync(args.dirs, args.tracking_uri, args.experiment)
    except UserError as exc:
        print_error(first_line(exc))
        return exc.exit_code
    print(", ".join(f"{n} {word}" for word, n in counts.items() if n) or "nothing to send")
    return 0
