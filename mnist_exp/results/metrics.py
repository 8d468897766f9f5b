"""The one metric vocabulary: names (split/name), directions, display formats, where
each one appears. history.csv, metrics.json, monitors, optimized_metric, sweep
summaries and trackers all take their names from here."""

from __future__ import annotations

import enum
import math
import numbers
from dataclasses import dataclass, replace

from mnist_exp.errors import ConfigError, require

MAX, MIN = "maximize", "minimize"
DIRECTIONS = (MAX, MIN)
SPLITS = ("train", "val")  # the forms of a per-epoch metric, as history.csv orders them


class Place(enum.Flag):
    """Where a metric is shown, beside the files that keep it (metrics.json,
    history.csv, the sweep summary)."""

    NONE = 0
    COMPARE = enum.auto()  # a row of `mnist-exp-report compare`
    BEST = enum.auto()  # the sweep page's box of the best job, after the objective
    CHARTS = enum.auto()  # per-epoch: its val form among the sweep page's curves
    PLOTS = enum.auto()  # per-epoch: a run's plots/NAME.png, a panel of compare.png
    PROGRESS = enum.auto()  # per-epoch: its train form in fit's live bar, as `label`


@dataclass(frozen=True)
class Metric:
    name: str
    fmt: str = ".4f"  # how tables print it
    unit: str = ""  # after the number where a sentence shows it: "12.3 s"
    # how a person reads it: its row in the run's console table, or for a per-epoch
    # metric its name in fit's live bar
    label: str | None = None
    console: int | None = None  # its row's place in the run's console table
    shown: Place = Place.COMPARE
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


# Measured every epoch, named without a split: each has a train/ and a val/ form (forms).
# `keras` is the name model.compile measures it by (COMPILED), the loss aside.
PER_EPOCH = (
    Metric(
        "accuracy",
        keras="accuracy",
        label="acc",
        direction=MAX,
        shown=Place.CHARTS | Place.PLOTS | Place.PROGRESS,
    ),
    Metric(
        "loss",
        keras="loss",
        label="loss",
        direction=MIN,
        shown=Place.CHARTS | Place.PLOTS | Place.PROGRESS,
    ),
)


def forms(split: str, per_epoch: tuple[Metric, ...] = PER_EPOCH) -> tuple[Metric, ...]:
    """The `split` form of each per-epoch metric: val/* are the best epoch's, summed up
    in summary.md and tracked as best/val/*; train/* are the last epoch's."""
    val = split == "val"
    return tuple(
        replace(
            m,
            name=f"{split}/{m.name}",
            keras=f"val_{m.keras}" if val else m.keras,
            label=None,
            shown=Place.COMPARE,
            objective=True,
            summary="md" if val else "csv",
            final=f"best/val/{m.name}" if val else None,
        )
        for m in per_epoch
    )


METRICS = (
    *forms("val"),
    Metric("val/best_epoch", fmt="d", label="best", console=4, summary="md"),
    Metric(
        "test/accuracy",
        label="test accuracy",
        console=1,
        shown=Place.COMPARE | Place.BEST,
        objective=True,
        summary="md",
        direction=MAX,
    ),
    Metric(
        "test/loss",
        label="test loss",
        console=3,
        shown=Place.COMPARE | Place.BEST,
        objective=True,
        summary="md",
        direction=MIN,
    ),
    *forms("train"),
    Metric("epochs", fmt="d", label="epochs", console=5, summary="md"),
    Metric("stopped_epoch", fmt="d", summary="md"),  # a callback stopped the run after it
    Metric("weights_epoch", fmt="d", summary="csv"),  # the epoch whose weights were saved
    Metric(
        "train/seconds",
        fmt=".1f",
        unit=" s",
        label="fit time",
        console=6,
        objective=True,
        summary="md",
        direction=MIN,
    ),
    Metric("wall_seconds", fmt=".1f", unit=" s", label="wall time", console=7, summary="md"),
    Metric("threads", fmt="d", summary="csv", tracked=False),
    Metric("test/correct", fmt="d", label="correct / incorrect", console=2),
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
COMPILED = tuple(m.keras for m in PER_EPOCH if m.keras != "loss")
DEFAULT_OBJECTIVE = "val/accuracy"  # the best epoch's: what a run returns to a sweeper
OBJECTIVES = tuple(m.name for m in METRICS if m.objective)
SUMMARY_COLUMNS = [m.name for m in METRICS if m.summary]
SUMMARY_MD_COLUMNS = [m.name for m in METRICS if m.summary == "md"]

# What follows reads the tables when called, so that whatever shows a table's metrics
# shows the table as it stands.


def logged() -> tuple[Metric, ...]:
    """The per-epoch metrics, the loss first and then what compile measures: the order
    of fit's live bar, history.csv and a run's curves."""
    return tuple(sorted(PER_EPOCH, key=lambda m: m.keras != "loss"))


def history_columns() -> list[str]:
    """history.csv's header: the epoch, each split's per-epoch metrics, lr, seconds."""
    return ["epoch", *(f"{s}/{m.name}" for s in SPLITS for m in logged()), "lr", "seconds"]


def per_epoch(place: Place, ordered: tuple[Metric, ...] | None = None) -> tuple[Metric, ...]:
    """The per-epoch metrics shown in `place`, in the vocabulary's order or `ordered`'s."""
    return tuple(m for m in (PER_EPOCH if ordered is None else ordered) if place in m.shown)


def console_rows() -> tuple[Metric, ...]:
    """The metrics of the run's console table, in its order."""
    return tuple(sorted((m for m in METRICS if m.console), key=lambda m: m.console))


def shown_in(place: Place) -> tuple[str, ...]:
    """The names of the metrics shown in `place`, in the vocabulary's order."""
    return tuple(m.name for m in METRICS if place in m.shown)


HISTORY_COLUMNS = history_columns()


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


def display(value: float, name: str) -> str:
    """A metric as a sentence shows it: its table format, then its unit (12.3 s)."""
    metric = BY_NAME.get(name)
    return format_value(value, name) + (metric.unit if metric else "")
