"""Where a training step's time goes on TensorFlow: the math, the step, the input
pipeline, and what Keras' fit loop adds around them, in milliseconds per step.

Each part is timed over one epoch's worth of steps (batch 128), round-robin with the
others so that a busy machine slows them all alike; the minimum over rounds is the
least disturbed figure. The model is mnist-exp's default (784-512-10, RMSprop).

Usage: python -m benchmarks.profile_step DATA RESULT_JSON [ROUNDS]
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from rich.console import Console  # noqa: E402

from benchmarks.datasets import load_raw  # noqa: E402
from mnist_exp.config.schema import TrainingConfig  # noqa: E402
from mnist_exp.training import speed  # noqa: E402
from mnist_exp.training.callbacks.progress import RichProgress  # noqa: E402
from mnist_exp.training.tensor_loop import TensorLoop  # noqa: E402
from mnist_exp.training.threads import usable_cores  # noqa: E402

BATCH = 128
TUTORIAL_STEPS = 469 * 5  # the tutorial's run: 60,000 images in batches of 128, 5 epochs


def build() -> keras.Model:
    keras.utils.set_random_seed(42)
    inputs = keras.Input((784,))
    hidden = keras.layers.Dense(512, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(hidden))
    model.compile(
        optimizer=keras.optimizers.RMSprop(),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=False,
    )
    return model


def in_graph_loop(body, steps: int, carry=0.0):
    """A tf.function that runs carry = body(i, carry) `steps` times in one call.

    No Python per step; the carried value depends on every step, so that TensorFlow
    cannot prune a step whose result would otherwise go unused."""

    @tf.function
    def loop():
        def step(i, value):
            return i + 1, body(i, value)

        start = tf.nest.map_structure(tf.convert_to_tensor, carry)
        return tf.while_loop(lambda i, _: i < steps, step, [tf.constant(0), start])

    return loop


def total(logs) -> tf.Tensor:
    """One float from a step's outputs (a dict of metrics or a batch), to carry along."""
    first = tf.nest.flatten(logs)[0]
    return tf.cast(tf.reshape(first, [-1])[0], tf.float32)


def parts(x: np.ndarray, y: np.ndarray) -> tuple[dict, int]:
    """name -> a callable that runs one epoch's worth of steps of that part."""
    from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter

    steps = len(y) // BATCH
    x_all, y_all = tf.constant(x), tf.constant(y)
    xb, yb = x_all[:BATCH], y_all[:BATCH]
    w = tf.constant(np.random.default_rng(0).random((784, 512), dtype=np.float32))
    g = tf.constant(np.random.default_rng(1).random((BATCH, 512), dtype=np.float32))

    @tf.function(jit_compile=True)
    def matmuls(i, sums):
        xi = xb + tf.cast(i, tf.float32)  # depends on i: XLA cannot hoist it out of the loop
        forward, weight_gradient = sums
        return forward + tf.matmul(xi, w), weight_gradient + tf.matmul(xi, g, transpose_a=True)

    xla_model, graph_model = build(), build()  # XLA for the first: xla_step below
    for model in (xla_model, graph_model):
        model.fit(x[: 2 * BATCH], y[: 2 * BATCH], batch_size=BATCH, verbose=0)  # build state

    @tf.function(jit_compile=True)
    def xla_step(i, value):
        return value + total(xla_model.train_step((xb, yb)))

    def graph_step(i, value):
        return value + total(graph_model.train_step((xb, yb)))

    dataset = ArrayDataAdapter(x, y, batch_size=BATCH, shuffle=True).get_tf_dataset()

    @tf.function
    def pipeline_loop(iterator):
        def step(i, value):
            return i + 1, value + total(iterator.get_next())

        return tf.while_loop(lambda i, _: i < steps, step, [tf.constant(0), tf.constant(0.0)])

    def pipeline():
        return pipeline_loop(iter(dataset))

    sums = (tf.zeros((BATCH, 512)), tf.zeros((784, 512)))
    keras_fit = build()
    keras_options = build()
    speed.apply(keras_options, TrainingConfig(), TUTORIAL_STEPS)  # as training.loop=keras

    def epoch(model, callbacks=()):
        return lambda: model.fit(
            x_all, y_all, batch_size=BATCH, epochs=1, verbose=0, callbacks=list(callbacks)
        )

    def loop_epoch(callbacks=()):
        """One epoch of mnist-exp's default loop (TensorLoop), as a run sets it up;
        its validation set is one batch, to time the training steps."""
        defaults = TrainingConfig(batch_size=BATCH, seed=0)
        loop = TensorLoop(build(), defaults, speed.jit_compile(defaults, TUTORIAL_STEPS))
        return lambda: loop.fit(
            x_all,
            y_all,
            epochs=1,
            initial_epoch=0,
            validation_data=(xb, yb),
            callbacks=list(callbacks),
        )

    display = RichProgress(Console(), BATCH)  # live in the terminal (a pty under make bench)
    time_hooks(display)

    return {
        "matmul": in_graph_loop(matmuls, steps, sums),
        "step_xla": in_graph_loop(xla_step, steps),
        "step_graph": in_graph_loop(graph_step, steps),
        "pipeline": pipeline,
        "fit_keras_defaults": epoch(keras_fit),
        "fit_keras_options": epoch(keras_options),
        "fit_mnist_exp": loop_epoch(),
        "fit_mnist_exp_progress": loop_epoch([display]),
    }, steps


HOOKS = ("on_train_begin", "on_epoch_begin", "on_train_batch_end", "on_epoch_end", "on_train_end")
hook_seconds: dict[str, float] = {}  # time inside the progress display's hooks, by hook


def time_hooks(callback) -> None:
    """Add the time each of the callback's hooks takes to hook_seconds[hook]. The display
    draws only inside its hooks (rich's refresh thread is off), on the training
    thread, so this is what it costs fit, free of the noise between epochs."""
    for name in HOOKS:
        hook = getattr(callback, name)

        def timed(*args, _hook=hook, _name=name, **kwargs):
            started = time.perf_counter()
            try:
                return _hook(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                hook_seconds[_name] = hook_seconds.get(_name, 0.0) + elapsed

        setattr(callback, name, timed)


def main() -> None:
    data, out = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 9
    threads = usable_cores()
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(min(threads, 2))
    tf.config.experimental.enable_op_determinism()
    (x, y), _ = load_raw(data)
    x = x.reshape(len(x), 784).astype(np.float32) / 255
    y = y.astype(np.int64)
    runs, steps = parts(x, y)
    for run in runs.values():  # trace, compile, warm the caches
        run()
    hook_seconds.clear()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - started) / steps * 1000)
    defaults = TrainingConfig()
    result = {
        "steps": steps,
        "rounds": rounds,
        "threads": threads,
        "steps_per_execution": defaults.steps_per_execution,
        "jit_compile": speed.jit_compile(defaults, TUTORIAL_STEPS),
        # the display's own hooks: ms per one-epoch fit, by hook (on_train_begin and
        # on_train_end come once a run, the others every epoch)
        "progress_hooks_ms": {name: t / rounds * 1000 for name, t in hook_seconds.items()},
        "ms_per_step": {
            name: {"min": min(v), "median": statistics.median(v)} for name, v in times.items()
        },
    }
    with open(out, "w") as handle:
        json.dump(result, handle, indent=2)


if __name__ == "__main__":
    main()
