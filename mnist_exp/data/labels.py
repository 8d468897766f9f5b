"""Label encodings, and the guard that keeps one-hot rows and class ids apart.

The tutorial compared one-hot test labels (n, 10) with predicted class ids (n,)
and, through numpy broadcasting, reported "0 correct, 1 incorrect". Here every
comparison goes through :func:`count_correct`, which refuses such a pair loudly.
"""

from __future__ import annotations

import numpy as np

from mnist_exp.config.schema import LossConfig, TrainingConfig
from mnist_exp.errors import LabelEncodingError


def one_hot_labels(loss: LossConfig, training: TrainingConfig) -> bool:
    """One-hot rows only where they are asked for.

    Categorical cross-entropy on one-hot rows is sparse categorical cross-entropy on
    class ids: the same loss, the same gradients, and "accuracy" the same metric.
    With training.sparse_labels the model trains on class ids, without an (n, 10)
    float matrix to gather per batch.
    """
    return loss.one_hot and not training.sparse_labels


def encode(class_ids: np.ndarray, one_hot: bool, n_classes: int) -> np.ndarray:
    """Labels in the form the loss expects: one-hot float32 rows or int class ids."""
    ids = check_class_ids(class_ids, "labels", n_classes)
    if not one_hot:
        return ids
    encoded = np.zeros((len(ids), n_classes), dtype=np.float32)
    encoded[np.arange(len(ids)), ids] = 1.0
    return encoded


def decode(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predicted class ids and their confidence from (n, n_classes) probabilities."""
    if probabilities.ndim != 2:
        raise LabelEncodingError(
            f"predictions have shape {probabilities.shape}; expected (n, n_classes) probabilities"
        )
    return probabilities.argmax(axis=1).astype(np.int64), probabilities.max(axis=1)


def check_class_ids(values: np.ndarray, what: str, n_classes: int) -> np.ndarray:
    """Return values as int64 class ids of shape (n,), or raise naming the mistake."""
    values = np.asarray(values)
    if values.ndim == 2 and values.shape[1] == n_classes:
        raise LabelEncodingError(
            f"{what} have shape {values.shape}: one-hot rows, not class ids; "
            f"decode them with argmax(axis=1) before comparing"
        )
    if values.ndim != 1:
        raise LabelEncodingError(f"{what} have shape {values.shape}; expected class ids (n,)")
    if values.size and not np.issubdtype(values.dtype, np.integer):
        if not np.all(np.equal(np.mod(values, 1), 0)):
            raise LabelEncodingError(f"{what} are {values.dtype} with fractions, not class ids")
    ids = values.astype(np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= n_classes):
        raise LabelEncodingError(
            f"{what} span {ids.min()}..{ids.max()}; class ids are 0..{n_classes - 1}"
        )
    return ids


def count_correct(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> tuple[int, int]:
    """(correct, incorrect) for two arrays of class ids of the same length."""
    truth = check_class_ids(y_true, "true labels", n_classes)
    pred = check_class_ids(y_pred, "predicted labels", n_classes)
    if truth.shape != pred.shape:
        raise LabelEncodingError(
            f"{len(truth)} true labels but {len(pred)} predictions: they must pair one to one"
        )
    correct = int(np.count_nonzero(truth == pred))
    return correct, len(truth) - correct
