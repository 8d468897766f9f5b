"""Figures of one run. Each function returns a matplotlib Figure; artifacts.py saves it.

Figures are built with the object API (no pyplot), so no GUI backend or global
state is involved and plotting is safe in parallel sweep jobs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure


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
    from sklearn.metrics import ConfusionMatrixDisplay

    fig = Figure(figsize=(7, 6))
    ax = fig.add_subplot()
    ConfusionMatrixDisplay.from_predictions(
        truth,
        predicted,
        labels=list(range(len(class_names))),
        display_labels=class_names,
        ax=ax,
        colorbar=False,
        cmap="Blues",
        xticks_rotation="vertical" if max(map(len, class_names)) > 2 else "horizontal",
    )
    ax.set_title("confusion matrix (test set)")
    return fig
