"""What a person reads at the end of a run, on the console."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table


def print_run(console: Console, metrics: dict, run_dir: Path) -> None:
    table = Table(title="mnist-exp run", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    n = metrics["test/correct"] + metrics["test/incorrect"]
    rows = [
        ("status", metrics["status"]),
        ("test accuracy", f"{metrics['test/accuracy']:.4f}"),
        ("correct / incorrect", f"{metrics['test/correct']} / {metrics['test/incorrect']} of {n}"),
        ("test loss", f"{metrics['test/loss']:.4f}"),
        (
            "best val accuracy",
            f"{metrics['val/accuracy']:.4f} (epoch {metrics['val/best_epoch']})",
        ),
        ("epochs", str(metrics["epochs"])),
        (
            "fit time",
            f"{metrics['train/seconds']:.1f} s "
            f"({metrics['train/samples_per_second']:,.0f} samples/s)",
        ),
        ("wall time", f"{metrics['wall_seconds']:.1f} s"),
        ("run directory", str(run_dir)),
    ]
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)
