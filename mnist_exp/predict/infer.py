"""A trained model's classes for images in MNIST's form: the model, its class names,
the probabilities, and the table of results."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist_exp.data.prepare import prepare
from mnist_exp.errors import UserError
from mnist_exp.models.inference import predict as predict_batches
from mnist_exp.predict.images import Item
from mnist_exp.results.files import METRICS, MODEL, read_json


def model_path(target: Path) -> Path:
    """RUN_DIR -> RUN_DIR/model.keras; a model file as it is."""
    if target.is_dir():
        path = target / MODEL
        if not path.is_file():
            raise UserError(f"{target} has no {MODEL}: not a completed run directory")
        return path
    if not target.is_file():
        raise UserError(f"{target}: no such run directory or model file")
    return target


def class_names(target: Path, n_classes: int) -> list[str]:
    """The run's class names (metrics.json: data.class_names), else 0..n-1."""
    folder = target if target.is_dir() else target.parent
    try:
        names = read_json(folder / METRICS)["data"]["class_names"]
        if isinstance(names, list) and len(names) == n_classes:
            return [str(n) for n in names]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return [str(i) for i in range(n_classes)]


def predict(model, items: list[Item]) -> np.ndarray:
    """(n, classes) probabilities for the items, shaped for the model's input."""
    x = prepare(np.stack([item.pixels for item in items]))
    shape = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else (784,)
    if np.prod(shape) != x.shape[1]:
        raise UserError(f"the model takes inputs of shape {shape}, not 28x28 images")
    return predict_batches(model, x.reshape(-1, *shape))


def ranked(probabilities: np.ndarray, top: int) -> list[list[tuple[int, float]]]:
    """Per row, the `top` (class, probability) pairs, most probable first."""
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :top]
    return [
        [(int(c), float(row[c])) for c in cols]
        for row, cols in zip(probabilities, order, strict=True)
    ]


def results(items: list[Item], top: list[list[tuple[int, float]]], names: list[str]):
    """One row per image: file, predicted, confidence, then the runners-up."""
    import pandas as pd

    rows = []
    for item, ranks in zip(items, top, strict=True):
        row = {"file": item.name, "predicted": names[ranks[0][0]], "confidence": ranks[0][1]}
        for k, (cls, p) in enumerate(ranks[1:], start=2):
            row[f"top{k}"], row[f"top{k}_confidence"] = names[cls], p
        rows.append(row)
    return pd.DataFrame(rows)
