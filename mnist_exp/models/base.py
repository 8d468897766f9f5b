"""What every model family's schema shares, and the activations Keras knows by name."""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import MISSING

from mnist_exp.errors import require

# Keras' activation registry, checked without importing Keras.
ACTIVATIONS = ("relu", "gelu", "elu", "selu", "tanh", "sigmoid", "swish", "leaky_relu")


@dataclass
class ModelConfig:
    name: str = MISSING  # the option's name (one_hidden), kept as the Keras model's name


def require_rate(key: str, value: float) -> None:
    require(0.0 <= value < 1.0, key, value, "a rate in [0, 1)")


def require_activation(key: str, value: str) -> None:
    require(value in ACTIVATIONS, key, value, f"one of {ACTIVATIONS}")
