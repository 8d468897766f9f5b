"""The figures of a sweep's page (report.html): each function takes the summary's
table (or the jobs' histories) and returns a matplotlib Figure; page.py embeds it
as SVG.

Every job's marks are one artist whose gid is `job-N`, N the job's index in the
summary's table (unique across sweeps too), so that the page can give each its
tooltip and highlight it beside its table row; `labels` are what the axes print.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from mnist_exp.results.metrics import Place, direction, format_value, per_epoch
from mnist_exp.results.plots import fit_values
from mnist_exp.results.status import Status

COMPLETED, PRUNED, OTHER = "tab:blue", "tab:olive", "tab:red"


def gid(index) -> str:
    """The id of a job's marks in every chart (page.py prefixes it with the chart's)."""
    return f"job-{index}"


def objective_by_launch(table: pd.DataFrame, objective: str, labels: pd.Series) -> Figure:
    """The objective of each job in launch order, the best so far as a step line; jobs
    without a value (failed, interrupted, running) as red crosses on the bottom edge."""
    order = table.sort_index()
    x = np.arange(len(order))
    values = pd.to_numeric(order[objective], errors="coerce").astype(float)
    status = order["status"]
    fig = Figure(figsize=(5.6, 3.0), layout="constrained")
    ax = fig.add_subplot()
    for i, (index, value) in enumerate(values.items()):
        if status[index] in (Status.COMPLETED, Status.PRUNED) and np.isfinite(value):
            color = COMPLETED if status[index] == Status.COMPLETED else PRUNED
            (mark,) = ax.plot(x[i], value, "o", color=color, markersize=6)
        else:
            (mark,) = ax.plot(
                x[i], 0.0, "x", color=OTHER, markersize=8, mew=2, clip_on=False,
                transform=ax.get_xaxis_transform(),
            )  # fmt: skip
        mark.set_gid(gid(index))
    done = status.eq(Status.COMPLETED) & values.notna()
    if done.any():
        sign = 1 if direction(objective) == "maximize" else -1
        best = (values.where(done) * sign).cummax() * sign
        ax.step(x, best, where="post", color="tab:orange", label="best so far")
        fit_values(ax, values[done])
        ax.legend(fontsize=8, loc="lower right")
    else:
        ax.text(0.5, 0.5, "no completed job", ha="center", va="center", transform=ax.transAxes)
    names = [str(labels[i]) for i in order.index]
    if len(order) <= 16:
        ax.set_xticks(x, names, fontsize=8)
    else:  # a label for every job would overlap: some of them, at whole positions
        ax.xaxis.set_major_locator(MaxNLocator(nbins=12, integer=True))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _at(names, v)))
        ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel("job, in launch order")
    ax.set_ylabel(objective)
    ax.grid(alpha=0.3)
    return fig


def _at(names: list[str], position: float) -> str:
    i = int(round(position))
    return names[i] if 0 <= i < len(names) else ""


def parallel_coordinates(table: pd.DataFrame, params: list[str], objective: str) -> Figure:
    """One line per completed (or pruned) job across the swept parameters and the
    objective, coloured by the objective: which values the good jobs share.

    Numbers keep their scale (logarithmic where they span 20x or more), text values
    are evenly spaced categories; each axis is labelled with its own values.
    """
    done = table[table["status"].isin((Status.COMPLETED, Status.PRUNED)) & table[objective].notna()]
    axes = [*params, objective]
    fig = Figure(figsize=(max(5.6, 1.5 * len(axes) + 1.0), 3.0), layout="constrained")
    ax = fig.add_subplot()
    positions, ticks = {}, {}
    for column in axes:
        positions[column], ticks[column] = _axis(table[column], column)
    values = done[objective].astype(float)
    norm = Normalize(values.min(), values.max() if values.max() > values.min() else None)
    cmap = colormaps["viridis" if direction(objective) == "maximize" else "viridis_r"]
    x = np.arange(len(axes))
    for index, row in done.iterrows():
        y = [positions[c][index] for c in axes]
        style = "-" if row["status"] == Status.COMPLETED else ":"
        (line,) = ax.plot(x, y, style, color=cmap(norm(row[objective])), lw=1.6, alpha=0.85)
        line.set_gid(gid(index))
    for i, column in enumerate(axes):
        ax.axvline(i, color="0.4", lw=0.8)
        for position, text in ticks[column]:
            ax.text(i + 0.03, position, text, fontsize=7, va="center", color="0.25")
    ax.set_xticks(x, axes, fontsize=8)
    ax.set_yticks([])
    ax.set_xlim(-0.1, len(axes) - 0.6)
    ax.set_ylim(-0.05, 1.05)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    if done.empty:
        ax.text(0.5, 0.5, "no completed job", ha="center", va="center", transform=ax.transAxes)
    return fig


def _axis(every: pd.Series, column: str) -> tuple[pd.Series, list[tuple[float, str]]]:
    """A column's values placed on 0..1, and the ticks that label the axis."""
    numbers = pd.to_numeric(every, errors="coerce")
    if numbers.notna().sum() == every.notna().sum() and numbers.notna().any():
        low, high = numbers.min(), numbers.max()
        log = low > 0 and high / low >= 20
        scale = np.log10 if log else (lambda v: v)
        span = (scale(high) - scale(low)) or 1.0
        place = (scale(numbers) - scale(low)) / span
        if high == low:
            place = numbers * 0 + 0.5
        marks = sorted(set(numbers.dropna()))
        if len(marks) > 6:
            marks = [low, high]
        return place, [(float(place[numbers == m].iloc[0]), format_value(m, column)) for m in marks]
    names = list(dict.fromkeys(str(v) for v in every.dropna()))
    spots = {name: (i + 0.5) / len(names) for i, name in enumerate(names)}
    place = every.map(lambda v: spots.get(str(v), np.nan))
    return place, [(spots[name], name) for name in names]


def top_curves(histories: dict, labels: pd.Series, metrics: tuple[str, ...] = ()) -> Figure:
    """The validation curves of the best jobs overlaid: {index: history} in rank order,
    one panel per metric (the val form of each per-epoch metric placed in charts), the
    best job drawn thickest."""
    metrics = metrics or tuple(f"val/{m.name}" for m in per_epoch(Place.CHARTS))
    fig = Figure(figsize=(2.8 * len(metrics), 3.0), layout="constrained")
    panels = fig.subplots(1, len(metrics), squeeze=False).ravel()
    colors = colormaps["tab10"].colors
    for ax, metric in zip(panels, metrics, strict=True):
        for rank, (index, history) in enumerate(histories.items()):
            if metric not in history or history[metric].isna().all():
                continue
            (line,) = ax.plot(
                history["epoch"], history[metric], "o-", color=colors[rank % 10],
                lw=2.4 if rank == 0 else 1.2, markersize=3, label=f"job {labels[index]}",
            )  # fmt: skip
            line.set_gid(gid(index))
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(metric, fontsize=10)
        ax.grid(alpha=0.3)
    if histories:
        panels[0].legend(fontsize=7)
    return fig


def importances(values: dict[str, float], objective: str) -> Figure:
    """Optuna's parameter importances for the objective, the largest on top."""
    names = list(values)[::-1]
    fig = Figure(figsize=(5.6, 0.8 + 0.4 * max(1, len(names))), layout="constrained")
    ax = fig.add_subplot()
    bars = ax.barh(names, [values[n] for n in names], color=COMPLETED)
    for bar, name in zip(bars, names, strict=True):
        bar.set_gid(f"param-{name}")
    for i, name in enumerate(names):
        ax.text(values[name], i, f" {values[name]:.2f}", va="center", fontsize=8)
    ax.set_xlabel(f"importance for {objective}")
    ax.set_xlim(0, max([*values.values(), 0.01]) * 1.15)
    ax.grid(alpha=0.3, axis="x")
    return fig
