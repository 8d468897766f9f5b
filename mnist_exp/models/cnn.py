"""model=cnn: convolution blocks on the 28x28 image, then a dense head.

With its defaults it is keras-io's mnist_convnet: Conv2D(32, 3) -> MaxPool(2) ->
Conv2D(64, 3) -> MaxPool(2) -> Flatten -> Dropout(0.5) -> Dense(10, softmax). The
data stay 784 pixels a row (as every family takes them); the model's first layer
reshapes them into the image.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mnist_exp.data.checks import IMAGE_SHAPE
from mnist_exp.errors import require
from mnist_exp.models.base import (
    ModelConfig,
    activated,
    classes,
    require_activation,
    require_rate,
    widths,
)

PADDINGS = ("valid", "same")


@dataclass
class CNNConfig(ModelConfig):
    _target_: str = f"{__name__}.build"
    filters: Any = field(default_factory=lambda: [32, 64])  # one conv block per entry
    convs_per_block: int = 1  # convolutions in each block, all with the block's filters
    kernel_size: int = 3
    padding: str = "valid"  # valid: each convolution trims kernel_size - 1 pixels
    pool: int = 2  # max pooling after each block, pool x pool; 1: none
    batch_norm: bool = False  # BatchNormalization between each layer and its activation
    activation: str = "relu"
    block_dropout: float = 0.0  # after each block
    dense: Any = field(default_factory=list)  # the head's hidden Dense widths
    dropout: float = 0.5  # before each layer of the head and the output

    def __post_init__(self) -> None:
        super().__post_init__()
        widths("model.filters", self.filters)
        widths("model.dense", self.dense, empty=True)
        for key in ("convs_per_block", "kernel_size", "pool"):
            value = getattr(self, key)
            require(value >= 1, f"model.{key}", value, "an integer >= 1")
        require(self.padding in PADDINGS, "model.padding", self.padding, f"one of {PADDINGS}")
        require_activation("model.activation", self.activation)
        require_rate("model.block_dropout", self.block_dropout)
        require_rate("model.dropout", self.dropout)
        self.feature_shape(IMAGE_SHAPE)

    def feature_shape(self, image_shape: tuple[int, int]) -> tuple[int, int]:
        """The image's size after the blocks; refuses blocks that shrink it below 1x1."""
        height, width = image_shape
        trim = 0 if self.padding == "same" else (self.kernel_size - 1) * self.convs_per_block
        for block, filters in enumerate(widths("model.filters", self.filters), start=1):
            height, width = (height - trim) // self.pool, (width - trim) // self.pool
            require(
                min(height, width) >= 1,
                "model.filters",
                self.filters,
                f"fewer blocks: block {block} ({filters} filters) shrinks the "
                f"{image_shape[0]}x{image_shape[1]} image below 1x1 (kernel_size="
                f"{self.kernel_size}, padding={self.padding}, pool={self.pool})",
            )
        return height, width


SCHEMA = CNNConfig


def build(
    image_shape: tuple[int, ...],
    n_classes: int,
    *,
    name: str,
    filters: Any,
    convs_per_block: int,
    kernel_size: int,
    padding: str,
    pool: int,
    batch_norm: bool,
    activation: str,
    block_dropout: float,
    dense: Any,
    dropout: float,
):
    import math

    import keras

    inputs = keras.Input(shape=(math.prod(image_shape),), name="pixels")
    x = keras.layers.Reshape((*image_shape, 1), name="image")(inputs)
    for block, width in enumerate(widths("model.filters", filters), start=1):
        for conv in range(1, convs_per_block + 1):
            layer = keras.layers.Conv2D(
                width,
                kernel_size,
                padding=padding,
                use_bias=not batch_norm,
                activation=None if batch_norm else activation,
                name=f"conv_{block}_{conv}",
            )
            x = activated(layer(x), batch_norm, activation, f"{block}_{conv}")
        if pool > 1:
            x = keras.layers.MaxPooling2D(pool, name=f"pool_{block}")(x)
        if block_dropout > 0:
            x = keras.layers.Dropout(block_dropout, name=f"block_dropout_{block}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    for i, units in enumerate(widths("model.dense", dense, empty=True), start=1):
        if dropout > 0:
            x = keras.layers.Dropout(dropout, name=f"dropout_{i}")(x)
        layer = keras.layers.Dense(
            units,
            use_bias=not batch_norm,
            activation=None if batch_norm else activation,
            name=f"dense_{i}",
        )
        x = activated(layer(x), batch_norm, activation, f"dense_{i}")
    if dropout > 0:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    return keras.Model(inputs, classes(x, n_classes), name=name)
