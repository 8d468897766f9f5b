"""A job of a pruned Optuna search (hydra.sweeper.pruner=median, ...): after every
epoch it reports the optimized metric to its trial, and stops training when the
study's pruner says the trial is hopeless. The run then ends as an early-stopped
one does (evaluated and saved), with the status `pruned`. A study whose database
stops answering costs the job its pruning, not its run: it trains on, says so once,
and reports again if the database comes back."""

from __future__ import annotations

import logging

import keras

from mnist_exp.adapters.optuna import storage_failure
from mnist_exp.errors import first_line
from mnist_exp.results.metrics import to_keras
from mnist_exp.training.callbacks.checkpoint import Resumable

STOP_REASON = "pruned"
log = logging.getLogger(__name__)


class ReportToTrial(Resumable, keras.callbacks.Callback):
    """Reports `monitor` (a per-epoch metric of the vocabulary) at step = epoch (1-based)."""

    STATE = ("stopped_after",)
    STOP_REASON = STOP_REASON

    def __init__(self, trial, monitor: str) -> None:
        super().__init__()
        self.trial = trial
        self.key = to_keras(monitor)
        self.stopped_after = 0  # the 1-based epoch after which the pruner stopped it
        self.unanswered = False  # the study's database failed a report (said once)

    def on_train_begin(self, logs=None):
        self.stopped_after = 0
        super().on_train_begin(logs)

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.key)
        if value is None:
            return
        try:
            self.trial.report(float(value), epoch + 1)
            prune = self.trial.should_prune()
        except Exception as exc:
            failure = storage_failure(exc)
            if failure is None:
                raise
            if not self.unanswered:
                log.warning(
                    "epoch %d: the trial's study cannot be reached (%s); training goes on "
                    "without pruning",
                    epoch + 1,
                    first_line(failure),
                )
            self.unanswered = True
            return
        if prune:
            self.stopped_after = epoch + 1
            self.model.stop_training = True
