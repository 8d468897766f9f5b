"""hydra-optuna-sweeper 1.3.0, made to survive failed trials (+hparams_search=optuna).

A failed job returns NaN so that a sweep goes on. The plugin hands NaN to
optuna 2.10's ``study.tell``, which refuses it, and then refuses to record the
trial as failed too: the whole search stops. Here a NaN return becomes a failed
job before the plugin sees it, so Optuna records a FAIL trial and asks for the
next one (with ``max_failure_rate: 1.0`` in conf/hparams_search/optuna.yaml);
the sweep's summary lists the failed job and the sweep exits non-zero.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.types import HydraContext, TaskFunction
from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper as _PluginSweeper
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


class TrialFailed(Exception):
    """A job that returned NaN: its metrics.json says why."""


class OptunaSweeper(_PluginSweeper):
    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
        self.sweeper.launcher = NanAsFailure(self.sweeper.launcher)

    def sweep(self, arguments: list[str]) -> Any:
        try:
            return super().sweep(arguments)
        except ValueError as exc:  # study.best_trial when every trial failed
            if "No trials are completed yet" not in str(exc):
                raise
            log.error("no trial completed, so Optuna has no best value")
            return None


class NanAsFailure:
    """Wraps the real launcher; a job that returned NaN comes back as a failed job.

    (Not a Launcher subclass, so that Hydra's plugin scan does not list it as one.)
    """

    def __init__(self, launcher: Any) -> None:
        self.launcher = launcher

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        returns = self.launcher.launch(job_overrides, initial_job_idx)
        for number, ret in enumerate(returns, start=initial_job_idx):
            value = ret._return_value
            if ret.status == JobStatus.COMPLETED and isinstance(value, float) and math.isnan(value):
                ret.status = JobStatus.FAILED
                ret.return_value = TrialFailed(f"job {number} failed: {_reason(ret)}")
        return returns


def _reason(ret: JobReturn) -> str:
    """What the job's metrics.json says about its failure."""
    run_dir = OmegaConf.select(ret.hydra_cfg or {}, "hydra.runtime.output_dir")
    try:
        metrics = json.loads((Path(str(run_dir)) / "metrics.json").read_text())
    except (OSError, ValueError):
        return "see its metrics.json"
    return ": ".join(str(metrics[k]) for k in ("reason", "message") if metrics.get(k))
