"""NumPy arrays handed to TensorFlow without a copy."""

from __future__ import annotations

import numpy as np


def as_tensor(array):
    """A TensorFlow tensor over the same memory as `array`, where that is safe.

    Keras copies NumPy inputs into TensorFlow tensors at the start of fit, evaluate
    and predict (twice the size of the training set at the peak). DLPack hands
    TensorFlow the array's memory instead; TensorFlow requires 64-byte aligned
    buffers (data/prepare.py allocates them so), so anything else is returned as is,
    for Keras to copy.
    """
    import tensorflow as tf

    if not isinstance(array, np.ndarray) or array.dtype != np.float32:
        return array
    if array.ctypes.data % 64 or not array.flags.c_contiguous or not array.flags.writeable:
        return array
    return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
