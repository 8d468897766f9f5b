"""Process-wide TensorFlow settings: threads, seeds, determinism. Call once, before training.

How many threads a sweep job takes follows from what its launcher's config declares:
  n_jobs                    jobs run at once on this machine (joblib: -1 is one per
                            core, -2 all cores but one), sharing its cores;
  num_cpus, cpus_per_task   the CPUs the launcher gives each job (ray, submitit);
nothing of these (the basic launcher): one job at a time, with every usable core. A
new launcher whose config declares either works as they do; training.threads=N wins.
One launcher says nothing in its config but starts every job of a batch at once on
this machine: submitit's local one, listed in BATCH_AT_ONCE.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

JOBS_AT_ONCE = "n_jobs"
ARRAY_AT_ONCE = "array_parallelism"  # submitit: tasks of a job array running at once
CPUS_PER_JOB = ("num_cpus", "cpus_per_task")
BATCH_AT_ONCE = ("hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher",)


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def parallel_jobs(launcher: Mapping[str, Any], sweeper: Mapping[str, Any] | None = None) -> int:
    """How many sweep jobs share this machine's usable cores at once, this one included:
    the launcher's n_jobs, never more than the sweeper hands over in one batch
    (Optuna's n_jobs trials times its repeats, or the basic sweeper's max_batch_size
    jobs)."""
    jobs = local_jobs(launcher)
    if jobs is None:
        return 1
    sweeper = sweeper or {}
    # What a sweeper hands over at once: the basic one's max_batch_size, Optuna's n_jobs
    # trials of `repeats` jobs each.
    batch = sweeper.get("max_batch_size") if "max_batch_size" in sweeper else sweeper.get("n_jobs")
    if isinstance(batch, int) and isinstance(sweeper.get("repeats"), int):
        batch *= max(1, sweeper["repeats"])
    return min(jobs, batch) if isinstance(batch, int) and batch >= 1 else jobs


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def local_jobs(launcher: Mapping[str, Any]) -> int | None:
    """The jobs the launcher runs at once on this machine, where its config says (n_jobs;
    submitit's local launcher: a whole batch); None: one at a time, or elsewhere."""
    if launcher.get("_target_") in BATCH_AT_ONCE:
        return usable_cores()  # at least as many as there are cores, it does not say
    n_jobs = _count(launcher.get(JOBS_AT_ONCE))
    if not n_jobs:
        return None
    return max(1, n_jobs if n_jobs > 0 else usable_cores() + 1 + n_jobs)


def jobs_at_once(launcher: Mapping[str, Any]) -> int | None:
    """The jobs the launcher runs at once, on this machine or a cluster's (submitit's
    array_parallelism); None where its config does not say (the basic launcher: one at
    a time; Ray: as many as the cluster's CPUs take)."""
    found = local_jobs(launcher)
    if found is None:
        found = _count(launcher.get(ARRAY_AT_ONCE))
    return found if found and found > 0 else None


def cpus_per_job(launcher: Mapping[str, Any]) -> int | None:
    """The CPUs the launcher gives each job, where its config says (num_cpus: 0.5 is
    one thread); None where it does not (the job's CPU affinity is then its share)."""
    for name in CPUS_PER_JOB:
        cpus = launcher.get(name)
        if isinstance(cpus, int | float) and not isinstance(cpus, bool) and cpus > 0:
            return max(1, int(cpus))
    return None


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
    """Apply the settings; returns the number of intra-op threads in use
    (threads=None: job_threads)."""
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
