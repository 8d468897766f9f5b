"""hydra/launcher=ray: each sweep job is a Ray task, on a local Ray instance or a cluster.

Used instead of hydra-ray-launcher 1.2.2, which works with Ray 2.60 but requires
cloudpickle<3 (for its AWS launcher only): that downgrades joblib 1.6 (which needs
cloudpickle>=3) and brings boto3 and ray[default]. This one needs only `ray`.

Hydra imports this module when it scans for plugins, whether or not Ray is
installed; Ray is imported only when a sweep launches (_core.py). Its config and
values are here, as hydra/launcher=mnist_exp_ray for any Hydra app (no `from
__future__ import annotations`: Hydra's scan runs this module before it is in
sys.modules, and the dataclasses would then fail to read their string annotations).
"""

import importlib.util
import os
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from mnist_exp.adapters.hydra import store


@dataclass
class LocalRayConf:
    """The Ray instance a sweep starts when no address is given."""

    # Ray's session files, logs and auth token, relative to where you run. Ray's sockets
    # need a short path: a long one is reached through a link in /tmp.
    temp_dir: str = "outputs/ray"
    include_dashboard: bool = False
    num_cpus: Optional[int] = None  # CPUs Ray hands out to jobs; None: every usable core
    num_gpus: Optional[int] = None  # None: every visible GPU
    object_store_memory: int = 78643200  # 75 MiB, Ray's minimum: jobs pass configs and results


@dataclass
class RayLauncherConf:
    _target_: str = "hydra_plugins.mnist_exp_ray_launcher.ray_launcher.RayLauncher"
    # None: start a local Ray instance for the sweep, stopped when the sweep ends. An
    # existing cluster: auto (the one `ray start` runs on this machine), HOST:6379 or
    # ray://HOST:10001; its nodes need the app installed and the outputs folder shared at
    # the same path.
    address: Optional[str] = None
    # What each job asks Ray for: Ray runs as many jobs at once as its CPUs and GPUs allow.
    # With mnist-exp's training.threads=null, num_cpus is also the job's TensorFlow threads.
    num_cpus: float = 1
    num_gpus: float = 0
    max_retries: int = 0  # a job whose process dies is not run again by Ray
    local: LocalRayConf = field(default_factory=LocalRayConf)  # the local instance only
    init: dict[str, Any] = field(default_factory=dict)  # more ray.init() arguments
    remote: dict[str, Any] = field(default_factory=dict)  # more ray.remote() options


# A name of its own: hydra-ray-launcher's hydra/launcher=ray stays that plugin's for every
# app in the environment; mnist-exp's conf/hydra/launcher/ray.yaml names this one.
store(group="hydra/launcher", name="mnist_exp_ray", node=RayLauncherConf)


class RayLauncher(Launcher):
    def __init__(self, **params: Any) -> None:
        # Resolved now: the values as the sweep was started (a plain DictConfig, no parent).
        resolved = {
            k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v
            for k, v in params.items()
        }
        self.params = OmegaConf.create(resolved)
        self.config: Optional[DictConfig] = None
        self.hydra_context: Optional[HydraContext] = None
        self.task_function: Optional[TaskFunction] = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        try:  # before the sweep writes anything; not imported yet (see below)
            installed = importlib.util.find_spec("ray") is not None
        except (ImportError, ValueError):
            installed = False
        if not installed:
            from mnist_exp.errors import MissingPackageError

            raise MissingPackageError(
                "hydra/launcher=ray needs the ray package, which is not installed: "
                "pip install 'mnist-exp[cluster]' (or pip install 'ray>=2.60,<3')"
            )
        local_ray_environment(self.params)  # read by Ray when it is imported
        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        from . import _core

        return _core.launch(self, job_overrides, initial_job_idx)


def local_ray_environment(params: DictConfig) -> None:
    """Environment variables for Ray, set before it is imported (it reads some only then).

    No usage statistics sent to Ray's servers (Ray's opt-out); no log deduplication (it
    merges the identical lines of the jobs' result tables). A local instance uses token
    authentication with its token in local.temp_dir, not in ~/.ray/auth_token, and kept
    from sweep to sweep so that sweeps running side by side share it.
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    auth = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")
    if params.address or any(os.environ.get(name) for name in auth):
        return  # a cluster's own token, or the user's setting
    temp_dir = Path(str(params.local.temp_dir)).absolute()
    temp_dir.mkdir(parents=True, exist_ok=True)
    token = temp_dir / "auth_token"
    try:
        fd = os.open(token, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_hex(32))
    os.environ["RAY_AUTH_TOKEN_PATH"] = str(token)
    if "ray" not in sys.modules:  # else Ray turns token mode on itself, for a new instance
        os.environ["RAY_AUTH_MODE"] = "token"
