"""Experiment trackers beside the run directory: TensorBoard and MLflow.

`start(cfg, run_dir)` turns the `logger` config into a :class:`Tracking`: the
Keras callbacks that log each epoch, and `finish(status)`, which closes the
trackers when the run has completed, failed or been interrupted. What every tracker
is sent beside its own series (the final metrics, the overrides that say what a run
trains) is chosen here, once.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable
from pathlib import Path

from mnist_exp.config.schema import Config
from mnist_exp.results.metrics import HISTORY_COLUMNS, METRICS

log = logging.getLogger(__name__)

# metrics.json's best-epoch values under names that do not clash with the per-epoch
# series (whose last value is the last epoch's, not the best one's).
FINAL_RENAMES = {m.name: m.final for m in METRICS if m.final}
NOT_METRICS = {m.name for m in METRICS if not m.tracked}  # numbers that describe, not measure
# Overrides that say how a run is run, not what it trains: left out of its MLflow name
# and of its hyperparameters in TensorBoard.
HOW_KEYS = ("logger", "training.progress", "training.threads", "resume", "hydra.")


def final_metrics(metrics: dict) -> dict[str, float]:
    """metrics.json's numbers, less the per-epoch series the trackers already have."""
    per_epoch = set(HISTORY_COLUMNS) - {"epoch"}
    final = {}
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or key in NOT_METRICS:
            continue
        if not math.isfinite(value):
            continue
        if key in FINAL_RENAMES:
            final[FINAL_RENAMES[key]] = float(value)
        elif key not in per_epoch:
            final[key] = float(value)
    return final


def what_overrides(overrides: list[str]) -> list[str]:
    """The overrides that change what is trained (model=two_hidden), not how it is run."""
    return [o for o in overrides if not o.lstrip("+~").startswith(HOW_KEYS)]


def task_overrides() -> list[str]:
    """This run's overrides (Hydra's overrides.task); none outside a Hydra app."""
    from hydra.core.hydra_config import HydraConfig

    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


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
