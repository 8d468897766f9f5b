"""Runs side by side: the config keys they differ in, their metrics with deltas against
the first run, and their curves in one figure.

Only each run's own files are read (.hydra/config.yaml, metrics.json, history.csv),
so plain runs and sweep jobs compare alike, and so do failed, interrupted and pruned
runs: what a run did not get to write is blank. Printing and saving are the caller's
(app/report.py); a file that cannot be read is a UserError, one line for the user.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from mnist_exp.errors import UserError, first_line
from mnist_exp.results import files
from mnist_exp.results.metrics import (
    BY_NAME,
    METRICS,
    Place,
    finite,
    format_value,
    logged,
    per_epoch,
)

CONFIG = Path(".hydra") / "config.yaml"
NOT_COMPARED = ("resume",)  # how a run was started (resume=DIR), not what it trains
INCOMPLETE = "incomplete"  # no metrics.json (yet): what a sweep summary calls it
MISSING = "missing"  # shown for a key that one run's config does not have
SPLITS = (("val", "-", "validation"), ("train", "--", "train"))  # history prefix, line style


@dataclass
class Run:
    path: Path
    label: str  # the short name tables and the legend give it (short_labels)
    config: dict[str, str] | None  # dotted key -> value as YAML writes it; None: no config
    metrics: dict  # metrics.json; {} when the run has none
    history: pd.DataFrame | None  # history.csv; None when the run has none


@dataclass(frozen=True)
class Cell:
    text: str
    mark: str | None = None  # "better" or "worse" (a delta), MISSING (a config value)


# -- reading -------------------------------------------------------------------------


def read_runs(paths: list[Path]) -> list[Run]:
    """Every run's files, read before anything is shown: a bad path or file stops the
    comparison before its first line rather than halfway through it."""
    if len(paths) < 2:
        raise UserError(f"compare needs two run directories or more, got {len(paths)}")
    labels = short_labels(paths)
    return [read_run(Path(p), label) for p, label in zip(paths, labels, strict=True)]


def read_run(path: Path, label: str) -> Run:
    """A run or sweep job directory: it has a config, metrics, or both (a job that was
    killed before metrics.json, a folder of results copied without .hydra/)."""
    if not path.is_dir():
        raise UserError(f"{path} is not a directory")
    config_file, metrics_file = path / CONFIG, path / files.METRICS
    if not config_file.is_file() and not metrics_file.is_file():
        raise UserError(f"{path} is not a run directory: it has no {CONFIG} nor {files.METRICS}")
    config = None
    if config_file.is_file():
        config = {key: as_text(v) for key, v in flatten(_read_yaml(config_file)).items()}
    metrics = _read_json(metrics_file) if metrics_file.is_file() else {}
    return Run(path, label, config, metrics, _read_history(path / files.HISTORY))


def short_labels(paths: list[Path]) -> list[str]:
    """What tells the runs apart: each path as given, from the last folder they share
    on (SWEEP/0 and SWEEP/3 for two jobs of one sweep, DATE/TIME for two runs of a day);
    the paths as given when that would name two runs alike."""
    given = [Path(os.path.normpath(p)) for p in paths]
    if len({p.is_absolute() for p in given}) > 1:
        given = [Path(os.path.abspath(p)) for p in given]
    shared = len(Path(os.path.commonpath(given)).parts)
    start = max(shared - 1, 1 if given[0].is_absolute() else 0)  # never the bare "/"
    labels = ["/".join(p.parts[start:]) or str(p) for p in given]
    if len(set(labels)) < len(labels):
        labels = [str(p) for p in paths]
    if len(set(labels)) < len(labels):  # one run given twice
        labels = [f"{label} #{i}" for i, label in enumerate(labels, 1)]
    return labels


def flatten(config: dict, prefix: str = "") -> dict:
    """Nested mappings as dotted keys (optimizer.learning_rate). A list stays one value
    (model.units), and an empty mapping (callbacks: {}) has no key: beside a run with
    early stopping, its callbacks.early_stopping.* keys then read as missing."""
    flat = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def as_text(value) -> str:
    """A config value as YAML writes it (null, true, [512, 256], '1'): two values are
    the same when YAML writes them alike, so 1 and '1' differ, and read apart."""
    text = yaml.safe_dump(value, default_flow_style=True, width=float("inf"))
    return text.removesuffix("\n").removesuffix("\n...").strip()


# -- config ----------------------------------------------------------------------------


def differing_keys(runs: list[Run]) -> list[str]:
    """Config keys whose value is not the same in every run that has a config, in the
    order the configs list them. Every differing key is shown, logger.* and
    training.progress too: they are real differences, and a rule with exceptions would
    hide the one that matters some day; only resume= is left out."""
    configs = [run.config for run in runs if run.config is not None]
    keys = dict.fromkeys(key for config in configs for key in config)
    return [
        key
        for key in keys
        if key not in NOT_COMPARED and len({config.get(key) for config in configs}) > 1
    ]


def config_rows(runs: list[Run]) -> list[list[Cell]]:
    """A row per differing key: the key, then each run's value (MISSING where its config
    lacks the key; blank for a run with no config at all)."""
    rows = []
    for key in differing_keys(runs):
        row = [Cell(key)]
        for run in runs:
            if run.config is None:
                row.append(Cell(""))
            elif key in run.config:
                row.append(Cell(run.config[key]))
            else:
                row.append(Cell(MISSING, MISSING))
        rows.append(row)
    return rows


# -- metrics ---------------------------------------------------------------------------


def metric_header(runs: list[Run]) -> list[str]:
    """metric, the first run, then each other run followed by its delta against the first."""
    return ["metric", runs[0].label, *[h for run in runs[1:] for h in (run.label, "delta")]]


def metric_rows(runs: list[Run]) -> list[list[Cell]]:
    """How each run ended, then a row per metric of the vocabulary that some run has
    (in its order): the values, and after each run but the first its delta."""
    statuses = [Cell(status(run)) for run in runs]
    rows = [[Cell("status"), statuses[0], *[c for s in statuses[1:] for c in (s, Cell(""))]]]
    for name in metric_names(runs):
        values = [finite(run.metrics.get(name)) for run in runs]
        row = [Cell(name), _value(values[0], name)]
        for value in values[1:]:
            row += [_value(value, name), delta(values[0], value, name)]
        rows.append(row)
    return rows


def metric_names(runs: list[Run]) -> list[str]:
    """The vocabulary's metrics placed in compare that at least one run has a number for."""
    return [
        m.name
        for m in METRICS
        if Place.COMPARE in m.shown and any(finite(r.metrics.get(m.name)) is not None for r in runs)
    ]


def status(run: Run) -> str:
    """completed, or failed (nan_loss), interrupted (SIGINT), incomplete..."""
    reason = run.metrics.get("reason")
    text = str(run.metrics.get("status") or INCOMPLETE)
    return f"{text} ({reason})" if reason else text


def delta(base: float | None, value: float | None, name: str) -> Cell:
    """`value - base`, signed and in the metric's format, marked better or worse for a
    metric that may be an objective (accuracies, losses, seconds: the vocabulary's
    direction). Counts such as params or test/incorrect have no better side; nor has a
    difference too small to print."""
    if base is None or value is None:
        return Cell("")
    change = value - base
    text = ("-" if change < 0 else "+") + format_value(abs(change), name)
    metric = BY_NAME[name]
    if not metric.objective or format_value(abs(change), name) == format_value(0.0, name):
        return Cell(text)
    mark = "better" if (change > 0) == (metric.direction == "maximize") else "worse"
    return Cell(f"{text} {mark}", mark)


# -- the figure ------------------------------------------------------------------------


def curves(runs: list[Run]) -> Figure:
    """Each per-epoch metric placed in plots (loss, accuracy) of every run on the same
    axes, a panel each: a colour per run,
    validation solid and train dashed. A run without history is named in the legend,
    so that its absence from the axes reads as such."""
    metrics = [m.name for m in per_epoch(Place.PLOTS, logged())]
    fig = Figure(figsize=(5.5 * len(metrics), 4.2), layout="constrained")
    colours = [f"C{i % 10}" for i in range(len(runs))]
    panels = fig.subplots(1, len(metrics), squeeze=False).ravel()
    for ax, metric in zip(panels, metrics, strict=True):
        for run, colour in zip(runs, colours, strict=True):
            history = run.history
            for split, style, _ in SPLITS:
                column = f"{split}/{metric}"
                if history is not None and {"epoch", column} <= set(history.columns):
                    ax.plot(
                        history["epoch"], history[column], style, color=colour, marker="o", ms=4
                    )
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        _epoch_ticks(ax, runs)
    handles = [
        Line2D([], [], color=colour, label=run.label + _no_history(run))
        for run, colour in zip(runs, colours, strict=True)
    ]
    handles += [Line2D([], [], color="black", linestyle=s, label=name) for _, s, name in SPLITS]
    fig.legend(handles=handles, loc="outside right upper", fontsize=9)
    return fig


# -- helpers ---------------------------------------------------------------------------


def _value(value: float | None, name: str) -> Cell:
    return Cell("" if value is None else format_value(value, name))


def _epoch_ticks(ax, runs: list[Run]) -> None:
    """Whole epochs on the x axis: each one while they are few (a single epoch would
    otherwise get ticks at 0.96, 0.98...), a whole-number locator beyond."""
    epochs = sorted(
        {e for run in runs if run.history is not None for e in run.history.get("epoch", [])}
    )
    if len(epochs) <= 20:
        ax.set_xticks(epochs)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _no_history(run: Run) -> str:
    return " (no history)" if run.history is None or run.history.empty else ""


def _read_yaml(path: Path) -> dict:
    try:
        content = yaml.safe_load(path.read_text())
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise UserError(f"{path} cannot be read as YAML: {_yaml_problem(exc)}") from exc
    if not isinstance(content, dict):
        raise UserError(f"{path} is not a config: a mapping of keys was expected")
    return content


def _yaml_problem(exc: Exception) -> str:
    """PyYAML's report is several lines ("while scanning...", "in <file>", the problem):
    the problem and its line are the one line a user needs."""
    mark = getattr(exc, "problem_mark", None)
    if getattr(exc, "problem", None) and mark is not None:
        return f"{exc.problem} (line {mark.line + 1})"
    return first_line(exc)


def _read_json(path: Path) -> dict:
    try:
        content = files.read_json(path)
    except (OSError, ValueError) as exc:
        raise UserError(f"{path} cannot be read as JSON: {first_line(exc)}") from exc
    if not isinstance(content, dict):
        raise UserError(f"{path} is not a run's metrics: a JSON object was expected")
    return content


def _read_history(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path)
    except (OSError, ValueError) as exc:  # pandas' parser and empty-file errors included
        raise UserError(f"{path} cannot be read as CSV: {first_line(exc)}") from exc
