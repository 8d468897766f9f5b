"""The Ray side of hydra/launcher=ray, imported only when a sweep launches.

The driver (the `mnist-exp -m` process) composes each job's config, as Hydra's
basic launcher does, and submits the job as a Ray task asking for the launcher's
num_cpus / num_gpus; Ray runs as many at once as its CPUs and GPUs allow. A
local instance is started on the first launch and stopped when the process exits
(an Optuna search launches many batches; one instance serves them all).
"""

from __future__ import annotations

import atexit
import functools
import logging
import math
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ray
from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import (
    JobReturn,
    JobStatus,
    configure_log,
    filter_overrides,
    run_job,
    setup_globals,
)
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

log = logging.getLogger(__name__)

# Ray's sockets live at TEMP_DIR/session_<date>_<time>_<microseconds>_<pid>/sockets/...,
# and a Unix socket's path has at most 107 bytes.
SOCKET_PATH_MAX = 107
SOCKET_SUFFIX = len("/session_2026-01-01_00-00-00_000000_4194304/sockets/plasma_store")

_link_dir: Path | None = None  # a short path to a long temp_dir, removed at exit


def launch(launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int):
    config, hydra_context = launcher.config, launcher.hydra_context
    params = launcher.params
    setup_globals()
    configure_log(config.hydra.hydra_logging, config.hydra.verbose)
    sweep_dir = Path(str(config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    start(params)
    resources = ray.cluster_resources()
    log.info(
        "Ray launcher: %d jobs, %s CPU and %s GPU each, on Ray at %s (%d nodes, %d CPUs, "
        "%d GPUs); sweep output dir: %s",
        len(job_overrides),
        params.num_cpus,
        params.num_gpus,
        ray.get_runtime_context().gcs_address,
        sum(node["Alive"] for node in ray.nodes()),  # a cluster's, by address: all of them
        resources.get("CPU", 0),
        resources.get("GPU", 0),
        sweep_dir,
    )
    options = {
        "num_cpus": params.num_cpus,
        "num_gpus": params.num_gpus,
        "max_retries": params.max_retries,
        **OmegaConf.to_container(params.remote, resolve=True),
    }
    job = ray.remote(_run_job)
    jobs = []
    for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
        log.info("\t#%d : %s", idx, " ".join(filter_overrides(overrides)))
        sweep_config = hydra_context.config_loader.load_sweep_config(config, list(overrides))
        with open_dict(sweep_config):
            sweep_config.hydra.job.id = f"job_id_for_{idx}"  # the Ray task's id, in the job
            sweep_config.hydra.job.num = idx
        ref = job.options(name=f"job{idx}", **options).remote(
            hydra_context, sweep_config, launcher.task_function, Singleton.get_state()
        )
        jobs.append((idx, sweep_config, ref))
    ray.wait([ref for _, _, ref in jobs], num_returns=len(jobs))  # all end, lost or not
    return [result(idx, sweep_config, ref) for idx, sweep_config, ref in jobs]


def _run_job(
    hydra_context: HydraContext,
    sweep_config: DictConfig,
    task_function: TaskFunction,
    singleton_state: dict[Any, Any],
) -> JobReturn:
    """One job, in a Ray worker."""
    setup_globals()
    Singleton.set_state(singleton_state)
    # Relative paths (the sweep dir, data.path) mean what they mean where the sweep
    # started; on a cluster, that directory exists where the filesystem is shared.
    cwd = Path(str(sweep_config.hydra.runtime.cwd))
    if cwd.is_dir():
        os.chdir(cwd)
    with open_dict(sweep_config):
        sweep_config.hydra.job.id = ray.get_runtime_context().get_task_id()
    HydraConfig.instance().set_config(sweep_config)
    return run_job(
        hydra_context=hydra_context,
        task_function=on_this_node(task_function, sweep_config.hydra.job.num),
        config=sweep_config,
        job_dir_key="hydra.sweep.dir",
        job_subdir_key="hydra.sweep.subdir",
    )


def on_this_node(task_function: TaskFunction, num: int) -> TaskFunction:
    """task_function, first saying which node runs the job: on a cluster, in the job's own
    log (its run directory, where Hydra's job logging writes once run_job has set it up)
    and, through Ray, in the sweep's console. A job launched again says it again."""

    @functools.wraps(task_function)
    def job(cfg: DictConfig) -> Any:
        node = ray.get_runtime_context().get_node_id()
        log.info("job %d runs on Ray node %s (%s)", num, node, ray.util.get_node_ip_address())
        return task_function(cfg)

    return job


def result(idx: int, sweep_config: DictConfig, ref: Any) -> JobReturn:
    """The job's JobReturn; a job whose worker died (kill -9, out of memory) returns NaN,
    as a failed job does, so that the others' results count and the summary lists it."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayError as exc:
        from mnist_exp.errors import first_line
        from mnist_exp.sweeps.jobs import mark_lost

        message = first_line(exc)
        log.error("job %d ended without a result: %s", idx, message)
        job_dir = Path(str(sweep_config.hydra.sweep.dir)) / str(sweep_config.hydra.sweep.subdir)
        mark_lost(job_dir, f"its Ray worker ended without a result: {message}")
        ret = JobReturn(
            overrides=list(sweep_config.hydra.overrides.task),
            working_dir=str(job_dir),
            task_name=sweep_config.hydra.job.name,
            status=JobStatus.COMPLETED,
        )
        ret.return_value = math.nan
        return ret


def start(params: DictConfig) -> None:
    """Connect to params.address, or start a local instance (stopped at exit)."""
    if ray.is_initialized():
        return
    init = OmegaConf.to_container(params.init, resolve=True)
    if params.address:
        # This process joins as a driver only; at exit Ray disconnects it (its own atexit
        # ray.shutdown stops only what this process started), and the cluster runs on.
        log.info("Connecting to the Ray cluster at %s", params.address)
        ray.init(address=params.address, **init)
    else:
        local = params.local
        temp_dir = Path(str(local.temp_dir)).absolute()
        temp_dir.mkdir(parents=True, exist_ok=True)  # its auth_token: ray_launcher.py
        options = {
            "include_dashboard": local.include_dashboard,
            "object_store_memory": local.object_store_memory,
            "num_cpus": local.num_cpus,
            "num_gpus": local.num_gpus,
        }
        options = {k: v for k, v in options.items() if v is not None}
        log.info("Starting a local Ray instance; its files: %s", temp_dir)
        atexit.register(stop)
        ray.init(address="local", _temp_dir=short_path(temp_dir), **{**options, **init})


def stop() -> None:
    global _link_dir
    ray.shutdown()
    if _link_dir is not None:
        shutil.rmtree(_link_dir, ignore_errors=True)
        _link_dir = None


def short_path(temp_dir: Path) -> str:
    """temp_dir, or a link to it short enough for the Unix sockets Ray makes in it."""
    global _link_dir
    if len(str(temp_dir)) + SOCKET_SUFFIX <= SOCKET_PATH_MAX:
        return str(temp_dir)
    _link_dir = Path(tempfile.mkdtemp(prefix="mnist-exp-ray-", dir="/tmp"))
    link = _link_dir / "r"
    link.symlink_to(temp_dir, target_is_directory=True)
    log.info("Ray's files are in %s, through the shorter path %s", temp_dir, link)
    return str(link)
