"""The schedule group: how the learning rate moves during a run, each option its
typed schema and, named by its `_target_`, the function that makes its Keras form
(app/store.py registers the schemas; `build` calls the function).

Each starts from the optimizer's learning_rate and counts in epochs. Keras' own
schedule classes carry them over the run's steps, so that a schedule is saved with
the optimizer in model.keras and a resumed run continues it from the optimizer's
step count. The rate an epoch starts with, history.csv's lr, is the schedule at step
epoch x steps_per_epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import MISSING

from mnist_exp.config.targets import TARGETS, instantiate_allowed
from mnist_exp.errors import require


@dataclass
class ScheduleConfig:
    # a function of this module, called with learning_rate, steps_per_epoch and epochs,
    # and the schema's fields (their defaults are the schema's: the functions have none)
    _target_: str = MISSING
    name: str = MISSING

    def check(self, epochs: int) -> None:
        """Checks that need the run's length (training.epochs)."""


def build(cfg: ScheduleConfig, learning_rate: float, steps_per_epoch: int, epochs: int):
    """The learning rate the optimizer takes: a float, or a Keras schedule."""
    run = {"learning_rate": learning_rate, "steps_per_epoch": steps_per_epoch, "epochs": epochs}
    return instantiate_allowed(cfg, "schedule", TARGETS["schedule"], **run)


@dataclass
class ConstantConfig(ScheduleConfig):
    """The optimizer's learning rate throughout (callbacks may still change it)."""

    _target_: str = f"{__name__}.constant"
    name: str = "constant"


def constant(learning_rate: float, steps_per_epoch: int, epochs: int, *, name: str):
    return learning_rate


@dataclass
class CosineConfig(ScheduleConfig):
    """A linear warm-up from 0 over `warmup_epochs`, then a cosine from the learning
    rate down to final_fraction of it at the run's last step."""

    _target_: str = f"{__name__}.cosine"
    name: str = "cosine"
    warmup_epochs: int = 0
    final_fraction: float = 0.0

    def __post_init__(self) -> None:
        require(
            self.warmup_epochs >= 0, "schedule.warmup_epochs", self.warmup_epochs, "an integer >= 0"
        )
        require(
            0.0 <= self.final_fraction <= 1.0,
            "schedule.final_fraction",
            self.final_fraction,
            "a fraction in [0, 1]",
        )

    def check(self, epochs: int) -> None:
        require(
            self.warmup_epochs < epochs,
            "schedule.warmup_epochs",
            self.warmup_epochs,
            f"fewer than the run's training.epochs={epochs}",
        )


def cosine(
    learning_rate: float,
    steps_per_epoch: int,
    epochs: int,
    *,
    warmup_epochs: int,
    final_fraction: float,
    name: str,
):
    import keras

    warmup = warmup_epochs * steps_per_epoch
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup else learning_rate,
        decay_steps=epochs * steps_per_epoch - warmup,
        alpha=final_fraction,
        warmup_target=learning_rate if warmup else None,
        warmup_steps=warmup,
    )


@dataclass
class ExponentialConfig(ScheduleConfig):
    """The learning rate times decay_rate after each epoch."""

    _target_: str = f"{__name__}.exponential"
    name: str = "exponential"
    decay_rate: float = 0.9

    def __post_init__(self) -> None:
        require(
            0 < self.decay_rate <= 1, "schedule.decay_rate", self.decay_rate, "a rate in (0, 1]"
        )


def exponential(
    learning_rate: float,
    steps_per_epoch: int,
    epochs: int,
    *,
    decay_rate: float,
    name: str,
):
    import keras

    return keras.optimizers.schedules.ExponentialDecay(
        learning_rate, decay_steps=steps_per_epoch, decay_rate=decay_rate, staircase=True
    )


@dataclass
class StepConfig(ScheduleConfig):
    """The learning rate times gamma after every step_epochs epochs."""

    _target_: str = f"{__name__}.step"
    name: str = "step"
    step_epochs: int = 5
    gamma: float = 0.1

    def __post_init__(self) -> None:
        require(self.step_epochs >= 1, "schedule.step_epochs", self.step_epochs, "an integer >= 1")
        require(0 < self.gamma <= 1, "schedule.gamma", self.gamma, "a factor in (0, 1]")


def step(
    learning_rate: float,
    steps_per_epoch: int,
    epochs: int,
    *,
    step_epochs: int,
    gamma: float,
    name: str,
):
    import keras

    return keras.optimizers.schedules.ExponentialDecay(
        learning_rate, decay_steps=step_epochs * steps_per_epoch, decay_rate=gamma, staircase=True
    )
