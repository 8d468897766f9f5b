"""A model's output for many inputs, batch by batch, through one traced graph."""

from __future__ import annotations

import numpy as np

EVAL_BATCH = 1024  # evaluation and prediction batch: larger is faster, same results


def predict(model, x) -> np.ndarray:
    """model.predict(x, batch_size=EVAL_BATCH, verbose=0): the model's output, from one
    graph traced for any batch size. Keras' predict traces its own step and builds a
    data pipeline first, for the same numbers (benchmarks/README.md)."""
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    call = tf.function(
        lambda batch: model(batch, training=False),
        input_signature=[tf.TensorSpec([None, *x.shape[1:]], x.dtype)],
        autograph=False,
    )
    batches = range(0, int(x.shape[0]), EVAL_BATCH)
    return np.concatenate([call(x[i : i + EVAL_BATCH]).numpy() for i in batches])
