"""A sweep summary's tables: the columns shown, each cell's text, summary.md."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from mnist_exp.results.metrics import SUMMARY_MD_COLUMNS, format_value


def to_markdown(summary) -> str:
    """summary.md: the ranked table (a summary.Summary), then why each other job ended."""
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
    shown = [c for c in display_columns(summary) if c not in ("message",)]
    lines += ["", *_markdown_table(table, shown)]
    failed = summary.failed
    if len(failed):
        lines += ["", "## Not completed", ""]
        for _, row in failed.iterrows():
            why = ": ".join(str(x) for x in (row["reason"], row["message"]) if not _missing(x))
            ident = job_column(table)
            lines.append(f"- {ident} {format_cell(row[ident], ident)}: {row['status']}")
            lines[-1] += f", {why}" if why else ""
    return "\n".join(lines) + "\n"


def display_columns(summary) -> list[str]:
    """rank, job, the swept overrides, status, then the metrics that have values."""
    table = summary.table
    metric_cols = [summary.objective] + [c for c in SUMMARY_MD_COLUMNS if c != summary.objective]
    present = [c for c in metric_cols if table[c].notna().any()]
    reason = ["reason"] if table["reason"].notna().any() else []
    return ["rank", job_column(table), *summary.swept, "status", *reason, *present]


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
