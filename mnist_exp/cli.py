"""The `mnist-exp` command: a thin Hydra entry around train.run.

TensorFlow is imported only once a run really starts, so `--help`, `--cfg job`
and config errors answer at once.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow C++ logs: noise to a user
os.environ.setdefault("MPLBACKEND", "Agg")  # plots are files; no display needed

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from hydra.types import RunMode  # noqa: E402
from omegaconf import DictConfig  # noqa: E402
from rich.console import Console  # noqa: E402

from mnist_exp.config import register, to_settings  # noqa: E402
from mnist_exp.errors import ConfigError, UserError, describe_failure  # noqa: E402

register()
log = logging.getLogger("mnist_exp")


@hydra.main(version_base="1.3", config_path="pkg://mnist_exp.conf", config_name="config")
def main(cfg: DictConfig) -> float:
    """One run. In a sweep a failed job returns NaN so that the others go on;
    its metrics.json says why, and the sweep's summary lists it."""
    hydra_cfg = HydraConfig.get()
    in_sweep = hydra_cfg.mode == RunMode.MULTIRUN
    run_dir = Path(hydra_cfg.runtime.output_dir)
    try:
        settings = to_settings(cfg)
    except ConfigError as exc:  # before training: the run directory only says why
        from mnist_exp.artifacts import record_status

        record_status(run_dir, "failed", reason=exc.reason, message=str(exc))
        return fail(str(exc), in_sweep)
    try:
        from mnist_exp.train import run  # TensorFlow is imported from here on

        metrics = run(settings, run_dir, Console())
    except UserError as exc:  # train.run has recorded it in metrics.json
        return fail(str(exc), in_sweep)
    except Exception as exc:
        if not in_sweep:
            raise
        log.exception("job %s failed", hydra_cfg.job.num)
        return fail(describe_failure(exc)[1], in_sweep)
    return metrics[settings.optimized_metric]


def fail(message: str, in_sweep: bool) -> float:
    """One line on stderr; exit 2 for a single run, NaN for a sweep job so others go on."""
    print_error(message)
    if in_sweep:
        return float("nan")
    sys.exit(2)


def print_error(message: str) -> None:
    Console(stderr=True).print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
