"""The run's history: one row per finished epoch, as history.csv holds it."""

from __future__ import annotations

import time

import keras

from mnist_exp.results.metrics import from_keras


class EpochRecorder(keras.callbacks.Callback):
    """Keeps one row per finished epoch in the metric vocabulary, with lr and seconds.

    lr is the rate of the epoch's first step: a schedule's at that step, or the rate
    a callback (reduce_lr_on_plateau) set at the end of the epoch before."""

    def __init__(self, rows: list[dict] | None = None, keep=lambda: True) -> None:
        super().__init__()
        self.rows: list[dict] = rows if rows is not None else []  # earlier epochs on resume
        self.keep = keep  # False for an epoch cut short by a signal
        self._started = 0.0
        self._lr = float("nan")

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()
        self._lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def on_epoch_end(self, epoch, logs=None):
        if not self.keep():
            return
        row = {"epoch": epoch + 1, **from_keras(logs or {})}
        row["lr"] = self._lr
        row["seconds"] = time.perf_counter() - self._started
        self.rows.append(row)
