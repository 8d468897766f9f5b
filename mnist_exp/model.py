"""Build the network, its optimizer and its loss from their config subtrees. No IO."""

from __future__ import annotations

import keras

from mnist_exp.config import LossConfig, ModelConfig, OptimizerConfig

OPTIMIZERS = {
    "rmsprop": keras.optimizers.RMSprop,
    "adam": keras.optimizers.Adam,
    "sgd": keras.optimizers.SGD,
}


def build_model(cfg: ModelConfig, input_dim: int, n_classes: int) -> keras.Model:
    """784 -> [Dense(units, activation) -> Dropout?] x layers -> Dense(n_classes, softmax)."""
    inputs = keras.Input(shape=(input_dim,), name="pixels")
    x = inputs
    for i in range(1, cfg.layers + 1):
        x = keras.layers.Dense(cfg.units, activation=cfg.activation, name=f"hidden_{i}")(x)
        if cfg.dropout > 0:
            x = keras.layers.Dropout(cfg.dropout, name=f"dropout_{i}")(x)
    # float32 output even under a mixed precision policy: a stable softmax and loss.
    outputs = keras.layers.Dense(
        n_classes, activation="softmax", dtype="float32", name="classes"
    )(x)
    return keras.Model(inputs, outputs, name=cfg.name)


def build_optimizer(
    cfg: OptimizerConfig, learning_rate: float | None = None
) -> keras.optimizers.Optimizer:
    """The configured optimizer; learning_rate overrides the config's (replica scaling)."""
    kwargs = cfg.keras_kwargs()
    if learning_rate is not None:
        kwargs["learning_rate"] = learning_rate
    return OPTIMIZERS[cfg.name](**kwargs)


def build_loss(cfg: LossConfig, one_hot: bool | None = None) -> keras.losses.Loss:
    """The configured loss, for labels encoded as `one_hot` says (default: as the loss
    names them). Categorical cross-entropy on class ids is its sparse form: same values."""
    if cfg.one_hot if one_hot is None else one_hot:
        return keras.losses.CategoricalCrossentropy()
    return keras.losses.SparseCategoricalCrossentropy()
