"""Seed repeats: jobs whose overrides differ only in training.seed are one
configuration measured several times. Grouped, each configuration gets the count,
mean and standard deviation (n - 1 in the denominator, pandas' default) of each
metric over its completed jobs, ranked by the objective's mean; the jobs' own rows
stay in summary.csv."""

from __future__ import annotations

import pandas as pd

from mnist_exp.results.metrics import SUMMARY_MD_COLUMNS
from mnist_exp.results.status import Status

SEED = "training.seed"


def group(summary) -> pd.DataFrame | None:
    """The configurations of a summary.Summary with their seeds' statistics; None when
    no configuration was run with more than one seed."""
    if SEED not in summary.swept:
        return None
    table = summary.table
    keys = [k for k in summary.swept if k != SEED]
    metrics = [summary.objective] + [
        m for m in SUMMARY_MD_COLUMNS if m != summary.objective and m in table
    ]
    done = table[table["status"] == Status.COMPLETED]
    if done.empty:
        return None
    by = done.groupby(keys, dropna=False, sort=False) if keys else [((), done)]
    rows = []
    for values, jobs in by:
        values = values if isinstance(values, tuple) else (values,)
        row = dict(zip(keys, values, strict=True))
        row["seeds"] = len(jobs)
        row["jobs"] = " ".join(str(j) for j in jobs["job"])
        for metric in metrics:
            numbers = pd.to_numeric(jobs[metric], errors="coerce").astype(float)
            row[f"{metric} mean"] = numbers.mean()
            row[f"{metric} std"] = numbers.std()
        rows.append(row)
    if max(row["seeds"] for row in rows) < 2:
        return None
    grouped = pd.DataFrame(rows)
    ascending = summary.direction == "minimize"
    grouped = grouped.sort_values(f"{summary.objective} mean", ascending=ascending, kind="stable")
    grouped.insert(0, "rank", range(1, len(grouped) + 1))
    return grouped.reset_index(drop=True)
