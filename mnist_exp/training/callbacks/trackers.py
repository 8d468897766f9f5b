"""Experiment trackers beside the run directory: TensorBoard and MLflow.

`start(cfg, run_dir)` turns the `logger` config into a :class:`Tracking`: the
Keras callbacks that log each epoch, and `finish(status)`, which closes the
trackers when the run has completed, failed or been interrupted. What every tracker
is sent beside its own series is chosen in tracked.py.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path

from mnist_exp.config.schema import Config

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Tracking:
    """The trackers of one run: callbacks for fit, then one finish() call."""

    callbacks: list = dataclasses.field(default_factory=list)
    finishers: list[Callable[[str], None]] = dataclasses.field(default_factory=list)

    def finish(self, status: str) -> None:
        """Close every tracker; a tracker that fails warns and never masks the run's result."""
        for finisher in self.finishers:
            try:
                finisher(status)
            except Exception as exc:  # the run's own files are written; say what is missing
                log.warning("logger could not record the run's end (%s): %s", status, exc)
        self.finishers = []


def start(cfg: Config, run_dir: Path, resume: bool = False) -> Tracking:
    """The configured trackers for the run in run_dir (none by default)."""
    tracking = Tracking()
    if cfg.logger.tensorboard is not None:
        from mnist_exp.training.callbacks.tensorboard import hparams_writer, tensorboard_callback

        tracking.callbacks.append(tensorboard_callback(cfg.logger.tensorboard, run_dir))
        tracking.finishers.append(hparams_writer(cfg.logger.tensorboard, cfg, run_dir))
    if cfg.logger.mlflow is not None:
        from mnist_exp.training.callbacks.mlflow import open_run

        run = open_run(cfg, run_dir, resume)
        tracking.callbacks.append(run.epoch_callback())
        tracking.finishers.append(run.finish)
    return tracking
