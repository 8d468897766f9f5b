"""What a model trains with: its optimizer and loss, from their config subtrees."""

from __future__ import annotations

import keras

from mnist_exp.config.optimizers import OptimizerConfig
from mnist_exp.config.schema import LossConfig


def build_optimizer(cfg: OptimizerConfig, learning_rate=None) -> keras.optimizers.Optimizer:
    """The Keras optimizer of that name, with the config's fields as its arguments;
    learning_rate overrides the config's (replica scaling)."""
    kwargs = cfg.keras_kwargs()
    if learning_rate is not None:
        kwargs["learning_rate"] = learning_rate
    return keras.optimizers.get({"class_name": cfg.name, "config": kwargs})


def build_loss(cfg: LossConfig, one_hot: bool | None = None) -> keras.losses.Loss:
    """The configured loss, for labels encoded as `one_hot` says (default: as the loss
    names them). Categorical cross-entropy on class ids is its sparse form: same values."""
    if cfg.one_hot if one_hot is None else one_hot:
        return keras.losses.CategoricalCrossentropy()
    return keras.losses.SparseCategoricalCrossentropy()


def compile_model(model, optimizer: OptimizerConfig, loss: LossConfig, learning_rate, one_hot):
    """learning_rate: a float, or a Keras schedule (training/schedules.py)."""
    model.compile(
        optimizer=build_optimizer(optimizer, learning_rate),
        loss=build_loss(loss, one_hot),
        metrics=["accuracy"],
        jit_compile=False,  # the loops set XLA and steps_per_execution (speed.py)
    )
