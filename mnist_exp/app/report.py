"""The `mnist-exp-report PATH` command: rebuild a sweep's summary from its jobs' files."""

from __future__ import annotations

import argparse
from pathlib import Path

from mnist_exp.app import startup


def main(argv: list[str] | None = None) -> None:
    startup.run_command(lambda: report(argv))


def report(argv: list[str] | None = None) -> int:
    """Print the ranked table of a sweep or outputs directory and write its summary files."""
    from rich.console import Console

    from mnist_exp.results.console import print_error
    from mnist_exp.sweeps.console import print_sweep
    from mnist_exp.sweeps.resuming import describe_pending
    from mnist_exp.sweeps.summary import build, write

    parser = argparse.ArgumentParser(
        prog="mnist-exp-report",
        description="Rebuild summary.csv, summary.md and plots/sweep.png of a sweep (or of "
        "every run under an outputs directory) from the jobs' .hydra/ files and metrics.json. "
        "Works on sweeps still running or interrupted, and says which jobs "
        "`mnist-exp resume=SWEEP_DIR` would launch again.",
    )
    parser.add_argument("path", type=Path, help="a sweep directory or any folder of runs")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    args = parser.parse_args(argv)
    if not args.path.is_dir():
        print_error(f"{args.path} is not a directory")
        return 2
    summary = build(args.path)
    if summary.table.empty:
        print_error(f"no run directories under {args.path}")
        return 2
    console = Console()
    print_sweep(console, summary)
    pending = describe_pending(args.path)
    if pending:
        console.print(pending, highlight=False, markup=False)
    if not args.no_write:
        written = write(summary)
        console.print("wrote " + ", ".join(str(p) for p in written), highlight=False)
    return 0


if __name__ == "__main__":
    main()
