"""What a model trains with: its optimizer and loss, built from their config subtrees
by their `_target_`s (config/targets.py)."""

from __future__ import annotations

from collections.abc import Callable

import keras

from mnist_exp.config.optimizers import OptimizerConfig
from mnist_exp.config.schema import LossConfig
from mnist_exp.config.targets import TARGETS, as_dict, instantiate_allowed
from mnist_exp.results.metrics import COMPILED

# Categorical cross-entropy on class ids is its sparse form: the same values.
ON_CLASS_IDS = {
    "keras.losses.CategoricalCrossentropy": "keras.losses.SparseCategoricalCrossentropy"
}


# The vocabulary's per-epoch metrics that Keras does not build from their name alone
# (COMPILED): Keras name -> the metric, given whether the labels are one-hot.
BUILDERS: dict[str, Callable[[bool], keras.metrics.Metric]] = {}


def compiled_metrics(one_hot: bool) -> list:
    """What compile measures: the vocabulary's per-epoch metrics, by name or built."""
    return [BUILDERS[name](one_hot) if name in BUILDERS else name for name in COMPILED]


def build_optimizer(cfg: OptimizerConfig, learning_rate=None) -> keras.optimizers.Optimizer:
    """The Keras optimizer `cfg` names, with its fields as arguments; learning_rate (a
    float, or a Keras schedule: training/schedules.py) overrides the config's."""
    run = {} if learning_rate is None else {"learning_rate": learning_rate}
    return instantiate_allowed(cfg, "optimizer", TARGETS["optimizer"], **run)


def build_loss(cfg: LossConfig, one_hot: bool | None = None) -> keras.losses.Loss:
    """The configured loss, for labels encoded as `one_hot` says (default: as the loss
    names them)."""
    on_class_ids = not (cfg.one_hot if one_hot is None else one_hot)
    spec = as_dict(cfg)
    if on_class_ids:
        spec["_target_"] = ON_CLASS_IDS.get(spec["_target_"], spec["_target_"])
    return instantiate_allowed(spec, "loss", TARGETS["loss"])


def compile_model(model, optimizer: OptimizerConfig, loss: LossConfig, learning_rate, one_hot):
    """learning_rate: a float, or a Keras schedule (training/schedules.py)."""
    model.compile(
        optimizer=build_optimizer(optimizer, learning_rate),
        loss=build_loss(loss, one_hot),
        metrics=compiled_metrics(one_hot),
        jit_compile=False,  # the loops set XLA and steps_per_execution (speed.py)
    )
