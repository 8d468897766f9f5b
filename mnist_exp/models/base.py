"""What every model family shares: the schema's target and name, its checks, the softmax head."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import MISSING

from mnist_exp.config.targets import require_own
from mnist_exp.errors import require

# Keras' activation registry, checked without importing Keras.
ACTIVATIONS = ("relu", "gelu", "elu", "selu", "tanh", "sigmoid", "swish", "leaky_relu")
# The moving statistics follow the batches' faster than Keras' 0.99 would (PyTorch's
# default): with 0.99 a net trained for an epoch or two still infers with the
# statistics it started from.
BATCH_NORM_MOMENTUM = 0.9


@dataclass
class ModelConfig:
    # The function of the family's module that builds its model, called with the image
    # shape, the number of classes and the schema's fields (their defaults are the
    # schema's: the functions have none).
    _target_: str = MISSING
    name: str = MISSING  # the option's name (one_hidden), kept as the Keras model's name

    def __post_init__(self) -> None:
        require_own(
            self,
            "model",
            ("_target_",),
            "a model of another family extends its schema, /schema/model/<family>@_here_",
        )


def require_rate(key: str, value: float) -> None:
    require(0.0 <= value < 1.0, key, value, "a rate in [0, 1)")


def require_activation(key: str, value: str) -> None:
    require(value in ACTIVATIONS, key, value, f"one of {ACTIVATIONS}")


def widths(key: str, value: Any, empty: bool = False) -> list[int]:
    """A width (units, filters) or a list of them, as a list of integers >= 1."""
    found = list(value) if isinstance(value, list | tuple) else [value]
    allowed = "a whole number >= 1 or a list of them" + (", or []" if empty else "")
    require(empty or bool(found), key, found, allowed)
    for width in found:
        ok = isinstance(width, int) and not isinstance(width, bool) and width >= 1
        require(ok, key, value, allowed)
    return found


def activated(x, batch_norm: bool, activation: str, suffix: str):
    """The activation after a layer built without it, with BatchNormalization between
    them where asked (the layer then has no bias); a layer with its own activation as
    it is."""
    if not batch_norm:
        return x
    import keras

    x = keras.layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM, name=f"batch_norm_{suffix}")(
        x
    )
    return keras.layers.Activation(activation, name=f"{activation}_{suffix}")(x)


def classes(x, n_classes: int):
    """The softmax head every family ends in, float32 even under a mixed precision
    policy: a stable softmax and loss."""
    import keras

    return keras.layers.Dense(n_classes, activation="softmax", dtype="float32", name="classes")(x)
