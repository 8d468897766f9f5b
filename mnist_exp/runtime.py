"""Process-wide TensorFlow settings: threads, seeds, determinism. Call once, before training."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def parallel_jobs(
    launcher: Mapping[str, Any] | None = None, sweeper: Mapping[str, Any] | None = None
) -> int:
    """How many sweep jobs run at once, this one included (1 outside a parallel launcher).

    Reads the job's Hydra config by default. The joblib launcher runs n_jobs at once
    (-1: one per core, -2: all cores but one, as in joblib), but never more than the
    sweeper hands it in one batch: Optuna's n_jobs trials, or the basic sweeper's
    max_batch_size jobs.
    """
    if launcher is None:
        from hydra.core.hydra_config import HydraConfig

        if not HydraConfig.initialized():
            return 1
        launcher, sweeper = HydraConfig.get().launcher, HydraConfig.get().sweeper
    n_jobs = launcher.get("n_jobs") if "joblib" in str(launcher.get("_target_", "")) else None
    if not isinstance(n_jobs, int) or n_jobs == 0:
        return 1
    jobs = max(1, n_jobs if n_jobs > 0 else usable_cores() + 1 + n_jobs)
    sweeper = sweeper or {}
    optuna = "optuna" in str(sweeper.get("_target_", "")).lower()
    batch = sweeper.get("n_jobs") if optuna else sweeper.get("max_batch_size")
    return min(jobs, batch) if isinstance(batch, int) and batch >= 1 else jobs


def automatic_threads(jobs: int = 1) -> int:
    """The usable cores shared among `jobs` parallel jobs, so that they don't fight."""
    return max(1, usable_cores() // max(1, jobs))


def configure(threads: int | None, seed: int, deterministic: bool) -> int:
    """Apply the settings; returns the number of intra-op threads in use.

    threads=None is automatic: this process's cores, divided among the sweep
    jobs that the launcher runs in parallel.
    """
    import keras
    import tensorflow as tf

    threads = threads or automatic_threads(parallel_jobs())
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(threads, 2))
    except RuntimeError:  # the runtime already started (a second run in one process)
        threads = tf.config.threading.get_intra_op_parallelism_threads() or threads
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    return threads
