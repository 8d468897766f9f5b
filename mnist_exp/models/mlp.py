"""model=mlp (and its presets one_hidden, two_hidden): a stack of Dense layers.

Each model family is a module of models/ with its schema (`SCHEMA`), whose `_target_`
names the function that builds the model from the schema's fields (models/catalog.py).
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
    _target_: str = f"{__name__}.build"
    # The hidden layers' widths, one per layer ([512, 256]); or one width, repeated
    # `layers` times (units=256 layers=3).
    units: Any = 512
    layers: Optional[int] = None
    activation: str = "relu"
    dropout: float = 0.0  # rate after each hidden layer; 0 adds no Dropout layer
    batch_norm: bool = False  # BatchNormalization between each Dense and its activation

    def __post_init__(self) -> None:
        super().__post_init__()
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
        return hidden_widths(self.units, self.layers)


SCHEMA = MLPConfig


def hidden_widths(units: Any, layers: Optional[int]) -> list[int]:
    """The widths `units` lists, or its one width `layers` times."""
    found = widths("model.units", units)
    if layers is None:
        return found
    if len(found) == 1:
        return found * layers
    require(
        len(found) == layers,
        "model.layers",
        layers,
        f"null, or {len(found)}: the number of widths model.units gives",
    )
    return found


def build(
    image_shape: tuple[int, ...],
    n_classes: int,
    *,
    name: str,
    units: Any,
    layers: Optional[int],
    activation: str,
    dropout: float,
    batch_norm: bool,
):
    """784 -> [Dense(units) -> BatchNorm? -> activation -> Dropout?] per width ->
    Dense(n_classes, softmax)."""
    import keras

    inputs = keras.Input(shape=(math.prod(image_shape),), name="pixels")
    x = inputs
    for i, width in enumerate(hidden_widths(units, layers), start=1):
        layer = keras.layers.Dense(
            width,
            use_bias=not batch_norm,
            activation=None if batch_norm else activation,
            name=f"hidden_{i}",
        )
        x = activated(layer(x), batch_norm, activation, str(i))
        if dropout > 0:
            x = keras.layers.Dropout(dropout, name=f"dropout_{i}")(x)
    return keras.Model(inputs, classes(x, n_classes), name=name)
