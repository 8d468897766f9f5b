"""A sweep's summary: one row per job, rebuilt from the jobs' own files.

Only each job's `.hydra/` files and `metrics.json` are read, so the summary can
be rebuilt from any sweep or outputs directory at any time: while the sweep
runs, after it was interrupted, or long after. A job directory without
metrics.json (a job that has not got that far, or was killed) is "incomplete".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from mnist_exp import artifacts, metrics

SUMMARY_CSV = "summary.csv"
SUMMARY_MD = "summary.md"
SWEEP_PLOT = "plots/sweep.png"
INCOMPLETE = "incomplete"  # no metrics.json (yet)

# Copied from each job's metrics.json, in this order.
METRIC_COLUMNS = [
    "val/accuracy",
    "val/loss",
    "val/best_epoch",
    "test/accuracy",
    "test/loss",
    "train/accuracy",
    "train/loss",
    "epochs",
    "train/seconds",
    "wall_seconds",
    "threads",
]
TEXT_COLUMNS = ["status", "reason", "message", "path"]  # status, reason before the metrics
# summary.md leaves out the columns that only a machine reads.
MARKDOWN_SKIP = ("message", "path", "threads", "train/accuracy", "train/loss")


@dataclass
class Summary:
    root: Path
    table: pd.DataFrame  # one row per job, ranked: best first, unranked (failed) last
    objective: str  # the metric jobs return to the sweeper (optimized_metric)
    direction: str  # "maximize" or "minimize"
    swept: list[str]  # override keys whose value differs between jobs
    common: list[str]  # overrides that every job shares, as key=value

    @property
    def failed(self) -> pd.DataFrame:
        """Jobs that did not complete: failed, interrupted, running or incomplete."""
        return self.table[self.table["status"] != "completed"]


def build(root: Path) -> Summary:
    """Read every job directory under `root` (a sweep, or a folder of sweeps and runs)."""
    root = Path(root)
    jobs = find_jobs(root)
    rows = [read_job(job, root) for job in jobs]
    overrides = [row.pop("_overrides") for row in rows]
    objective = _most_common([row.pop("_objective") for row in rows]) or "val/accuracy"
    direction = metrics.direction(objective)
    metric_columns = METRIC_COLUMNS + ([objective] if objective not in METRIC_COLUMNS else [])

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
    table = rank(table, objective, direction)
    return Summary(root, table, objective, direction, swept, common)


def find_jobs(root: Path) -> list[Path]:
    """Directories under `root` (itself included) that Hydra made for a job."""
    found = {p.parent.parent for p in root.rglob(".hydra/overrides.yaml")}
    found |= {p.parent for p in root.rglob(artifacts.METRICS)}
    return sorted(found, key=_job_sort_key)


def read_job(job_dir: Path, root: Path) -> dict:
    hydra_dir = job_dir / ".hydra"
    hydra = _read_yaml(hydra_dir / "hydra.yaml", dict).get("hydra") or {}
    config = _read_yaml(hydra_dir / "config.yaml", dict)
    overrides = _read_yaml(hydra_dir / "overrides.yaml", list)
    try:
        result = artifacts.read_json(job_dir / artifacts.METRICS)
    except (OSError, ValueError):
        result = {"status": INCOMPLETE}
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
        "_objective": config.get("optimized_metric"),
    }


def rank(table: pd.DataFrame, objective: str, direction: str) -> pd.DataFrame:
    """Completed jobs by objective, best first; then the rest. Ties and the rest keep
    the table's order (by job number, or by path across sweeps), as does its index."""
    done = table["status"].eq("completed") & table[objective].notna()
    ranked = table[done].sort_values(objective, ascending=direction == "minimize", kind="stable")
    out = pd.concat([ranked, table[~done]])
    out.insert(0, "rank", pd.array([*range(1, len(ranked) + 1)] + [None] * (~done).sum(), "Int64"))
    return out


def write(summary: Summary, folder: Path | None = None) -> list[Path]:
    """summary.csv (by job number), summary.md (ranked) and plots/sweep.png in `folder`."""
    from mnist_exp import plots

    folder = Path(folder or summary.root)
    by_job = summary.table.sort_index()  # the order of the jobs, not of the ranking
    return [
        artifacts.write_csv(folder / SUMMARY_CSV, by_job),
        artifacts.write_with(folder / SUMMARY_MD, lambda p: p.write_text(to_markdown(summary))),
        artifacts.write_figure(
            folder / SWEEP_PLOT,
            plots.sweep(summary.table, summary.objective, _numeric(summary.table, summary.swept)),
        ),
    ]


def to_markdown(summary: Summary) -> str:
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


def display_columns(summary: Summary) -> list[str]:
    """rank, job, the swept overrides, status, then the metrics that have values."""
    table = summary.table
    metric_cols = [summary.objective] + [c for c in METRIC_COLUMNS if c != summary.objective]
    present = [c for c in metric_cols if table[c].notna().any() and c not in MARKDOWN_SKIP]
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
    """One table cell: metrics to 4 places, seconds to 1, counts as integers, gaps empty."""
    if _missing(value):
        return ""
    if isinstance(value, float):
        if column in ("train/seconds", "wall_seconds"):
            return f"{value:.1f}"
        if value.is_integer() and column in ("epochs", "val/best_epoch", "threads"):
            return str(int(value))
        if column in METRIC_COLUMNS:
            return f"{value:.4f}"
        return f"{value:.3g}"
    return str(value)


def main(argv: list[str] | None = None) -> int:
    """`mnist-exp-report PATH`: rebuild the summary of a sweep or outputs directory."""
    import argparse

    from rich.console import Console

    from mnist_exp.report import print_sweep

    parser = argparse.ArgumentParser(
        prog="mnist-exp-report",
        description="Rebuild summary.csv, summary.md and plots/sweep.png of a sweep (or of "
        "every run under an outputs directory) from the jobs' .hydra/ files and metrics.json. "
        "Works on sweeps still running or interrupted.",
    )
    parser.add_argument("path", type=Path, help="a sweep directory or any folder of runs")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    args = parser.parse_args(argv)
    console = Console()
    if not args.path.is_dir():
        Console(stderr=True).print(f"[bold red]error:[/] {args.path} is not a directory")
        return 2
    summary = build(args.path)
    if summary.table.empty:
        Console(stderr=True).print(f"[bold red]error:[/] no run directories under {args.path}")
        return 2
    print_sweep(console, summary)
    if not args.no_write:
        written = write(summary)
        console.print("wrote " + ", ".join(str(p) for p in written), highlight=False)
    return 0


# -- helpers ---------------------------------------------------------------------------


def _split(override: str) -> tuple[str, str]:
    key, _, value = override.partition("=")
    return key.lstrip("+~"), value


def _typed(values: list) -> pd.Series:
    """Override values as numbers when every given value is one (for plots and sorting)."""
    series = pd.Series(values, dtype=object)
    numbers = pd.to_numeric(series, errors="coerce")
    if series.notna().any() and numbers.notna().sum() == series.notna().sum():
        return numbers
    return series


def _numbers(values: list) -> pd.Series:
    """A metric column: integers stay integers (epochs), gaps are missing values."""
    given = [v for v in values if v is not None]
    if given and all(isinstance(v, int) and not isinstance(v, bool) for v in given):
        return pd.Series(values, dtype="Int64")
    return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").astype(float)


def _numeric(table: pd.DataFrame, columns: list[str]) -> list[str]:
    return [c for c in columns if pd.api.types.is_numeric_dtype(table[c])]


def _most_common(values: list) -> str | None:
    present = [v for v in values if isinstance(v, str)]
    return Counter(present).most_common(1)[0][0] if present else None


def _read_yaml(path: Path, kind: type):
    """A YAML file's content, or an empty `kind` when it is missing or half-written."""
    try:
        content = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return kind()
    return content if isinstance(content, kind) else kind()


def _job_sort_key(path: Path) -> tuple:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in path.parts)


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


if __name__ == "__main__":
    raise SystemExit(main())
