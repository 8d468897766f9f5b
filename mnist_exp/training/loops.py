"""The two training loops behind one interface: fit(...) and evaluate(x, y).

training.loop=tensors (tensor_loop.py) runs blocks of steps over in-memory tensors;
training.loop=keras is Keras' own fit and evaluate, with the speed options applied.
"""

from __future__ import annotations

from typing import Protocol

from mnist_exp.config.schema import TrainingConfig
from mnist_exp.models.inference import EVAL_BATCH
from mnist_exp.training import speed


class Loop(Protocol):
    def fit(
        self, x, y, *, epochs: int, initial_epoch: int, validation_data: tuple, callbacks: list
    ) -> None: ...

    def evaluate(self, x, y) -> dict[str, float]: ...


class KerasLoop:
    """training.loop=keras: model.fit and model.evaluate."""

    def __init__(self, model, training: TrainingConfig, train_steps: int) -> None:
        speed.apply(model, training, train_steps)
        self.model = model
        self.training = training

    def fit(self, x, y, *, epochs, initial_epoch, validation_data, callbacks) -> None:
        self.model.fit(
            x,
            y,
            batch_size=self.training.batch_size,
            epochs=epochs,
            initial_epoch=initial_epoch,
            validation_data=validation_data,
            validation_batch_size=EVAL_BATCH,  # same mean, fewer calls
            shuffle=self.training.shuffle,
            callbacks=callbacks,
            verbose=0,
        )

    def evaluate(self, x, y) -> dict[str, float]:
        return self.model.evaluate(x, y, batch_size=EVAL_BATCH, verbose=0, return_dict=True)


def make_loop(model, training: TrainingConfig, train_steps: int) -> Loop:
    """The configured loop for a compiled (or freshly loaded) model; call it inside the
    strategy's scope. train_steps counts the whole run's steps (XLA's decision)."""
    if speed.tensor_loop(training):
        from mnist_exp.training.tensor_loop import TensorLoop

        return TensorLoop(model, training, speed.jit_compile(training, train_steps, model))
    return KerasLoop(model, training, train_steps)
