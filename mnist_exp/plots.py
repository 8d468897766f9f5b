"""Figures of one run, and of a sweep. Each function returns a matplotlib Figure;
artifacts.py saves it.

Figures are built with the object API (no pyplot), so no GUI backend or global
state is involved and plotting is safe in parallel sweep jobs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mnist_exp.metrics import direction


def curves(history: pd.DataFrame, metric: str) -> Figure:
    """Train vs validation `metric` ("loss" or "accuracy") per epoch."""
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
    """A 3x3 grid of digits with their true and predicted labels."""
    fig = Figure(figsize=(6, 6.6))
    fig.suptitle(title)
    side = int(np.ceil(np.sqrt(count)))
    for i in range(count):
        ax = fig.add_subplot(side, side, i + 1)
        ax.set_axis_off()
        if i < len(images):
            ax.imshow(images[i].reshape(28, 28), cmap="gray_r", interpolation="nearest")
            ok = truth[i] == predicted[i]
            ax.set_title(
                f"true {class_names[truth[i]]}, pred {class_names[predicted[i]]}",
                fontsize=9,
                color="tab:green" if ok else "tab:red",
            )
    if len(images) == 0:
        fig.text(0.5, 0.5, "none", ha="center", va="center", fontsize=14)
    return fig


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
    rotation = "vertical" if max(map(len, class_names)) > 2 else "horizontal"
    ax.set_xticks(range(n), class_names, rotation=rotation)
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel("Predicted label")
    ax.set_ylabel("True label")
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_title("confusion matrix (test set)")
    return fig


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
    done = table["status"].eq("completed") & table[objective].notna()
    jobs, values = table["job"].astype("float"), table[objective]
    ax = axes[0]
    ax.plot(jobs[done], values[done], "o", color="tab:blue", label="completed")
    if done.any():
        low, high = values[done].min(), values[done].max()
        pad = (high - low) * 0.15 or abs(high) * 0.05 or 0.05
        ax.set_ylim(low - pad, high + pad)
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
