"""Sweep jobs that run one after another in one process and train the same network
with the same optimizer (seed repeats, learning rates, epochs) share the steps traced
for it: tracing Keras' train and test steps is most of a small run's first epoch.

Each job still starts as a new run starts: its model is built afresh, so its seed
draws its initial weights and its dropout generators as always; those weights and
generator states go into the kept model, whose optimizer variables go back to the
values they had when it was first built, and the job's learning rate is set. Only
the traced graph is shared; what it computes is the new job's (tested: the same
metrics and predictions as the job run alone). A run that resumes, uses a learning
rate schedule, Keras' own loop, a tf.distribute strategy or mixed precision builds
its own.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass

import numpy as np

from mnist_exp.config.schema import Config
from mnist_exp.training import speed
from mnist_exp.training.callbacks import checkpoint

log = logging.getLogger(__name__)

# What the loop reads outside its traced steps, set for each job: the rest of
# training.* is part of what must match.
PER_JOB = ("seed", "shuffle", "epochs", "progress", "threads", "xla_cache")


@dataclass
class Kept:
    key: str
    model: object
    loop: object
    optimizer_start: list[np.ndarray]  # the optimizer's variables as first built


_kept: Kept | None = None


def key_of(cfg: Config, model, rate, one_hot: bool, train_steps: int) -> str | None:
    """What two jobs must share for one to reuse the other's traced steps (None: the
    run cannot share them)."""
    training = cfg.training
    if training.loop != "tensors" or training.strategy != "default":
        return None
    if training.precision != "float32" or not isinstance(rate, float):
        return None
    shared = {k: v for k, v in asdict(training).items() if k not in PER_JOB}
    optimizer = {k: v for k, v in asdict(cfg.optimizer).items() if k != "learning_rate"}
    jit = speed.jit_compile(training, train_steps, model)
    parts = [asdict(cfg.model), optimizer, asdict(cfg.loss), shared, one_hot, jit]
    return json.dumps(parts, sort_keys=True, default=str)


def take(cfg: Config, model, rate, one_hot: bool, train_steps: int):
    """The kept (model, loop), now holding `model`'s fresh state and `rate`, when the
    last job that kept one had the same key; else None."""
    key = key_of(cfg, model, rate, one_hot, train_steps)
    if key is None or _kept is None or _kept.key != key:
        return None
    kept = _kept.model
    kept.set_weights(model.get_weights())
    checkpoint.restore_rng_states(kept, checkpoint.rng_states(model))
    for variable, value in zip(kept.optimizer.variables, _kept.optimizer_start, strict=True):
        variable.assign(value)
    kept.optimizer.learning_rate.assign(rate)
    kept.reset_metrics()
    loop = _kept.loop
    loop.seed, loop.shuffle = cfg.training.seed, cfg.training.shuffle
    log.info("reusing the steps traced for the job before (the same network and optimizer)")
    return kept, loop


def keep(cfg: Config, model, loop, rate, one_hot: bool, train_steps: int) -> None:
    """Keep a new run's compiled model and loop for the next job in this process."""
    global _kept
    key = key_of(cfg, model, rate, one_hot, train_steps)
    if key is None:
        _kept = None
        return
    model.optimizer.build(model.trainable_variables)  # as its first step would
    start = [np.array(variable.numpy()) for variable in model.optimizer.variables]
    _kept = Kept(key, model, loop, start)


def forget() -> None:
    """Let the kept model and loop go: the next run builds its own (a new Keras session)."""
    global _kept
    _kept = None
