"""A sweep's ranked table on the console."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mnist_exp.results.status import Status


def print_sweep(console: Console, summary) -> None:
    """The ranked table of a sweep (a summary.Summary), best first; failures in red,
    pruned jobs in yellow. Text from the jobs is printed as it is, never as markup.

    Narrower than summary.md, to fit a terminal: swept keys by their last part, the
    objective, test accuracy and seconds; status only when a job did not complete,
    with a line for each such job below the table (tables.how_they_ended).
    """
    from pandas.api.types import is_numeric_dtype

    from mnist_exp.sweeps.tables import format_cell, how_they_ended, job_column, short_names

    failed = (summary.table["status"] != Status.COMPLETED).any()
    metrics = list(dict.fromkeys([summary.objective, "test/accuracy", "wall_seconds"]))
    columns = [
        "rank",
        job_column(summary.table),
        *summary.swept,
        *(["pareto"] if "pareto" in summary.table else []),
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
    styles = {Status.COMPLETED: None, Status.PRUNED: "yellow"}
    for _, row in summary.table.iterrows():
        style = styles.get(row["status"], "red")
        table.add_row(*(escape(format_cell(row[c], c)) for c in columns), style=style)
    console.print(
        f"[bold]sweep {escape(str(summary.root))}[/]: {len(summary.table)} jobs, "
        f"ranked by {summary.objective} ({summary.direction})",
        highlight=False,
        soft_wrap=True,
    )
    console.print(table)
    if summary.common:
        console.print("every job: " + escape(" ".join(summary.common)), highlight=False)
    if summary.repeats is not None:
        print_repeats(console, summary)
    for style, jobs in (("yellow", summary.pruned), ("red", summary.failed)):
        for line in how_they_ended(jobs, columns[1]):
            console.print(f"[{style}]{escape(line)}[/]", highlight=False, soft_wrap=True)


def _header(name: str) -> str:
    """A long column name on two lines, broken after its last / _ or ."""
    cut = max(name.rfind(sep) for sep in "/_.")
    return f"{name[: cut + 1]}\n{name[cut + 1 :]}" if len(name) > 9 and cut > 0 else name


def print_repeats(console: Console, summary) -> None:
    """The seed-repeat groups: each configuration's mean ± std, best first."""
    from mnist_exp.sweeps.tables import format_cell, repeats_table, short_names

    shown, columns = repeats_table(summary, [summary.objective, "test/accuracy"])
    columns = [c for c in columns if c != "jobs"]
    names = {**short_names(columns), "rank": "#"}
    table = Table(box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False, show_edge=False)
    for column in columns:
        table.add_column(_header(names.get(column, column)))
    for _, row in shown.iterrows():
        table.add_row(*(escape(format_cell(row[c], c)) for c in columns))
    console.print(f"[bold]seed repeats[/]: {len(shown)} configurations", highlight=False)
    console.print(table)
