"""Callbacks that end fit early and say why: a NaN loss, or SIGINT / SIGTERM.

Both check in Keras' async batch hook (async_safe), so the training loop does no
per-step work for them; fit stops within a step (or one steps_per_execution block).
"""

from __future__ import annotations

import math
import signal
import threading

import keras


class StopOnNaN(keras.callbacks.Callback):
    """Stop as soon as the training loss is NaN or infinite."""

    async_safe = True

    def __init__(self) -> None:
        super().__init__()
        self.epoch = 0
        self.tripped_at: tuple[int, int] | None = None  # (epoch, step), 1-based epoch

    @property
    def tripped(self) -> bool:
        return self.tripped_at is not None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)) and not self.tripped:
            self.tripped_at = (self.epoch, batch + 1)
            self.model.stop_training = True


class StopOnSignal(keras.callbacks.Callback):
    """SIGINT (Ctrl-C), SIGTERM or SIGUSR2 ends fit after the current step. SIGUSR2 is
    the warning SLURM sends a job (as submitit asks: --signal=USR2@signal_delay_s)
    before its time limit or when it is preempted.

    The unfinished epoch is not recorded or checkpointed, so the last checkpoint
    is the last completed epoch. A second signal interrupts at once.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR2)

    def __init__(self) -> None:
        super().__init__()
        self.received: str | None = None
        self._previous: dict = {}

    def _handle(self, signum, frame):
        if self.received is not None:  # asked twice: stop now
            raise KeyboardInterrupt
        self.received = signal.Signals(signum).name
        if self.model is not None:
            self.model.stop_training = True

    def on_train_begin(self, logs=None):
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)

    def on_train_end(self, logs=None):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
