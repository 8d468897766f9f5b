"""A job of a pruned Optuna search (hydra.sweeper.pruner=median, ...): after every
epoch it reports the optimized metric to its trial, and stops training when the
study's pruner says the trial is hopeless. The run then ends as an early-stopped
one does (evaluated and saved), with the status `pruned`."""

from __future__ import annotations

import keras

from mnist_exp.results.metrics import to_keras
from mnist_exp.training.callbacks.checkpoint import Resumable

STOP_REASON = "pruned"


class ReportToTrial(Resumable, keras.callbacks.Callback):
    """Reports `monitor` (a per-epoch metric of the vocabulary) at step = epoch (1-based)."""

    STATE = ("stopped_after",)
    STOP_REASON = STOP_REASON

    def __init__(self, trial, monitor: str) -> None:
        super().__init__()
        self.trial = trial
        self.key = to_keras(monitor)
        self.stopped_after = 0  # the 1-based epoch after which the pruner stopped it

    def on_train_begin(self, logs=None):
        self.stopped_after = 0
        super().on_train_begin(logs)

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.key)
        if value is None:
            return
        self.trial.report(float(value), epoch + 1)
        if self.trial.should_prune():
            self.stopped_after = epoch + 1
            self.model.stop_training = True
