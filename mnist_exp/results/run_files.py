"""The files of a run directory that tables and figures make: history.csv,
predictions.csv and plots/, each written whole (files.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mnist_exp.results import files, plots
from mnist_exp.results.metrics import Place, history_columns, logged, per_epoch


def history_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=history_columns())


def write_history(run_dir: Path, history: pd.DataFrame | list[dict]) -> Path:
    """history.csv: a frame, or the rows of one (an EpochRecorder's)."""
    if not isinstance(history, pd.DataFrame):
        history = history_frame(history)
    return files.write_csv(run_dir / files.HISTORY, history)


def write_predictions(
    run_dir: Path, labels: np.ndarray, predicted: np.ndarray, confidence: np.ndarray
) -> Path:
    table = pd.DataFrame(
        {
            "index": np.arange(len(predicted)),
            "label": labels,
            "predicted": predicted,
            "confidence": confidence,
        }
    )
    return files.write_csv(run_dir / files.PREDICTIONS, table)


def write_plots(
    run_dir: Path,
    history: pd.DataFrame,
    images: np.ndarray,
    truth: np.ndarray,
    predicted: np.ndarray,
    names: list[str],
) -> None:
    """The curves of each per-epoch metric placed in plots (loss, accuracy), nine right
    and nine wrong test digits, and the confusion matrix. Curves and digit grids fit
    their canvas whatever the data: saved as laid out. The confusion matrix's ticks are
    class names, as long as "Ankle boot" for Fashion-MNIST: its canvas is then fitted
    to them."""
    folder = run_dir / files.PLOTS
    for metric in per_epoch(Place.PLOTS, logged()):
        figure = plots.curves(history, metric.name)
        files.write_figure(folder / f"{metric.name}.png", figure, fit=False)
    right = np.flatnonzero(truth == predicted)[:9]
    wrong = np.flatnonzero(truth != predicted)[:9]
    for name, index, title in (
        ("correct", right, "correctly classified"),
        ("incorrect", wrong, "incorrectly classified"),
    ):
        figure = plots.digit_grid(images[index], truth[index], predicted[index], title, names)
        files.write_figure(folder / f"{name}.png", figure, fit=False)
    figure = plots.confusion_matrix(truth, predicted, names)
    files.write_figure(folder / "confusion_matrix.png", figure, fit=plots.long_names(names))
