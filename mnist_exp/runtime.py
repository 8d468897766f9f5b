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
    """How many sweep jobs share this machine's usable cores at once, this one included
    (1 outside a parallel launcher, and where each job has CPUs of its own: cpus_per_job).

    Reads the job's Hydra config by default. The joblib launcher runs n_jobs at once
    (-1: one per core, -2: all cores but one, as in joblib); submitit_local starts every
    job of a batch at once (counted as one per core: it does not say how many). Never
    more than the sweeper hands over in one batch: Optuna's n_jobs trials, or the basic
    sweeper's max_batch_size jobs.
    """
    if launcher is None:
        launcher, sweeper = _hydra_plugins()
        if launcher is None:
            return 1
    target = str(launcher.get("_target_", ""))
    if "joblib" in target:
        n_jobs = launcher.get("n_jobs")
        if not isinstance(n_jobs, int) or n_jobs == 0:
            return 1
        jobs = max(1, n_jobs if n_jobs > 0 else usable_cores() + 1 + n_jobs)
    elif target.endswith("submitit_launcher.LocalLauncher"):
        jobs = usable_cores()
    else:
        return 1
    sweeper = sweeper or {}
    optuna = "optuna" in str(sweeper.get("_target_", "")).lower()
    batch = sweeper.get("n_jobs") if optuna else sweeper.get("max_batch_size")
    return min(jobs, batch) if isinstance(batch, int) and batch >= 1 else jobs


def cpus_per_job(launcher: Mapping[str, Any]) -> int | None:
    """The CPUs a launcher gives each job, where it says: Ray's num_cpus (hydra/launcher=ray,
    1 by default) and submitit's cpus_per_task (submitit_slurm, submitit_local, slurm).
    None for the others (basic, joblib) and an unset cpus_per_task: on SLURM the job's
    CPU affinity (usable_cores) is then its allocation."""
    target = str(launcher.get("_target_", ""))
    if "ray_launcher" in target:
        cpus = launcher.get("num_cpus", 1)
    elif "submitit_launcher" in target:
        cpus = launcher.get("cpus_per_task")
    else:
        return None
    return max(1, int(cpus)) if isinstance(cpus, int | float) and cpus > 0 else None


def job_threads(
    launcher: Mapping[str, Any] | None = None, sweeper: Mapping[str, Any] | None = None
) -> int:
    """TensorFlow threads for one job with training.threads=null (automatic): the CPUs its
    launcher gives it, else the usable cores shared among the jobs running beside it."""
    if launcher is None:
        launcher, sweeper = _hydra_plugins()
        if launcher is None:
            return automatic_threads(1)
    cpus = cpus_per_job(launcher)
    if cpus is not None:
        return min(cpus, usable_cores())
    return automatic_threads(parallel_jobs(launcher, sweeper))


def _hydra_plugins() -> tuple[Any, Any]:
    """This job's launcher and sweeper configs; (None, None) outside Hydra."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None, None
    return HydraConfig.get().launcher, HydraConfig.get().sweeper


def automatic_threads(jobs: int = 1) -> int:
    """The usable cores shared among `jobs` parallel jobs, so that they don't fight."""
    return max(1, usable_cores() // max(1, jobs))


def configure(threads: int | None, seed: int, deterministic: bool) -> int:
    """Apply the settings; returns the number of intra-op threads in use.

    threads=None is automatic: the CPUs the launcher gives each job (Ray's num_cpus,
    submitit's cpus_per_task), else this process's cores divided among the sweep jobs
    that the launcher runs in parallel.
    """
    import keras
    import tensorflow as tf

    threads = threads or job_threads()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(threads, 2))
    except RuntimeError:  # the runtime already started (a second run in one process)
        threads = tf.config.threading.get_intra_op_parallelism_threads() or threads
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    return threads
