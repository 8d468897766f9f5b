"""The live progress display of fit: epoch, step, the vocabulary's per-epoch metrics
and rate."""

from __future__ import annotations

import time
from collections.abc import Callable

import keras
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from mnist_exp.results.metrics import (
    Place,
    format_value,
    from_keras,
    logged,
    per_epoch,
)


class RichProgress(keras.callbacks.Callback):
    """Epoch, step, training metrics and rate, drawn from the batch hook (no refresh thread).

    Keras calls the batch hook once per training.steps_per_execution steps (on
    the training thread with TensorFlow, whose backend Keras does not treat as
    thread-safe; off it, async_safe, with JAX), and the display reads the logs
    and redraws on each epoch's first block, then at most every `interval` seconds:
    a draw costs milliseconds on the training thread, and the display's share of fit
    stays small even for one-second epochs (benchmarks/README.md measures it).
    `clock` is the time the display reads (seconds; tests give it their own).
    """

    async_safe = True

    def __init__(
        self,
        console: Console,
        batch_size: int,
        interval: float = 2.0,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        super().__init__()
        self.console = console
        self.batch_size = batch_size
        self.interval = interval
        self.clock = clock
        self.bar = bar = per_epoch(Place.PROGRESS, logged())  # its training metrics
        self.progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("  ".join(f"{m.label} {{task.fields[{m.keras}]:{m.fmt}}}" for m in bar)),
            TextColumn("{task.fields[rate]:,.0f} samples/s"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            # Drawn when it changes, at most every `interval`, between steps: rich's own
            # refresh thread would redraw 10 times a second on a core that training uses.
            auto_refresh=False,
        )
        self._task = None
        self._epoch_started = 0.0
        self._last: float | None = None  # the last draw's time; None: not yet this epoch
        self._steps = 0
        self._cut_short = False

    def on_train_begin(self, logs=None):
        self.progress.start()
        self._steps = steps = self.params.get("steps") or 0
        self._epochs = self.params.get("epochs") or 0
        unknown = {m.keras: float("nan") for m in self.bar}
        self._task = self.progress.add_task("fit", total=steps, epoch="", rate=0.0, **unknown)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_started = self.clock()
        self._last = None  # the epoch's first block of steps draws; then every interval
        self.progress.update(self._task, completed=0, epoch=f"{epoch + 1}/{self._epochs}")

    def on_train_batch_end(self, batch, logs=None):
        # A stop asked during the epoch's steps (a signal, a NaN loss) cuts it short;
        # one asked at its end (early stopping) comes after the epoch is complete.
        self._cut_short = self.model.stop_training
        now = self.clock()
        if self._last is not None and now - self._last < self.interval:
            return
        self._last = now
        logs = logs or {}
        # With steps_per_execution, Keras reports a block's last step number even
        # where the epoch ends inside the block.
        done = min(batch + 1, self._steps) if self._steps else batch + 1
        rate = done * self.batch_size / max(now - self._epoch_started, 1e-9)
        self.progress.update(
            self._task,
            completed=done,
            **{m.keras: float(logs.get(m.keras, float("nan"))) for m in self.bar},
            rate=rate,
        )
        self.progress.refresh()

    def on_epoch_end(self, epoch, logs=None):
        metrics = from_keras(logs or {})
        seconds = self.clock() - self._epoch_started
        text = "  ".join(f"{k} {format_value(v, k)}" for k, v in metrics.items())
        if self._cut_short:
            text = "stopped before the end of the epoch"
        self.progress.console.print(f"epoch {epoch + 1}/{self._epochs}  {text}  ({seconds:.1f}s)")

    def on_train_end(self, logs=None):
        self.progress.stop()
