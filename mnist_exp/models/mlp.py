"""model=one_hidden, two_hidden: a stack of Dense layers (a multi-layer perceptron).

Each model family is a module of models/ with its schema (`SCHEMA`) and `build`;
a run builds its model with the module that defines the config's schema
(models/catalog.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mnist_exp.errors import require
from mnist_exp.models.base import ModelConfig, require_activation, require_rate


@dataclass
class MLPConfig(ModelConfig):
    layers: int = 1  # hidden Dense layers
    units: int = 512  # units per hidden layer
    activation: str = "relu"
    dropout: float = 0.0  # rate after each hidden layer; 0 adds no Dropout layer

    def __post_init__(self) -> None:
        require(self.layers >= 1, "model.layers", self.layers, "an integer >= 1")
        require(self.units >= 1, "model.units", self.units, "an integer >= 1")
        require_rate("model.dropout", self.dropout)
        require_activation("model.activation", self.activation)


SCHEMA = MLPConfig


def build(cfg: MLPConfig, image_shape: tuple[int, ...], n_classes: int):
    """784 -> [Dense(units, activation) -> Dropout?] x layers -> Dense(n_classes, softmax)."""
    import keras

    inputs = keras.Input(shape=(math.prod(image_shape),), name="pixels")
    x = inputs
    for i in range(1, cfg.layers + 1):
        x = keras.layers.Dense(cfg.units, activation=cfg.activation, name=f"hidden_{i}")(x)
        if cfg.dropout > 0:
            x = keras.layers.Dropout(cfg.dropout, name=f"dropout_{i}")(x)
    return keras.Model(inputs, classes(x, n_classes), name=cfg.name)


def classes(x, n_classes: int):
    """The softmax head every family ends in, float32 even under a mixed precision
    policy: a stable softmax and loss."""
    import keras

    return keras.layers.Dense(n_classes, activation="softmax", dtype="float32", name="classes")(x)
