"""The training loop of training.loop=tensors: Keras' fit, without its input pipeline.

The data stay in memory as tensors. Each call into TensorFlow runs a block of
training.steps_per_execution steps in one graph loop: gather a batch by the epoch's
shuffled indices, then the model's own train_step, XLA-compiled where
speed.use_xla says so. Validation and the final test evaluation run the model's
test_step the same way. Keras' fit instead pulls every step through tf.data
iterators, optionals and conditionals around the compiled step, which on a small
model costs more than the step (benchmarks/README.md).

Callbacks get what fit gives them: params (epochs, steps), on_train_begin, on_epoch_begin,
on_train_batch_begin/end once per block with the running loss and metrics,
on_epoch_end with the val_ metrics, on_train_end; model.stop_training is honoured
after each block, and the epoch is then closed as fit closes it.

The shuffled order of an epoch depends on training.seed and the epoch number only, so
a resumed run trains on exactly the batches the uninterrupted run would have.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from mnist_exp.config.schema import TrainingConfig
from mnist_exp.models.inference import EVAL_BATCH


def epoch_order(n: int, epoch: int, seed: int, shuffle: bool) -> np.ndarray:
    """The example indices of one epoch, in training order."""
    if not shuffle:
        return np.arange(n, dtype=np.int32)
    return np.random.default_rng([seed, epoch]).permutation(n).astype(np.int32)


class TensorLoop:
    """A compiled model's train and test steps, looped over in-memory tensors."""

    def __init__(self, model: keras.Model, training: TrainingConfig, jit_compile: bool) -> None:
        self.model = model
        self.batch_size = batch_size = training.batch_size
        self.seed, self.shuffle = training.seed, training.shuffle
        self.steps_per_execution = training.steps_per_execution
        # autograph=False throughout: the loops are tf.while_loop already, and Keras'
        # steps need no conversion (Keras traces its own without it); converting them
        # would add to every run's first epoch.
        step = model.train_step
        full_step = tf.function(step, jit_compile=True, autograph=False) if jit_compile else step
        self._evaluate = None
        # Without XLA one traced loop takes the epoch's last, smaller batch too (a batch
        # is a slice of the order, of whatever length is left); XLA compiles for one
        # shape, so that batch then has a function of its own, `partial`.
        self.whole_order = not jit_compile

        @tf.function(autograph=False)
        def train(x, y, order, start, stop):
            """Batches number start to stop - 1 of the epoch's order."""

            def body(i):
                index = order[i * batch_size : (i + 1) * batch_size]
                full_step((tf.gather(x, index), tf.gather(y, index)))
                return (i + 1,)

            tf.while_loop(lambda i: i < stop, body, (start,))
            return model.get_metrics_result()

        @tf.function(autograph=False)
        def partial(x, y, order, first):
            """The epoch's last, smaller batch: from `first` to the end of the order."""
            index = order[first:]
            model.train_step((tf.gather(x, index), tf.gather(y, index)))
            return model.get_metrics_result()

        self._train, self._partial = train, partial

    def train_block(self, x, y, order: tf.Tensor, start: int, stop: int) -> dict[str, float]:
        """Train steps start to stop - 1 of an epoch; the running metrics after them."""
        n = int(order.shape[0])
        full = n // self.batch_size
        if self.whole_order:
            logs = self._train(x, y, order, tf.constant(start), tf.constant(stop))
            return {name: float(value) for name, value in logs.items()}
        logs = None
        if start < min(stop, full):
            logs = self._train(x, y, order, tf.constant(start), tf.constant(min(stop, full)))
        if stop > full and n % self.batch_size:
            logs = self._partial(x, y, order, tf.constant(full * self.batch_size))
        return {name: float(value) for name, value in logs.items()}

    def evaluate(self, x, y) -> dict[str, float]:
        """The loss and metrics on (x, y), in batches of EVAL_BATCH, as model.evaluate."""
        if self._evaluate is None:
            model = self.model
            signature = [
                tf.TensorSpec([None, *x.shape[1:]], x.dtype),
                tf.TensorSpec([None, *y.shape[1:]], y.dtype),
            ]

            @tf.function(input_signature=signature, autograph=False)
            def evaluate(x, y):
                n = tf.shape(x)[0]

                def body(i):
                    model.test_step((x[i : i + EVAL_BATCH], y[i : i + EVAL_BATCH]))
                    return (i + EVAL_BATCH,)

                tf.while_loop(lambda i: i < n, body, (tf.constant(0),))
                return model.get_metrics_result()

            self._evaluate = evaluate
        self.model.reset_metrics()
        logs = self._evaluate(tf.convert_to_tensor(x), tf.convert_to_tensor(y))
        return {name: float(value) for name, value in logs.items()}

    def fit(
        self,
        x,
        y,
        *,
        epochs: int,
        initial_epoch: int,
        validation_data: tuple,
        callbacks: list,
    ) -> None:
        """Train as model.fit(x, y, batch_size, epochs, initial_epoch, validation_data,
        shuffle, callbacks, verbose=0) does, with the epoch order of epoch_order()."""
        model = self.model
        x, y = tf.convert_to_tensor(x), tf.convert_to_tensor(y)
        steps = math.ceil(int(x.shape[0]) / self.batch_size)
        listed = keras.callbacks.CallbackList(
            callbacks,
            add_history=True,
            add_progbar=False,
            model=model,
            verbose=0,
            epochs=epochs,
            steps=steps,
        )
        model.stop_training = False
        listed.on_train_begin()
        logs = None
        for epoch in range(initial_epoch, epochs):
            logs = self._epoch(listed, x, y, epoch, steps)
            epoch_logs = self.evaluate(*validation_data)
            logs.update({f"val_{name}": value for name, value in epoch_logs.items()})
            listed.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
        listed.on_train_end(logs=logs)

    def _epoch(self, listed, x, y, epoch: int, steps: int) -> dict[str, float]:
        """One epoch's blocks of steps, until its end or a callback's stop."""
        self.model.reset_metrics()
        listed.on_epoch_begin(epoch)
        order = tf.constant(epoch_order(int(x.shape[0]), epoch, self.seed, self.shuffle))
        logs: dict[str, float] = {}
        for start in range(0, steps, self.steps_per_execution):
            stop = min(start + self.steps_per_execution, steps)
            listed.on_train_batch_begin(start)
            logs = self.train_block(x, y, order, start, stop)
            listed.on_train_batch_end(stop - 1, logs)
            if self.model.stop_training:
                break
        return dict(logs)
