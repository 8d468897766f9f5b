"""A sweep's ranked table on the console."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table


def print_sweep(console: Console, summary) -> None:
    """The ranked table of a sweep (a summary.Summary), best first; failures in red.

    Narrower than summary.md, to fit a terminal: swept keys by their last part, the
    objective, test accuracy and seconds; status only when a job did not complete,
    with a line for each such job below the table.
    """
    from pandas.api.types import is_numeric_dtype

    from mnist_exp.sweeps.tables import format_cell, job_column, short_names

    failed = not summary.failed.empty
    metrics = list(dict.fromkeys([summary.objective, "test/accuracy", "wall_seconds"]))
    columns = [
        "rank",
        job_column(summary.table),
        *summary.swept,
        *(["status"] if failed else []),
        *[m for m in metrics if summary.table[m].notna().any()],
    ]
    names = {**short_names(summary.swept), "rank": "#", "wall_seconds": "wall s"}
    table = Table(
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
        pad_edge=False,
        show_edge=False,
    )
    for column in columns:
        justify = "right" if is_numeric_dtype(summary.table[column]) else "left"
        table.add_column(_header(names.get(column, column)), justify=justify)
    for _, row in summary.table.iterrows():
        style = None if row["status"] == "completed" else "red"
        table.add_row(*(format_cell(row[c], c) for c in columns), style=style)
    console.print(
        f"[bold]sweep {summary.root}[/]: {len(summary.table)} jobs, "
        f"ranked by {summary.objective} ({summary.direction})",
        highlight=False,
        soft_wrap=True,
    )
    console.print(table)
    if summary.common:
        console.print("every job: " + " ".join(summary.common), highlight=False)
    for _, row in summary.failed.iterrows():
        why = ": ".join(filter(None, (format_cell(row[c], c) for c in ("reason", "message"))))
        console.print(
            f"[red]job {format_cell(row[columns[1]], columns[1])} {row['status']}[/]"
            + (f": {why}" if why else ""),
            highlight=False,
            soft_wrap=True,
        )


def _header(name: str) -> str:
    """A long column name on two lines, broken after its last / _ or ."""
    cut = max(name.rfind(sep) for sep in "/_.")
    return f"{name[: cut + 1]}\n{name[cut + 1 :]}" if len(name) > 9 and cut > 0 else name
