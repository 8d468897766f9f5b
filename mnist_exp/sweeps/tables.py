"""A sweep summary's tables: the columns shown, each cell's text, summary.md."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from mnist_exp.results.metrics import SUMMARY_MD_COLUMNS, format_value
from mnist_exp.results.status import Status


def to_markdown(summary) -> str:
    """summary.md: the ranked table (a summary.Summary), the seed repeats, then how
    each job that did not complete ended."""
    table = summary.table
    counts = Counter(table["status"])
    parts = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    lines = [
        f"# Sweep summary: {summary.root}",
        "",
        f"{len(table)} jobs ({parts or 'none'}), ranked by `{summary.objective}` "
        f"({summary.direction}), best first.",
    ]
    if summary.common:
        lines += ["", "Every job: `" + " ".join(summary.common) + "`"]
    if len(summary.objectives) > 1:
        lines += [
            "",
            "`pareto`: on the Pareto front of "
            + ", ".join(f"`{m}`" for m in summary.objectives)
            + " (no other completed job is as good in all and better in one).",
        ]
    shown = [c for c in display_columns(summary) if c not in ("message",)]
    lines += ["", *_markdown_table(table, shown)]
    if summary.repeats is not None:
        lines += ["", "## Seed repeats", ""]
        lines += [
            f"Jobs that differ only in `training.seed`, grouped: mean ± standard deviation "
            f"over each configuration's completed jobs, ranked by `{summary.objective}`.",
            "",
            *_markdown_table(*repeats_table(summary)),
        ]
    for title, jobs in (("Pruned", summary.pruned), ("Not completed", summary.failed)):
        if len(jobs):
            lines += ["", f"## {title}", ""]
            lines += [f"- {line}" for line in how_they_ended(jobs, job_column(table))]
    return "\n".join(lines) + "\n"


def how_they_ended(jobs: pd.DataFrame, ident: str) -> list[str]:
    """A line per job: "job 3: pruned after epoch 1", "job 0: failed, nan_loss: ..."."""
    lines = []
    for _, row in jobs.iterrows():
        line = f"{ident} {format_cell(row[ident], ident)}: {row['status']}"
        if row["status"] == Status.PRUNED:
            line += f" after epoch {format_cell(row.get('stopped_epoch'), 'stopped_epoch')}"
        why = ": ".join(str(x) for x in (row["reason"], row["message"]) if not _missing(x))
        lines.append(line + (f", {why}" if why else ""))
    return lines


def display_columns(summary) -> list[str]:
    """rank, job, the swept overrides, status, then the metrics that have values."""
    table = summary.table
    metric_cols = [summary.objective] + [c for c in SUMMARY_MD_COLUMNS if c != summary.objective]
    present = [c for c in metric_cols if table[c].notna().any()]
    reason = ["reason"] if table["reason"].notna().any() else []
    pareto = ["pareto"] if "pareto" in table else []
    return ["rank", job_column(table), *summary.swept, *pareto, "status", *reason, *present]


def repeats_table(summary, metrics: list[str] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """The seed-repeat groups with "mean ± std" cells (of `metrics`, or of all), and the
    columns to show."""
    grouped = summary.repeats
    means = [c for c in grouped.columns if c.endswith(" mean")]
    if metrics is not None:
        means = [f"{m} mean" for m in metrics if f"{m} mean" in grouped]
    shown = grouped[[c for c in grouped.columns if not c.endswith((" mean", " std"))]].copy()
    for column in means:
        metric = column.removesuffix(" mean")
        if grouped[column].notna().any():
            shown[metric] = [
                f"{format_cell(m, metric)} ± {format_cell(d, metric) or '-'}"
                for m, d in zip(grouped[column], grouped[f"{metric} std"], strict=True)
            ]
    return shown, list(shown.columns)


def job_column(table: pd.DataFrame) -> str:
    """The column that names a job: its number in one sweep, its path across sweeps."""
    return "job" if table["job"].notna().all() and table["job"].is_unique else "path"


def short_names(keys: list[str]) -> dict[str, str]:
    """Override keys by their last part (learning_rate for optimizer.learning_rate)
    where that part is unique among `keys`; for narrow console tables."""
    last = [key.rsplit(".", 1)[-1] for key in keys]
    return {k: s if last.count(s) == 1 else k for k, s in zip(keys, last, strict=True)}


def format_cell(value, column: str) -> str:
    """One table cell: metrics as the vocabulary prints them, other numbers to 3
    significant digits, text as it is, gaps empty."""
    if _missing(value):
        return ""
    if isinstance(value, float):
        return format_value(value, column)
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else ""
    return str(value)


def _missing(value) -> bool:
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))


def _markdown_table(table: pd.DataFrame, columns: list[str]) -> list[str]:
    def escape(text: str) -> str:
        return text.replace("|", "\\|")

    numeric = [pd.api.types.is_numeric_dtype(table[c]) for c in columns]
    lines = ["| " + " | ".join(escape(c) for c in columns) + " |"]
    lines.append("|" + "|".join("---:" if n else "---" for n in numeric) + "|")
    for _, row in table.iterrows():
        lines.append("| " + " | ".join(escape(format_cell(row[c], c)) for c in columns) + " |")
    return lines
