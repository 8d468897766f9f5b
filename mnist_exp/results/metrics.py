"""The one metric vocabulary: names (split/name), directions, display formats, where
each one appears. history.csv, metrics.json, monitors, optimized_metric, sweep
summaries and trackers all take their names from here."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from mnist_exp.errors import ConfigError, require

MAX, MIN = "maximize", "minimize"
DIRECTIONS = (MAX, MIN)


@dataclass(frozen=True)
class Metric:
    name: str
    fmt: str = ".4f"  # how tables print it
    keras: str | None = None  # Keras' log key, for the values measured every epoch
    objective: bool = False  # may be optimized_metric, a sweeper's objective
    summary: str | None = None  # a sweep summary column: "csv" only, or "md" (csv and md)
    tracked: bool = True  # sent to trackers as a final value (not: descriptions of the run)
    final: str | None = None  # its final value's tracker name, beside its per-epoch series
    # how a sweep ranks by it, a monitor watches it, compare marks its change: "maximize"
    # or "minimize", declared (never guessed from the name); None: nothing to rank by
    direction: str | None = None

    def __post_init__(self) -> None:
        if (self.objective or self.keras) and self.direction not in DIRECTIONS:
            raise ValueError(
                f"{self.name}: an objective or per-epoch metric declares its direction"
            )


METRICS = (
    Metric(
        "val/accuracy",
        keras="val_accuracy",
        objective=True,
        summary="md",
        final="best/val/accuracy",
        direction=MAX,
    ),
    Metric(
        "val/loss",
        keras="val_loss",
        objective=True,
        summary="md",
        final="best/val/loss",
        direction=MIN,
    ),
    Metric("val/best_epoch", fmt="d", summary="md"),
    Metric("test/accuracy", objective=True, summary="md", direction=MAX),
    Metric("test/loss", objective=True, summary="md", direction=MIN),
    Metric("train/accuracy", keras="accuracy", objective=True, summary="csv", direction=MAX),
    Metric("train/loss", keras="loss", objective=True, summary="csv", direction=MIN),
    Metric("epochs", fmt="d", summary="md"),
    Metric("stopped_epoch", fmt="d", summary="md"),  # a callback stopped the run after it
    Metric("weights_epoch", fmt="d", summary="csv"),  # the epoch whose weights were saved
    Metric("train/seconds", fmt=".1f", objective=True, summary="md", direction=MIN),
    Metric("wall_seconds", fmt=".1f", summary="md"),
    Metric("threads", fmt="d", summary="csv", tracked=False),
    Metric("test/correct", fmt="d"),
    Metric("test/incorrect", fmt="d"),
    Metric("train/samples_per_second", fmt=",.0f"),
    Metric("params", fmt="d"),
    Metric("seed", fmt="d", tracked=False),
)
BY_NAME = {metric.name: metric for metric in METRICS}

KERAS_TO_NAME = {m.keras: m.name for m in METRICS if m.keras}
EPOCH_NAMES = tuple(KERAS_TO_NAME.values())  # measured every epoch: what a monitor can watch
# What model.compile is asked to measure: each per-epoch metric's Keras name on the
# training data, the loss aside (Keras logs it anyway, and val_* of each itself).
COMPILED = tuple(k for k in KERAS_TO_NAME if k != "loss" and not k.startswith("val_"))
HISTORY_COLUMNS = [
    "epoch",
    "train/loss",
    "train/accuracy",
    "val/loss",
    "val/accuracy",
    "lr",
    "seconds",
]
DEFAULT_OBJECTIVE = "val/accuracy"  # the best epoch's: what a run returns to a sweeper
OBJECTIVES = tuple(m.name for m in METRICS if m.objective)
SUMMARY_COLUMNS = [m.name for m in METRICS if m.summary]
SUMMARY_MD_COLUMNS = [m.name for m in METRICS if m.summary == "md"]


def from_keras(logs: dict) -> dict[str, float]:
    """Rename Keras' log keys (val_accuracy) to the vocabulary (val/accuracy)."""
    return {KERAS_TO_NAME[k]: float(v) for k, v in logs.items() if k in KERAS_TO_NAME}


def to_keras(name: str) -> str:
    """The Keras log key of a per-epoch metric (val/loss -> val_loss)."""
    return BY_NAME[name].keras or name


def direction(metric):
    """How a sweep ranks by `metric`: the direction the vocabulary declares for it; a
    list of metrics gives the list of their directions. A name without one is refused,
    never guessed (val/ece, test/error_rate would be maximized by a suffix rule)."""
    if not isinstance(metric, str):
        return [direction(m) for m in metric]
    found = BY_NAME.get(metric)
    if found is None or found.direction is None:
        raise ConfigError(f"{metric}: no direction to rank by; a metric of {', '.join(OBJECTIVES)}")
    return found.direction


def objectives(optimized_metric) -> list[str]:
    """optimized_metric as a list: one metric, or the several of a multi-objective search."""
    return [optimized_metric] if isinstance(optimized_metric, str) else list(optimized_metric)


def checked_objectives(optimized_metric) -> list[str]:
    """objectives(optimized_metric), each one of OBJECTIVES; else one ConfigError."""
    found = objectives(optimized_metric)
    require(found, "optimized_metric", "[]", "at least one metric")
    for metric in found:
        require(metric in OBJECTIVES, "optimized_metric", metric, f"one of {OBJECTIVES}")
    return found


def finite(value) -> float | None:
    """A metric's value as a float; None for what is not a finite number: null (how JSON
    keeps NaN), NaN and infinity, text, a flag, a missing table cell."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None  # numpy's floats and ints are Real; numpy's bool_ and pd.NA are not
    number = float(value)
    return number if math.isfinite(number) else None


def format_value(value: float, name: str) -> str:
    """A metric as tables print it; a name outside the vocabulary to 3 significant digits."""
    metric = BY_NAME.get(name)
    if metric is None:
        return f"{value:.3g}"
    if metric.fmt == "d":
        return str(int(value)) if float(value).is_integer() else f"{value:.3g}"
    return format(value, metric.fmt)
