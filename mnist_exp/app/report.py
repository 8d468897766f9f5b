"""The `mnist-exp-report` command: `PATH` rebuilds a sweep's summary from its jobs'
files; `compare RUN_A RUN_B [RUN ...]` shows how runs differ."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mnist_exp.app import startup

COMPARE = "compare"  # the subcommand; a directory of that name is given as ./compare
WIDE = 1000  # columns of compare's output to a file or pipe: wide enough for any table


def main(argv: list[str] | None = None) -> None:
    startup.run_command(lambda: report(argv))


def report(argv: list[str] | None = None) -> int:
    """Print the ranked table of a sweep or outputs directory and write its summary files;
    or, with `compare` first, compare runs. Dispatched on the first word, since argparse's
    subparsers would not take a bare PATH beside them."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == [COMPARE]:
        return compare_runs(args[1:])
    return summarize(args)


def summarize(argv: list[str]) -> int:
    """`mnist-exp-report PATH [--no-write]`."""
    from rich.console import Console

    from mnist_exp.results.console import print_error
    from mnist_exp.sweeps.console import print_sweep
    from mnist_exp.sweeps.resuming import describe_pending
    from mnist_exp.sweeps.summary import build, write

    parser = argparse.ArgumentParser(
        prog="mnist-exp-report",
        description="Rebuild summary.csv, summary.md, plots/sweep.png and report.html (a page "
        "that opens offline) of a sweep, or of every run and sweep under an outputs "
        "directory, from the jobs' .hydra/ files and metrics.json. "
        "Works on sweeps still running or interrupted, and says which jobs "
        "`mnist-exp resume=SWEEP_DIR` would launch again. "
        f"`mnist-exp-report {COMPARE} RUN_A RUN_B [RUN ...]` compares runs instead: the "
        "config keys they differ in, their metrics with deltas, their curves in one figure "
        f"(`mnist-exp-report {COMPARE} --help`).",
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


def compare_runs(argv: list[str]) -> int:
    """`mnist-exp-report compare RUN_A RUN_B [RUN ...] [--output PATH] [--no-write]`."""
    from rich.console import Console

    from mnist_exp.errors import UserError, first_line
    from mnist_exp.results import compare, files
    from mnist_exp.results.console import print_error

    parser = argparse.ArgumentParser(
        prog=f"mnist-exp-report {COMPARE}",
        description="Compare runs (run directories or sweep jobs, SWEEP/3): the keys their "
        "resolved configs (.hydra/config.yaml) differ in, their metrics.json side by side "
        "with each run's delta against the first, and their history.csv curves in one "
        "figure.",
    )
    parser.add_argument("runs", nargs="*", type=Path, metavar="RUN", help="two runs or more")
    parser.add_argument(
        "--output", type=Path, default=Path("compare.png"), help="the figure (compare.png)"
    )
    parser.add_argument("--no-write", action="store_true", help="print the tables only")
    args = parser.parse_args(argv)
    try:
        runs = compare.read_runs(args.runs)
    except UserError as exc:
        print_error(str(exc))
        return 2
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=WIDE)  # a file or pipe has no width: tables are not wrapped
    print_comparison(console, runs)
    if args.no_write:
        return 0
    try:
        written = files.write_figure(args.output, compare.curves(runs))
    except (OSError, ValueError) as exc:  # a folder that cannot be written, an unknown format
        print_error(f"cannot write {args.output}: {first_line(exc)}")
        return 2
    console.print(f"wrote {written}", highlight=False, markup=False)
    return 0


def print_comparison(console, runs) -> None:
    """The config keys that differ, then the metrics with deltas. Text from the runs'
    files is printed as it is, never as markup; better and worse are words, not only
    colours, so that the tables read the same in a file or a pipe."""
    from rich.text import Text

    from mnist_exp.results import compare

    rows = compare.config_rows(runs)
    differ = {0: "no differences", 1: "1 key differs"}.get(len(rows), f"{len(rows)} keys differ")
    console.print(Text.assemble(("config", "bold"), f": {differ}"))
    for run in runs:
        if run.config is None:
            console.print(Text(f"{run.label} has no {compare.CONFIG}: its config is not compared"))
    if rows:
        console.print(_table(["key", *[run.label for run in runs]], rows, right=False))
    console.print()
    console.print(Text.assemble(("metrics", "bold"), f": deltas against {runs[0].label}"))
    console.print(_table(compare.metric_header(runs), compare.metric_rows(runs), right=True))


def _table(header: list[str], rows, right: bool):
    """A table as a sweep's is printed (sweeps/console.py), of plain Text cells: values
    right-aligned when they are numbers."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    styles = {"better": "green", "worse": "red", "missing": "dim"}
    table = Table(box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False, show_edge=False)
    for i, name in enumerate(header):
        table.add_column(Text(name), justify="right" if right and i else "left")
    for row in rows:
        table.add_row(*(Text(cell.text, style=styles.get(cell.mark, "")) for cell in row))
    return table


if __name__ == "__main__":
    main()
