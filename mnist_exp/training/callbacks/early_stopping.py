"""callbacks=[early_stopping] and callbacks=[best_weights]: Keras' EarlyStopping, with
its state kept in the run's checkpoints, so that a resumed run stops where the
uninterrupted one would, and restores the same weights."""

from __future__ import annotations

import math

import keras
import numpy as np

from mnist_exp.training.callbacks.checkpoint import Resumable


class EarlyStopping(Resumable, keras.callbacks.EarlyStopping):
    """Keras' EarlyStopping (monitor, mode, patience, min_delta, restore_best_weights,
    start_from_epoch) whose counters, best value and best weights survive an
    interruption."""

    STATE = ("wait", "stopped_epoch", "best", "best_epoch")

    def checkpoint_arrays(self) -> list[np.ndarray]:
        return list(self.best_weights or [])

    def restore_arrays(self, arrays: list[np.ndarray]) -> None:
        self.best_weights = arrays or None


class BestWeights(EarlyStopping):
    """The best epoch's weights (by `monitor`) restored at the end of training: never
    stops early."""

    def __init__(self, monitor: str = "val_accuracy", mode: str = "auto", min_delta=0.0):
        super().__init__(
            monitor=monitor,
            mode=mode,
            min_delta=min_delta,
            patience=math.inf,
            restore_best_weights=True,
        )
