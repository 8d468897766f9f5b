"""callbacks=[reduce_lr_on_plateau]: Keras' ReduceLROnPlateau, with its counters kept
in the run's checkpoints (the learning rate itself is in the optimizer's state)."""

from __future__ import annotations

import keras

from mnist_exp.training.callbacks.checkpoint import Resumable


class ReduceLROnPlateau(Resumable, keras.callbacks.ReduceLROnPlateau):
    STATE = ("wait", "cooldown_counter", "best")
