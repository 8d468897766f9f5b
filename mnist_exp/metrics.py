"""The one metric vocabulary: split/name, the same in history.csv, metrics.json,
checkpoint monitors, optimized_metric and sweep summaries."""

from __future__ import annotations

KERAS_TO_NAME = {
    "loss": "train/loss",
    "accuracy": "train/accuracy",
    "val_loss": "val/loss",
    "val_accuracy": "val/accuracy",
}
HISTORY_COLUMNS = ["epoch", *KERAS_TO_NAME.values(), "lr", "seconds"]


def from_keras(logs: dict) -> dict[str, float]:
    """Rename Keras' log keys (val_accuracy) to the vocabulary (val/accuracy)."""
    return {KERAS_TO_NAME[k]: float(v) for k, v in logs.items() if k in KERAS_TO_NAME}


def direction(metric: str) -> str:
    """How a sweep ranks by `metric`: "minimize" a loss, "maximize" anything else (accuracy)."""
    return "minimize" if metric.rsplit("/", 1)[-1] == "loss" else "maximize"
