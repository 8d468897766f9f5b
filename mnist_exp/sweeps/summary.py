"""A sweep's summary: one row per job, rebuilt from the jobs' own files.

Only each job's `.hydra/` files and `metrics.json` are read, so the summary can
be rebuilt from any sweep or outputs directory at any time: while the sweep
runs, after it was interrupted, or long after. A job directory without
metrics.json (a job that has not got that far, or was killed) is "incomplete".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mnist_exp.results import files
from mnist_exp.results.metrics import (
    DEFAULT_OBJECTIVE,
    OBJECTIVES,
    SUMMARY_COLUMNS,
    direction,
    objectives,
)
from mnist_exp.results.status import FINISHED, Status
from mnist_exp.sweeps import repeats
from mnist_exp.sweeps.tables import to_markdown

SUMMARY_CSV = "summary.csv"
SUMMARY_MD = "summary.md"
REPEATS_CSV = "summary_repeats.csv"  # jobs that differ only in training.seed, grouped
SWEEP_PLOT = "plots/sweep.png"
INCOMPLETE = "incomplete"  # no metrics.json (yet)

TEXT_COLUMNS = ["status", "reason", "message", "path"]  # status, reason before the metrics


@dataclass
class Summary:
    root: Path
    table: pd.DataFrame  # one row per job, ranked: best first, unranked (failed) last
    objective: str  # the metric jobs return to the sweeper (optimized_metric's first)
    direction: str  # "maximize" or "minimize"
    swept: list[str]  # override keys whose value differs between jobs
    common: list[str]  # overrides that every job shares, as key=value
    objectives: list[str] = field(default_factory=list)  # all of optimized_metric
    repeats: pd.DataFrame | None = None  # seed repeats grouped (sweeps/repeats.py)

    @property
    def failed(self) -> pd.DataFrame:
        """Jobs that did not end well: failed, interrupted, running or incomplete."""
        return self.table[~self.table["status"].isin(FINISHED)]

    @property
    def pruned(self) -> pd.DataFrame:
        return self.table[self.table["status"] == Status.PRUNED]


def build(root: Path) -> Summary:
    """Read every job directory under `root` (a sweep, or a folder of sweeps and runs)."""
    root = Path(root)
    jobs = find_jobs(root)
    rows = [read_job(job, root) for job in jobs]
    overrides = [row.pop("_overrides") for row in rows]
    chosen = list(
        _most_common([row.pop("_objective") for row in rows]) or objectives(DEFAULT_OBJECTIVE)
    )
    objective = chosen[0]
    metric_columns = SUMMARY_COLUMNS + [m for m in chosen if m not in SUMMARY_COLUMNS]

    keys = list(dict.fromkeys(key for job in overrides for key in job))
    swept = [k for k in keys if len({job.get(k) for job in overrides}) > 1]
    given = [row.pop("_given") for row in rows]
    common = [o for o in given[0] if _split(o)[0] not in swept] if rows else []
    table = pd.DataFrame(
        {
            "job": pd.Series([row["job"] for row in rows], dtype="Int64"),
            **{key: _typed([job.get(key) for job in overrides]) for key in keys},
            **{c: pd.Series([row[c] for row in rows], dtype=object) for c in TEXT_COLUMNS[:2]},
            **{c: _numbers([row["_metrics"].get(c) for row in rows]) for c in metric_columns},
            **{c: pd.Series([row[c] for row in rows], dtype=object) for c in TEXT_COLUMNS[2:]},
        }
    )
    table = rank(table, objective, direction(objective))
    if len(chosen) > 1:
        table.insert(table.columns.get_loc("status"), "pareto", pareto_front(table, chosen))
    summary = Summary(root, table, objective, direction(objective), swept, common, chosen)
    summary.repeats = repeats.group(summary)
    return summary


def find_jobs(root: Path) -> list[Path]:
    """Directories under `root` (itself included) that Hydra made for a job."""
    found = {p.parent.parent for p in root.rglob(".hydra/overrides.yaml")}
    found |= {p.parent for p in root.rglob(files.METRICS)}
    return sorted(found, key=_job_sort_key)


def read_job(job_dir: Path, root: Path) -> dict:
    hydra_dir = job_dir / ".hydra"
    hydra = files.read_yaml_or_empty(hydra_dir / "hydra.yaml", dict).get("hydra") or {}
    config = files.read_yaml_or_empty(hydra_dir / "config.yaml", dict)
    overrides = files.read_yaml_or_empty(hydra_dir / "overrides.yaml", list)
    result = files.read_json_or_empty(job_dir / files.METRICS) or {"status": INCOMPLETE}
    num = (hydra.get("job") or {}).get("num")
    if not isinstance(num, int):
        num = int(job_dir.name) if job_dir.name.isdigit() else None
    return {
        "job": num,
        "path": str(job_dir.relative_to(root)) if job_dir != root else ".",
        "status": result.get("status") or INCOMPLETE,
        "reason": result.get("reason"),
        "message": result.get("message"),
        "_metrics": result,
        "_overrides": dict(_split(o) for o in overrides if isinstance(o, str)),
        "_given": [o for o in overrides if isinstance(o, str)],
        "_objective": _names(config.get("optimized_metric")),
    }


def rank(table: pd.DataFrame, objective: str, direction: str) -> pd.DataFrame:
    """Completed jobs by objective, best first; then pruned ones, by objective too; then
    the rest, unranked. Ties and the rest keep the table's order (by job number, or by
    path across sweeps), as does its index."""
    parts = []
    for status in FINISHED:  # pruned jobs ranked after the completed
        done = table["status"].eq(status) & table[objective].notna()
        parts.append(
            table[done].sort_values(objective, ascending=direction == "minimize", kind="stable")
        )
    n_ranked = sum(len(p) for p in parts)
    rest = table.drop(index=[i for p in parts for i in p.index])
    out = pd.concat([*parts, rest])
    out.insert(0, "rank", pd.array([*range(1, n_ranked + 1)] + [None] * len(rest), "Int64"))
    return out


def pareto_front(table: pd.DataFrame, metrics: list[str]) -> pd.Series:
    """Whether each completed job is on the Pareto front of `metrics` (no other
    completed job is as good in all of them and better in one); empty for the rest."""
    done = table["status"].eq(Status.COMPLETED) & table[metrics].notna().all(axis=1)
    signs = [1.0 if direction(m) == "maximize" else -1.0 for m in metrics]
    scores = table.loc[done, metrics].to_numpy(dtype=float) * signs
    front = pd.Series(pd.NA, index=table.index, dtype="boolean")
    for i, index in enumerate(table.index[done]):
        others = scores[[j for j in range(len(scores)) if j != i]]
        dominated = ((others >= scores[i]).all(axis=1) & (others > scores[i]).any(axis=1)).any()
        front[index] = not dominated
    return front


def write(summary: Summary, folder: Path | None = None) -> list[Path]:
    """summary.csv (by job number), summary.md (ranked), plots/sweep.png and report.html
    in `folder`."""
    from mnist_exp.results import plots
    from mnist_exp.sweeps import page

    folder = Path(folder or summary.root)
    by_job = summary.table.sort_index()  # the order of the jobs, not of the ranking
    written = []
    if summary.repeats is not None:
        written.append(files.write_csv(folder / REPEATS_CSV, summary.repeats))
    return written + [
        files.write_csv(folder / SUMMARY_CSV, by_job),
        files.write_with(folder / SUMMARY_MD, lambda p: p.write_text(to_markdown(summary))),
        files.write_figure(
            folder / SWEEP_PLOT,
            plots.sweep(summary.table, summary.objective, _numeric(summary.table, summary.swept)),
        ),
        page.write(summary, folder),
    ]


# -- helpers ---------------------------------------------------------------------------


def _split(override: str) -> tuple[str, str]:
    key, _, value = override.partition("=")
    return key.lstrip("+~"), value


def _typed(values: list) -> pd.Series:
    """Override values as numbers when every given value is one (for plots and sorting)."""
    series = pd.Series(values, dtype=object)
    numbers = pd.to_numeric(series.map(_exact), errors="coerce")
    if series.notna().any() and numbers.notna().sum() == series.notna().sum():
        return numbers
    return series


def _exact(value):
    """A number written as text, as Python reads it: pandas 2's to_numeric reads some
    (0.006251373574521752) a last digit off."""
    if isinstance(value, str):
        for kind in (int, float):
            try:
                return kind(value)
            except ValueError:
                pass
    return value


def _numbers(values: list) -> pd.Series:
    """A metric column: integers stay integers (epochs), gaps are missing values."""
    given = [v for v in values if v is not None]
    if given and all(isinstance(v, int) and not isinstance(v, bool) for v in given):
        return pd.Series(values, dtype="Int64")
    return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").astype(float)


def _numeric(table: pd.DataFrame, columns: list[str]) -> list[str]:
    return [c for c in columns if pd.api.types.is_numeric_dtype(table[c])]


def _names(value) -> tuple[str, ...] | None:
    """A job's optimized_metric as a tuple of metric names (None if it has none, or names
    outside the vocabulary's objectives: the job refused them, and so does the summary)."""
    names = [value] if isinstance(value, str) else value
    if isinstance(names, list) and names and all(name in OBJECTIVES for name in names):
        return tuple(names)
    return None


def _most_common(values: list):
    present = [v for v in values if v is not None]
    return Counter(present).most_common(1)[0][0] if present else None


def _job_sort_key(path: Path) -> tuple:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in path.parts)
