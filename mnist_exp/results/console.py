"""What a person reads on the console: a run's report, and the one-line error."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mnist_exp.results.metrics import DEFAULT_OBJECTIVE, Metric, console_rows, display


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
    """The run's table: its status, a row per metric the vocabulary places in it, its
    directory; best_by: the metric that picked its best epoch."""
    table = Table(title="mnist-exp run", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    rows = [("status", metrics["status"])]
    rows += [ROWS.get(m.name, _value)(m, metrics, best_by) for m in console_rows()]
    rows.append(("run directory", str(run_dir)))
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)


def _value(metric: Metric, metrics: dict, best_by: str) -> tuple[str, str]:
    return metric.label, display(metrics[metric.name], metric.name)


def _counts(metric: Metric, metrics: dict, best_by: str) -> tuple[str, str]:
    correct, incorrect = metrics["test/correct"], metrics["test/incorrect"]
    return metric.label, f"{correct} / {incorrect} of {correct + incorrect}"


def _best(metric: Metric, metrics: dict, best_by: str) -> tuple[str, str]:
    label = f"{metric.label} {best_by.replace('/', ' ')}"
    return label, f"{display(metrics[best_by], best_by)} (epoch {metrics[metric.name]})"


def _epochs(metric: Metric, metrics: dict, best_by: str) -> tuple[str, str]:
    return metric.label, str(metrics[metric.name]) + stopped(metrics)


def _fit(metric: Metric, metrics: dict, best_by: str) -> tuple[str, str]:
    rate = display(metrics["train/samples_per_second"], "train/samples_per_second")
    return metric.label, f"{display(metrics[metric.name], metric.name)} ({rate} samples/s)"


# Rows that read more than their own metric's value; every other row is label and value.
ROWS = {"test/correct": _counts, "val/best_epoch": _best, "epochs": _epochs, "train/seconds": _fit}
