"""Typed schemas of mnist-exp's own callbacks (conf/callbacks/*.yaml extend them).

A callback of Keras' own needs no schema: its YAML names it with `_target_` and
gives its arguments. These add range checks that run before anything is built.
Monitors take the vocabulary's names (val/loss); the direction that counts as
better follows from the metric (results/metrics.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import MISSING

from mnist_exp.errors import require
from mnist_exp.results.metrics import EPOCH_NAMES

OWN = "mnist_exp.training.callbacks"


@dataclass
class MonitorConfig:
    _target_: str = MISSING
    monitor: str = "val/loss"
    min_delta: float = 0.0  # a smaller change than this is no improvement

    def key(self, field: str) -> str:
        return f"callbacks.{self.NAME}.{field}"

    def __post_init__(self) -> None:
        require(
            self.monitor in EPOCH_NAMES, self.key("monitor"), self.monitor, f"one of {EPOCH_NAMES}"
        )
        require(self.min_delta >= 0, self.key("min_delta"), self.min_delta, "a number >= 0")


@dataclass
class EarlyStoppingConfig(MonitorConfig):
    """callbacks=[early_stopping]: stop once `monitor` has not improved for `patience` epochs."""

    NAME = "early_stopping"
    _target_: str = f"{OWN}.early_stopping.EarlyStopping"
    patience: int = 3
    # Keep the best epoch's weights (by `monitor`) as the saved model, not the last's.
    restore_best_weights: bool = False
    start_from_epoch: int = 0  # epochs of warm-up before stopping is considered

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.patience >= 0, self.key("patience"), self.patience, "an integer >= 0")
        require(
            self.start_from_epoch >= 0,
            self.key("start_from_epoch"),
            self.start_from_epoch,
            "an integer >= 0",
        )


@dataclass
class BestWeightsConfig(MonitorConfig):
    """callbacks=[best_weights]: the best epoch's weights (by `monitor`) become the saved
    model, and the test metrics are theirs; metrics.json's weights_epoch names it."""

    NAME = "best_weights"
    _target_: str = f"{OWN}.early_stopping.BestWeights"
    monitor: str = "val/accuracy"


@dataclass
class ReduceLROnPlateauConfig(MonitorConfig):
    """callbacks=[reduce_lr_on_plateau]: multiply the learning rate by `factor` once
    `monitor` has not improved for `patience` epochs (with schedule=constant)."""

    NAME = "reduce_lr_on_plateau"
    _target_: str = f"{OWN}.reduce_lr.ReduceLROnPlateau"
    factor: float = 0.5
    patience: int = 2
    min_delta: float = 1e-4
    cooldown: int = 0  # epochs to wait after a reduction before counting again
    min_lr: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        require(0 < self.factor < 1, self.key("factor"), self.factor, "a factor in (0, 1)")
        require(self.patience >= 0, self.key("patience"), self.patience, "an integer >= 0")
        require(self.cooldown >= 0, self.key("cooldown"), self.cooldown, "an integer >= 0")
        require(self.min_lr >= 0, self.key("min_lr"), self.min_lr, "a number >= 0")


SCHEMAS = (EarlyStoppingConfig, BestWeightsConfig, ReduceLROnPlateauConfig)
