"""The speed options of training.*: steps per call into TensorFlow, and XLA.

None of them changes the data order or the model's results beyond float rounding;
benchmarks/ measures what each one brings.
"""

from __future__ import annotations

import logging

from mnist_exp.config.schema import TrainingConfig
from mnist_exp.errors import ConfigError

log = logging.getLogger(__name__)

# XLA's train step is faster than the graph's, but compiling it takes a second or so:
# it pays for runs of about this many steps (the tutorial's 5 epochs are 2,345).
# benchmarks/README.md measures both sides.
XLA_MIN_STEPS = 2_000


# Layers whose XLA CPU kernels can be far slower than the graph's (benchmarks/README.md):
# convolutions always; dropout in some layouts (one hidden layer: 5-9x per epoch).
SLOW_UNDER_XLA = frozenset({"conv", "dropout"})


def use_xla(training: TrainingConfig, train_steps: int, kinds: frozenset = frozenset()) -> bool:
    """training.jit_compile, or for null (automatic) whether the run is long enough.

    train_steps counts the whole run's steps, all epochs: a resumed run decides as
    the run it continues did, and so computes with the same kernels. Never, unless
    asked for, for a model with layers of SLOW_UNDER_XLA (`kinds`: layer_kinds)."""
    if training.jit_compile is not None:
        return training.jit_compile
    # As Keras' own "auto": no XLA under a tf.distribute strategy (it is not tested here).
    long_enough = train_steps >= XLA_MIN_STEPS
    return training.strategy == "default" and long_enough and not kinds & SLOW_UNDER_XLA


def layer_kinds(model) -> frozenset[str]:
    """Which kinds of layers that XLA treats apart the model has: conv, pool, dropout."""
    import keras

    kinds = set()
    for layer in getattr(model, "layers", []):
        if isinstance(layer, keras.layers.Conv2D | keras.layers.DepthwiseConv2D):
            kinds.add("conv")
        if isinstance(layer, keras.layers.MaxPooling2D):
            kinds.add("pool")
        if isinstance(layer, keras.layers.Dropout) and layer.rate > 0:
            kinds.add("dropout")
    return frozenset(kinds)


def tensor_loop(training: TrainingConfig) -> bool:
    """Whether training/tensor_loop.py trains (training.loop=tensors), or Keras' fit:
    always under a tf.distribute strategy, whose replicas the loop does not feed."""
    if training.loop == "tensors" and training.strategy != "default":
        log.info("training.loop=keras with training.strategy=%s", training.strategy)
        return False
    return training.loop == "tensors"


def jit_compile(training: TrainingConfig, train_steps: int, model=None) -> bool:
    """use_xla, less where Keras forbids it: with op determinism on GPUs.

    Keras refuses jit_compile while TensorFlow's op determinism is on, because some
    GPU kernels have no deterministic XLA version. XLA's CPU kernels are deterministic
    (the same seed gives the same history: tests/test_speed_options.py), so on a
    machine without GPUs XLA is used as configured; with GPUs Keras' rule stands.
    The gradient of max pooling has no deterministic XLA version on any device.
    """
    import tensorflow as tf

    kinds = layer_kinds(model)
    jit = use_xla(training, train_steps, kinds)
    if jit and training.deterministic and "pool" in kinds:
        raise ConfigError(
            "training.jit_compile=true is not allowed with training.deterministic=true for "
            "a model with max pooling: XLA has no deterministic gradient of it; set "
            "training.deterministic=false, or leave training.jit_compile=null"
        )
    if jit and training.deterministic and tf.config.list_logical_devices("GPU"):
        log.info("jit_compile is off: Keras does not combine XLA with op determinism on GPUs")
        return False
    return jit


def steps_per_execution(training: TrainingConfig) -> int:
    """training.steps_per_execution, but 1 under a tf.distribute strategy: Keras'
    multi-step loop fails with MirroredStrategy (a placeholder left unfed)."""
    if training.strategy != "default" and training.steps_per_execution > 1:
        log.info("steps_per_execution=1 with training.strategy=%s", training.strategy)
        return 1
    return training.steps_per_execution


def apply(model, training: TrainingConfig, train_steps: int) -> None:
    """Set steps per execution and XLA on a compiled (or freshly loaded) model.

    XLA compiles the full-batch train step only: that is where nearly all of fit's
    time goes. Each batch shape costs a compilation, so the epoch's last, partial
    batch, evaluation and prediction (a few dozen batches) run as TensorFlow graphs.
    (For training.loop=keras; TensorLoop does the same for the tensors loop.)
    """
    jit = jit_compile(training, train_steps, model)
    model.steps_per_execution = steps_per_execution(training)
    model.jit_compile = False  # Keras' own switch: it would compile every function
    model.train_function = model.test_function = model.predict_function = None
    if jit:
        model.train_step = full_batches_compiled(model.train_step, training.batch_size)


def full_batches_compiled(train_step, batch_size: int):
    """train_step, XLA-compiled for batches of batch_size, as it was for any other."""
    import tensorflow as tf

    compiled = tf.function(train_step, jit_compile=True, autograph=False)  # as tensor_loop.py

    def step(data):
        size = tf.shape(tf.nest.flatten(data)[0])[0]
        return tf.cond(tf.equal(size, batch_size), lambda: compiled(data), lambda: train_step(data))

    return step
