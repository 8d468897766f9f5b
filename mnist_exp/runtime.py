"""Process-wide TensorFlow settings: threads, seeds, determinism. Call once, before training."""

from __future__ import annotations

import os


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def configure(threads: int | None, seed: int, deterministic: bool) -> int:
    """Apply the settings; returns the number of intra-op threads in use."""
    import keras
    import tensorflow as tf

    threads = threads or usable_cores()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(threads, 2))
    except RuntimeError:  # the runtime already started (a second run in one process)
        threads = tf.config.threading.get_intra_op_parallelism_threads() or threads
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    return threads
