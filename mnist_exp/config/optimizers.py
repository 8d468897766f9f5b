"""Typed schemas of the optimizer group: one per Keras optimizer, its class as
`_target_` and its keyword arguments as fields (`name` too: Keras' optimizers take it)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from omegaconf import MISSING

from mnist_exp.config.targets import concrete, require_own
from mnist_exp.errors import require


@dataclass
class OptimizerConfig:
    """Fields are the keyword arguments of the Keras optimizer `_target_` names."""

    _target_: str = MISSING
    name: str = MISSING
    learning_rate: float = 0.001

    def __post_init__(self) -> None:
        require_own(
            self, "optimizer", ("_target_", "name"), f"pick another with optimizer={names()}"
        )
        lr = self.learning_rate
        require(lr > 0 and math.isfinite(lr), "optimizer.learning_rate", lr, "a finite number > 0")


@dataclass
class RMSpropConfig(OptimizerConfig):
    _target_: str = "keras.optimizers.RMSprop"
    name: str = "rmsprop"
    rho: float = 0.9
    momentum: float = 0.0
    epsilon: float = 1e-7
    centered: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        require(0.0 <= self.rho < 1.0, "optimizer.rho", self.rho, "a value in [0, 1)")
        require(
            0.0 <= self.momentum < 1.0, "optimizer.momentum", self.momentum, "a value in [0, 1)"
        )
        require(self.epsilon > 0, "optimizer.epsilon", self.epsilon, "a value > 0")


@dataclass
class AdamConfig(OptimizerConfig):
    _target_: str = "keras.optimizers.Adam"
    name: str = "adam"
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-7
    amsgrad: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        for key in ("beta_1", "beta_2"):
            value = getattr(self, key)
            require(0.0 <= value < 1.0, f"optimizer.{key}", value, "a value in [0, 1)")
        require(self.epsilon > 0, "optimizer.epsilon", self.epsilon, "a value > 0")


@dataclass
class SGDConfig(OptimizerConfig):
    _target_: str = "keras.optimizers.SGD"
    name: str = "sgd"
    learning_rate: float = 0.01
    momentum: float = 0.0
    nesterov: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        require(
            0.0 <= self.momentum < 1.0, "optimizer.momentum", self.momentum, "a value in [0, 1)"
        )


def choices() -> list[type[OptimizerConfig]]:
    """Every optimizer's schema: the subclasses of OptimizerConfig, at any depth, that
    name an optimizer."""
    return concrete(OptimizerConfig)


def names() -> str:
    return "|".join(cls.name for cls in choices())
