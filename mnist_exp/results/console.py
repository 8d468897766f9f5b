"""What a person reads on the console: a run's report, and the one-line error."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mnist_exp.results.metrics import DEFAULT_OBJECTIVE, format_value


def print_error(message: str) -> None:
    """The red `error:` line on stderr. The message is text, never rich markup: it may
    quote [brackets] (logger=[a,b], 'mnist-exp[tracking]')."""
    Console(stderr=True).print(
        f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True
    )


def stopped(metrics: dict) -> str:
    """How a callback ended the run early, and whose weights the model has."""
    notes = []
    if metrics.get("stopped_epoch"):
        notes.append(f"stopped after epoch {metrics['stopped_epoch']}: {metrics['stop_reason']}")
    if metrics.get("weights_epoch"):
        notes.append(f"weights of epoch {metrics['weights_epoch']}")
    return f" ({'; '.join(notes)})" if notes else ""


def print_run(
    console: Console, metrics: dict, run_dir: Path, best_by: str = DEFAULT_OBJECTIVE
) -> None:
    """The run's table; best_by: the metric that picked its best epoch."""
    table = Table(title="mnist-exp run", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    n = metrics["test/correct"] + metrics["test/incorrect"]

    def shown(name: str) -> str:
        return format_value(metrics[name], name)

    rows = [
        ("status", metrics["status"]),
        ("test accuracy", shown("test/accuracy")),
        ("correct / incorrect", f"{metrics['test/correct']} / {metrics['test/incorrect']} of {n}"),
        ("test loss", shown("test/loss")),
        (
            f"best {best_by.replace('/', ' ')}",
            f"{shown(best_by)} (epoch {metrics['val/best_epoch']})",
        ),
        ("epochs", str(metrics["epochs"]) + stopped(metrics)),
        (
            "fit time",
            f"{shown('train/seconds')} s ({shown('train/samples_per_second')} samples/s)",
        ),
        ("wall time", f"{shown('wall_seconds')} s"),
        ("run directory", str(run_dir)),
    ]
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)
