"""model=mlp (and its presets one_hidden, two_hidden): a stack of Dense layers.

Each model family is a module of models/ with its schema (`SCHEMA`) and `build`;
a run builds its model with the module that defines the config's schema
(models/catalog.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

from mnist_exp.errors import require
from mnist_exp.models.base import (
    ModelConfig,
    activated,
    classes,
    require_activation,
    require_rate,
    widths,
)


@dataclass
class MLPConfig(ModelConfig):
    # The hidden layers' widths, one per layer ([512, 256]); or one width, repeated
    # `layers` times (units=256 layers=3).
    units: Any = 512
    layers: Optional[int] = None
    activation: str = "relu"
    dropout: float = 0.0  # rate after each hidden layer; 0 adds no Dropout layer
    batch_norm: bool = False  # BatchNormalization between each Dense and its activation

    def __post_init__(self) -> None:
        require(
            self.layers is None or self.layers >= 1,
            "model.layers",
            self.layers,
            "null or an integer >= 1",
        )
        self.hidden  # noqa: B018 - checks the widths
        require_rate("model.dropout", self.dropout)
        require_activation("model.activation", self.activation)

    @property
    def hidden(self) -> list[int]:
        """The hidden layers' widths."""
        found = widths("model.units", self.units)
        if self.layers is None:
            return found
        if len(found) == 1:
            return found * self.layers
        require(
            len(found) == self.layers,
            "model.layers",
            self.layers,
            f"null, or {len(found)}: the number of widths model.units gives",
        )
        return found


SCHEMA = MLPConfig


def build(cfg: MLPConfig, image_shape: tuple[int, ...], n_classes: int):
    """784 -> [Dense(units) -> BatchNorm? -> activation -> Dropout?] per width ->
    Dense(n_classes, softmax)."""
    import keras

    inputs = keras.Input(shape=(math.prod(image_shape),), name="pixels")
    x = inputs
    for i, units in enumerate(cfg.hidden, start=1):
        layer = keras.layers.Dense(
            units,
            use_bias=not cfg.batch_norm,
            activation=None if cfg.batch_norm else cfg.activation,
            name=f"hidden_{i}",
        )
        x = activated(layer(x), cfg.batch_norm, cfg.activation, str(i))
        if cfg.dropout > 0:
            x = keras.layers.Dropout(cfg.dropout, name=f"dropout_{i}")(x)
    return keras.Model(inputs, classes(x, n_classes), name=cfg.name)
