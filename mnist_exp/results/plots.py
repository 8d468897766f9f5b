"""Figures of one run, and of a sweep. Each function returns a matplotlib Figure;
files.py saves it.

Figures are built with the object API (no pyplot), so no GUI backend or global
state is involved and plotting is safe in parallel sweep jobs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from mnist_exp.results.metrics import direction
from mnist_exp.results.status import Status


def curves(history: pd.DataFrame, metric: str) -> Figure:
    """Train vs validation `metric`, a per-epoch metric of the vocabulary (loss), per epoch."""
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    for split, style in (("train", "o-"), ("val", "s--")):
        column = f"{split}/{metric}"
        if column in history:
            ax.plot(history["epoch"], history[column], style, label=split)
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric}: train vs validation")
    ax.grid(alpha=0.3)
    ax.legend()
    if len(history):
        ax.set_xticks(history["epoch"])
    return fig


def digit_grid(
    images: np.ndarray,
    truth: np.ndarray,
    predicted: np.ndarray,
    title: str,
    class_names: list[str],
    count: int = 9,
) -> Figure:
    """A 3x3 grid of digits with their true and predicted labels.

    The digits are tiles of one image in one Axes, each under two short lines of
    labels (green when right, red when wrong): nine Axes of their own would cost
    more to build and draw than everything else in the figure. The grid fits its
    canvas whatever the class names, so it is saved as laid out.
    """
    side = int(np.ceil(np.sqrt(count)))
    gap, label = 6, 9  # pixels of white between tiles, and above each tile for its labels
    cell_w, cell_h = 28 + gap, 28 + label
    montage = np.full((side * cell_h, side * cell_w - gap), np.nan, dtype=np.float32)
    fig = Figure(figsize=(6, 6.6))
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.92)
    fig.suptitle(title)
    ax = fig.add_subplot()
    ax.set_axis_off()
    for i in range(min(count, len(images))):
        row, col = divmod(i, side)
        top, left = row * cell_h + label, col * cell_w
        montage[top : top + 28, left : left + 28] = images[i].reshape(28, 28)
        ok = truth[i] == predicted[i]
        ax.text(
            left + 13.5,
            top - 1,
            f"true {class_names[truth[i]]}\npred {class_names[predicted[i]]}",
            ha="center",
            va="bottom",
            fontsize=9,
            color="tab:green" if ok else "tab:red",
        )
    cmap = colormaps["gray_r"].with_extremes(bad="white")
    ax.imshow(montage, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    if len(images) == 0:
        ax.text(0.5, 0.5, "none", ha="center", va="center", fontsize=14, transform=ax.transAxes)
    return fig


def long_names(class_names: list[str]) -> bool:
    """Whether tick labels of these names outgrow a figure's default margins."""
    return max(map(len, class_names)) > 2


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, class_names: list[str]) -> Figure:
    """Counts of (true, predicted) pairs, drawn as scikit-learn's ConfusionMatrixDisplay
    draws them; computed here, since importing scikit-learn takes longer than the plot."""
    n = len(class_names)
    counts = np.bincount(np.asarray(truth) * n + np.asarray(predicted), minlength=n * n)
    counts = counts.reshape(n, n)
    fig = Figure(figsize=(7, 6))
    ax = fig.add_subplot()
    image = ax.imshow(counts, interpolation="nearest", cmap="Blues")
    threshold = (counts.max() + counts.min()) / 2.0
    light, dark = image.cmap(0.0), image.cmap(1.0)
    for i in range(n):
        for j in range(n):
            ax.text(
                j,
                i,
                f"{counts[i, j]:d}",
                ha="center",
                va="center",
                color=light if counts[i, j] > threshold else dark,
            )
    rotation = "vertical" if long_names(class_names) else "horizontal"
    ax.set_xticks(range(n), class_names, rotation=rotation)
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel("Predicted label")
    ax.set_ylabel("True label")
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_title("confusion matrix (test set)")
    return fig


def fit_values(ax, values: pd.Series) -> None:
    """The y range of these values with a margin; equal values get one too."""
    low, high = values.min(), values.max()
    pad = (high - low) * 0.15 or abs(high) * 0.05 or 0.05
    ax.set_ylim(low - pad, high + pad)


def sweep(table: pd.DataFrame, objective: str, numeric_params: list[str]) -> Figure:
    """A sweep at a glance: the objective per job, then against each swept numeric parameter.

    `table` has a row per job with `job`, `status`, the objective and the parameters;
    jobs that did not complete are marked with a red cross on the axis.
    """
    params = numeric_params[:5]
    ncols = min(3, 1 + len(params))
    nrows = -(-(1 + len(params)) // ncols)
    fig = Figure(figsize=(4.5 * ncols, 3.6 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[1 + len(params) :]:
        ax.set_axis_off()
    done = table["status"].eq(Status.COMPLETED) & table[objective].notna()
    jobs, values = table["job"].astype("float"), table[objective]
    ax = axes[0]
    ax.plot(jobs[done], values[done], "o", color="tab:blue", label="completed")
    if done.any():
        fit_values(ax, values[done])
        scored = values[done] if direction(objective) == "maximize" else -values[done]
        best = scored.idxmax()
        ax.plot(jobs[best], values[best], "*", color="tab:orange", markersize=14, label="best")
    if (~done).any():  # on the bottom edge of the axes, wherever the y range is
        ax.plot(
            jobs[~done],
            [0.0] * int((~done).sum()),
            "x",
            color="tab:red",
            markersize=10,
            mew=2,
            label="not completed",
            clip_on=False,
            transform=ax.get_xaxis_transform(),
        )
    ax.set_xlabel("job")
    ax.set_ylabel(objective)
    ax.set_title(f"{objective} per job")
    if jobs.notna().any() and len(table) <= 40:
        ax.set_xticks(sorted(jobs.dropna().unique()))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    for ax, param in zip(axes[1 : 1 + len(params)], params, strict=True):
        x, y = table.loc[done, param].astype(float), table.loc[done, objective]
        ax.plot(x, y, "o", color="tab:blue")
        positive = x.dropna()
        if len(positive) and (positive > 0).all() and positive.max() / positive.min() >= 20:
            ax.set_xscale("log")
        ax.set_xlabel(param)
        ax.set_ylabel(objective)
        ax.set_title(f"{objective} against {param}")
        ax.grid(alpha=0.3)
    if not done.any():
        fig.text(0.5, 0.5, "no completed job", ha="center", va="center", fontsize=14)
    return fig
